/**
 * The TPM's side of credential activation (TPM2_ActivateCredential, TPM 2.0
 * Part 3 §12.5), in software, for round-trip tests. It needs the EK's private
 * key, which only tests have.
 */
import * as nodeCrypto from "node:crypto";
import { aesCfbDecrypt, ByteReader, bytesEqual, digestSize, type HashAlg, hmac } from "@veritee/core";
import { kdfA, kdfE } from "../../src/credential/kdf.js";
import { decodeIdObject } from "../../src/credential/tpm2-tools-file.js";

export interface SoftwareEk {
  privateKey: nodeCrypto.KeyObject;
  nameAlg: HashAlg;
  symBits: 128 | 192 | 256;
}

function recoverSeed(ek: SoftwareEk, encryptedSecret: Uint8Array): Uint8Array {
  if (ek.privateKey.asymmetricKeyType === "rsa") {
    return new Uint8Array(
      nodeCrypto.privateDecrypt(
        {
          key: ek.privateKey,
          padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: ek.nameAlg,
          oaepLabel: Buffer.from("IDENTITY\0"),
        },
        encryptedSecret,
      ),
    );
  }
  const r = new ByteReader(encryptedSecret, "TPMS_ECC_POINT");
  const x = r.tpm2b("x");
  const y = r.tpm2b("y");
  r.end();
  const jwk = ek.privateKey.export({ format: "jwk" });
  const ephemeral = nodeCrypto.createPublicKey({
    key: { kty: "EC", crv: jwk.crv, x: Buffer.from(x).toString("base64url"), y: Buffer.from(y).toString("base64url") },
    format: "jwk",
  });
  const z = new Uint8Array(nodeCrypto.diffieHellman({ privateKey: ek.privateKey, publicKey: ephemeral }));
  const ekX = new Uint8Array(Buffer.from(jwk.x!, "base64url"));
  return kdfE(ek.nameAlg, z, "IDENTITY", x, ekX, digestSize(ek.nameAlg) * 8);
}

/** Recover the credential, or throw as the TPM would (TPM_RC_INTEGRITY etc.). */
export function activateInSoftware(
  ek: SoftwareEk,
  objectName: Uint8Array,
  credentialBlob: Uint8Array,
  encryptedSecret: Uint8Array,
): Uint8Array {
  const seed = recoverSeed(ek, encryptedSecret);
  const { integrityHmac, encIdentity } = decodeIdObject(credentialBlob);
  const empty = new Uint8Array(0);
  const hmacKey = kdfA(ek.nameAlg, seed, "INTEGRITY", empty, empty, digestSize(ek.nameAlg) * 8);
  if (!bytesEqual(hmac(ek.nameAlg, hmacKey, encIdentity, objectName), integrityHmac)) {
    throw new Error("TPM_RC_INTEGRITY");
  }
  const symKey = kdfA(ek.nameAlg, seed, "STORAGE", objectName, empty, ek.symBits);
  const plain = aesCfbDecrypt(symKey, new Uint8Array(16), encIdentity);
  const r = new ByteReader(plain, "TPM2B_DIGEST");
  const credential = r.tpm2b("credential");
  r.end();
  return credential;
}
