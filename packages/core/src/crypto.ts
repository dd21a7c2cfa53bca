/**
 * The one place the project touches a cryptography backend. This build uses
 * `node:crypto` (synchronous, native, the fastest path on Node); a browser
 * build swaps this module for WebCrypto through a conditional export, so every
 * caller already speaks the async signature API below.
 */
import * as nodeCrypto from "node:crypto";

// `crypto.hash` exists from Node 20.12 / 21.7; older versions fall back to createHash.
const oneShotHash = (nodeCrypto as { hash?: (alg: string, data: Uint8Array, enc: "buffer") => Buffer }).hash;

/** Hash algorithms that TPM 2.0 evidence uses (TPM 2.0 Part 2 §6.3). */
export type HashAlg = "sha1" | "sha256" | "sha384" | "sha512";

const DIGEST_SIZES: Readonly<Record<HashAlg, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** Digest size in bytes. */
export function digestSize(alg: HashAlg): number {
  return DIGEST_SIZES[alg];
}

/** Hash of the concatenation of `parts`. */
export function hash(alg: HashAlg, ...parts: readonly Uint8Array[]): Uint8Array {
  // One-shot hashing skips the Hash object's allocation: ~40% faster per
  // extend on small inputs, which dominates event-log replay.
  if (parts.length === 1 && oneShotHash) return toUint8(oneShotHash(alg, parts[0]!, "buffer"));
  const h = nodeCrypto.createHash(alg);
  for (const p of parts) h.update(p);
  return toUint8(h.digest());
}

/** HMAC of the concatenation of `parts`. */
export function hmac(alg: HashAlg, key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = nodeCrypto.createHmac(alg, key);
  for (const p of parts) h.update(p);
  return toUint8(h.digest());
}

/** Cryptographically secure random bytes. */
export function randomBytes(n: number): Uint8Array {
  return toUint8(nodeCrypto.randomBytes(n));
}

function toUint8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A public key imported once and reused for many verifications. */
export type PublicKeyHandle = nodeCrypto.KeyObject;

/** Import a public key from its JWK form (RSA `n`/`e` or EC `crv`/`x`/`y`). */
export function importPublicJwk(jwk: JsonWebKey): PublicKeyHandle {
  return nodeCrypto.createPublicKey({ key: jwk as nodeCrypto.JsonWebKey, format: "jwk" });
}

/** Import a public key from DER SubjectPublicKeyInfo. */
export function importPublicSpki(spki: Uint8Array): PublicKeyHandle {
  return nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
}

/** DER SubjectPublicKeyInfo of a public key. */
export function exportSpki(key: PublicKeyHandle): Uint8Array {
  return toUint8(key.export({ format: "der", type: "spki" }));
}

/** Signature schemes found in TPM and TEE evidence. */
export type SignatureScheme =
  | { readonly kind: "ecdsa"; readonly hash: HashAlg } // signature is r||s, each the curve's size (IEEE P1363)
  | { readonly kind: "ecdsa-der"; readonly hash: HashAlg } // signature is a DER SEQUENCE { r, s }
  | { readonly kind: "rsassa-pkcs1"; readonly hash: HashAlg }
  | { readonly kind: "rsa-pss"; readonly hash: HashAlg; readonly saltLength?: number };

/**
 * Verify `signature` over `message` (the message is hashed with the scheme's
 * hash). Returns false for a bad signature, never throws for one.
 *
 * For RSA-PSS the salt length is "auto" when not given: TPM 2.0 signs with the
 * maximum salt length (TPM 2.0 Part 1 §B.7 / FIPS 186-4 §5.5), which "auto"
 * recovers; pinning it would reject TPMs that use the digest length.
 */
export async function verifySignature(
  scheme: SignatureScheme,
  key: PublicKeyHandle,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  return verifySignatureSync(scheme, key, message, signature);
}

/** Synchronous form of {@link verifySignature}, for Node-only hot paths. */
export function verifySignatureSync(
  scheme: SignatureScheme,
  key: PublicKeyHandle,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    switch (scheme.kind) {
      case "ecdsa":
        return nodeCrypto.verify(scheme.hash, message, { key, dsaEncoding: "ieee-p1363" }, signature);
      case "ecdsa-der":
        return nodeCrypto.verify(scheme.hash, message, { key, dsaEncoding: "der" }, signature);
      case "rsassa-pkcs1":
        return nodeCrypto.verify(
          scheme.hash,
          message,
          { key, padding: nodeCrypto.constants.RSA_PKCS1_PADDING },
          signature,
        );
      case "rsa-pss":
        return nodeCrypto.verify(
          scheme.hash,
          message,
          {
            key,
            padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING,
            saltLength: scheme.saltLength ?? nodeCrypto.constants.RSA_PSS_SALTLEN_AUTO,
          },
          signature,
        );
    }
  } catch {
    // A signature of the wrong shape (length, encoding) is simply not valid.
    return false;
  }
}

/** RSA-OAEP encryption with a label (used by TPM2_MakeCredential, TPM 2.0 Part 1 §24). */
export function rsaOaepEncrypt(
  key: PublicKeyHandle,
  hashAlg: HashAlg,
  label: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  return toUint8(
    nodeCrypto.publicEncrypt(
      { key, padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hashAlg, oaepLabel: Buffer.from(label) },
      data,
    ),
  );
}

/** AES-CFB (full-block feedback) encryption with a zero IV, as TPM 2.0 parameter/credential encryption uses. */
export function aesCfbEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const bits = key.length * 8;
  const cipher = nodeCrypto.createCipheriv(`aes-${bits}-cfb`, key, iv);
  return toUint8(Buffer.concat([cipher.update(data), cipher.final()]));
}

/** AES-CFB decryption (the TPM side of credential activation, used in tests). */
export function aesCfbDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const bits = key.length * 8;
  const decipher = nodeCrypto.createDecipheriv(`aes-${bits}-cfb`, key, iv);
  return toUint8(Buffer.concat([decipher.update(data), decipher.final()]));
}

/** An ephemeral ECDH key agreement on `curve`; returns our public point and the shared x-coordinate. */
export function ecdhEphemeral(
  curve: "prime256v1" | "secp384r1" | "secp521r1",
  peerPublicPoint: Uint8Array,
): { publicPoint: Uint8Array; sharedX: Uint8Array } {
  const ecdh = nodeCrypto.createECDH(curve);
  const publicPoint = toUint8(ecdh.generateKeys());
  const sharedX = toUint8(ecdh.computeSecret(peerPublicPoint));
  return { publicPoint, sharedX };
}

// Freshly generated keys are never exported from the KeyObject the
// generation job made: on Node 20 a process deadlocked when the garbage
// collector destroyed a key-generation job (KeyGenJob's destructor takes the
// key's mutex) while ExportJWK on that same key held the mutex and allocated
// (seen with gdb in our test run). Keys are therefore generated with their
// encodings produced inside the job, or built from random bytes, and
// re-imported into KeyObjects of their own.

const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** A fresh X25519 key pair: the private key and the raw 32-byte public key (RFC 7748). */
export function generateX25519(): { privateKey: nodeCrypto.KeyObject; publicKey: Uint8Array } {
  const privateKey = nodeCrypto.createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, nodeCrypto.randomBytes(32)]),
    format: "der",
    type: "pkcs8",
  });
  const x = nodeCrypto.createPublicKey(privateKey).export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new Error("X25519 public key export failed");
  return { privateKey, publicKey: new Uint8Array(Buffer.from(x, "base64url")) };
}

/** A fresh ECDSA P-256 key pair: the private key and the DER SubjectPublicKeyInfo. */
export function generateP256(): { privateKey: nodeCrypto.KeyObject; spki: Uint8Array } {
  const pair = nodeCrypto.generateKeyPairSync("ec", {
    namedCurve: "P-256",
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "der" },
  });
  return {
    privateKey: nodeCrypto.createPrivateKey({ key: pair.privateKey, format: "der", type: "pkcs8" }),
    spki: new Uint8Array(pair.publicKey),
  };
}
