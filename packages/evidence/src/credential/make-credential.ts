/**
 * The verifier's half of credential activation: TPM2_MakeCredential computed
 * in software (TPM 2.0 Part 3 §12.6; the protection scheme is Part 1 §24
 * "Credential Protection"). The credential can be recovered only by a TPM that
 * holds the EK's private key *and* has an object loaded with `objectName`
 * (TPM2_ActivateCredential, Part 3 §12.5), which binds an AK to an EK.
 */
import {
  aesCfbEncrypt,
  ByteWriter,
  digestSize,
  ecdhEphemeral,
  type HashAlg,
  hashAlgFromTpm,
  hmac,
  importPublicJwk,
  importPublicSpki,
  MalformedError,
  randomBytes,
  rsaOaepEncrypt,
} from "@veritee/core";
import { kdfA, kdfE } from "./kdf.js";

/** The EK's symmetric algorithm (its TPMT_SYM_DEF_OBJECT); TCG EK templates use AES-128-CFB. */
export interface CredentialSymmetric {
  readonly alg: "aes";
  readonly bits: 128 | 192 | 256;
}

/** The protector's (EK's) public key, as the verifier knows it (e.g. from its EK certificate and template). */
export type CredentialProtector =
  | {
      readonly kind: "rsa";
      /** The EK's public key: a JWK or DER SubjectPublicKeyInfo. */
      readonly publicKey: { readonly jwk: JsonWebKey } | { readonly spki: Uint8Array };
      /** The EK's nameAlg; also the OAEP hash, as the EK's scheme is TPM_ALG_NULL (Part 1 §B.10.3). */
      readonly nameAlg: HashAlg;
      readonly symmetric: CredentialSymmetric;
    }
  | {
      readonly kind: "ecc";
      readonly curve: "P-256" | "P-384" | "P-521";
      /** The EK's public point (TPMS_ECC_POINT), coordinates big-endian. */
      readonly x: Uint8Array;
      readonly y: Uint8Array;
      readonly nameAlg: HashAlg;
      readonly symmetric: CredentialSymmetric;
    };

/** Inputs to {@link makeCredential}. */
export interface MakeCredentialOptions {
  readonly ekPublic: CredentialProtector;
  /** The Name of the object (the AK) the credential is bound to: nameAlg ‖ H(TPMT_PUBLIC) (Part 1 §16). */
  readonly objectName: Uint8Array;
  /** The secret to protect; 1 to digestSize(ekPublic.nameAlg) bytes (Part 3 §12.6.1, TPM_RC_SIZE). */
  readonly credential: Uint8Array;
}

/**
 * The two parameters of TPM2_ActivateCredential, as structure bodies: neither
 * carries its TPM2B size prefix, which the command marshaller (or
 * {@link encodeTpm2ToolsCredential}) adds.
 */
export interface MadeCredential {
  /** The body of TPM2B_ID_OBJECT: TPM2B_DIGEST integrityHMAC ‖ encIdentity (Part 2 §12.4.3). */
  readonly credentialBlob: Uint8Array;
  /** The body of TPM2B_ENCRYPTED_SECRET: the RSA-OAEP ciphertext, or a marshalled TPMS_ECC_POINT (Part 2 §11.4.33). */
  readonly encryptedSecret: Uint8Array;
}

const CURVES = {
  "P-256": { node: "prime256v1", size: 32 },
  "P-384": { node: "secp384r1", size: 48 },
  "P-521": { node: "secp521r1", size: 66 },
} as const;

/** Labels of Part 1 §24: "IDENTITY" for the seed, "STORAGE" and "INTEGRITY" for the derived keys. */
const IDENTITY = "IDENTITY";
const EMPTY = new Uint8Array(0);

/** Validate a Name's shape: a known hash algorithm id followed by a digest of that size (Part 1 §16). */
function checkName(name: Uint8Array): void {
  if (name.length < 2) throw new MalformedError("truncated", "objectName", "shorter than an algorithm id");
  const alg = hashAlgFromTpm((name[0]! << 8) | name[1]!);
  if (!alg) throw new MalformedError("unsupported", "objectName", "unknown name algorithm");
  if (name.length !== 2 + digestSize(alg)) throw new MalformedError("bad-length", "objectName", "digest size");
}

function padCoordinate(c: Uint8Array, size: number, what: string): Uint8Array {
  let start = 0;
  while (start < c.length - size && c[start] === 0) start++;
  const v = c.subarray(start);
  if (v.length > size) throw new MalformedError("bad-length", what, `longer than ${size} bytes`);
  const out = new Uint8Array(size);
  out.set(v, size - v.length);
  return out;
}

/**
 * Derive a fresh seed and encrypt it to the EK (Part 1 §24.3 and Annex B/C,
 * "secret sharing"): RSA-OAEP with label "IDENTITY\0", or one-pass ECDH with
 * an ephemeral key followed by KDFe.
 */
async function shareSeed(ek: CredentialProtector): Promise<{ seed: Uint8Array; encryptedSecret: Uint8Array }> {
  const seedBits = digestSize(ek.nameAlg) * 8;
  if (ek.kind === "rsa") {
    const key = "jwk" in ek.publicKey ? importPublicJwk(ek.publicKey.jwk) : importPublicSpki(ek.publicKey.spki);
    const seed = randomBytes(seedBits / 8);
    const label = new TextEncoder().encode(`${IDENTITY}\0`);
    return { seed, encryptedSecret: await rsaOaepEncrypt(key, ek.nameAlg, label, seed) };
  }
  const curve = CURVES[ek.curve];
  const x = padCoordinate(ek.x, curve.size, "ekPublic.x");
  const y = padCoordinate(ek.y, curve.size, "ekPublic.y");
  const peer = new Uint8Array(1 + 2 * curve.size);
  peer[0] = 0x04;
  peer.set(x, 1);
  peer.set(y, 1 + curve.size);
  // ecdhEphemeral rejects a point that is not on the curve.
  const { publicPoint, sharedX } = await ecdhEphemeral(curve.node, peer);
  const ephX = publicPoint.slice(1, 1 + curve.size);
  const ephY = publicPoint.slice(1 + curve.size);
  // Part 1 §C.6.4: seed = KDFe(nameAlg, Z.x, "IDENTITY", ephemeral.x, EK.x, digest bits).
  const seed = kdfE(ek.nameAlg, padCoordinate(sharedX, curve.size, "Z"), IDENTITY, ephX, x, seedBits);
  // The secret is the ephemeral public point, TPMS_ECC_POINT (Part 2 §11.2.5.2).
  const encryptedSecret = new ByteWriter().tpm2b(ephX).tpm2b(ephY).finish();
  return { seed, encryptedSecret };
}

/**
 * Compute TPM2_MakeCredential in software (TPM 2.0 Part 3 §12.6, Part 1
 * §24.4–§24.5):
 *
 * - symKey = KDFa(nameAlg, seed, "STORAGE", objectName, "", symBits)
 * - encIdentity = AES-CFB(symKey, IV = 0, TPM2B_DIGEST(credential))
 * - hmacKey = KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits)
 * - integrityHMAC = HMAC(nameAlg, hmacKey, encIdentity ‖ objectName)
 * - credentialBlob = TPM2B_DIGEST(integrityHMAC) ‖ encIdentity
 *
 * where nameAlg and the symmetric algorithm are the EK's. A fresh seed is
 * used on every call, so outputs differ each time. Asynchronous because
 * WebCrypto's RSA-OAEP and ECDH are (core's browser backend).
 *
 * @example
 * const { credentialBlob, encryptedSecret } = await makeCredential({
 *   ekPublic: { kind: "rsa", publicKey: { spki: ekSpki }, nameAlg: "sha256", symmetric: { alg: "aes", bits: 128 } },
 *   objectName: akName,
 *   credential: randomBytes(32),
 * });
 */
export async function makeCredential(options: MakeCredentialOptions): Promise<MadeCredential> {
  const { ekPublic, objectName, credential } = options;
  const nameAlg = ekPublic.nameAlg;
  checkName(objectName);
  if (credential.length === 0 || credential.length > digestSize(nameAlg)) {
    throw new RangeError(`credential must be 1 to ${digestSize(nameAlg)} bytes`);
  }
  if (ekPublic.symmetric.alg !== "aes" || ![128, 192, 256].includes(ekPublic.symmetric.bits)) {
    throw new RangeError("only AES-128, AES-192 and AES-256 are supported");
  }
  const { seed, encryptedSecret } = await shareSeed(ekPublic);
  const symKey = kdfA(nameAlg, seed, "STORAGE", objectName, EMPTY, ekPublic.symmetric.bits);
  const plain = new ByteWriter().tpm2b(credential).finish();
  // Part 1 §24.4: CFB mode with an IV of zeros (the key is never reused).
  const encIdentity = aesCfbEncrypt(symKey, new Uint8Array(16), plain);
  const hmacKey = kdfA(nameAlg, seed, "INTEGRITY", EMPTY, EMPTY, digestSize(nameAlg) * 8);
  const integrityHmac = hmac(nameAlg, hmacKey, encIdentity, objectName);
  const credentialBlob = new ByteWriter().tpm2b(integrityHmac).bytes(encIdentity).finish();
  return { credentialBlob, encryptedSecret };
}
