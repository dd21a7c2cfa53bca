/**
 * Key generation for the server's long-term launch keys and the Node HPKE
 * backend: Node only (these keys live in `KeyObject`s), exported from the
 * Node entry of `@veritee/core` and absent from its browser entry, where
 * nothing generates a key that outlives one operation.
 */
import * as nodeCrypto from "node:crypto";

// Freshly generated keys are never exported from the KeyObject the
// generation job made: on Node 20 a process deadlocked when the garbage
// collector destroyed a key-generation job (KeyGenJob's destructor takes the
// key's mutex) while ExportJWK on that same key held the mutex and allocated
// (seen with gdb in our test run). Keys are therefore generated with their
// encodings produced inside the job, or built from random bytes, and
// re-imported into KeyObjects of their own.

/**
 * A fresh X25519 key pair: the private key and the raw 32-byte public key (RFC 7748).
 *
 * @example
 * ```ts
 * const { privateKey, publicKey } = generateX25519();
 * ```
 */
export function generateX25519(): { privateKey: nodeCrypto.KeyObject; publicKey: Uint8Array } {
  const privateKey = importX25519Private(nodeCrypto.randomBytes(32));
  const x = nodeCrypto.createPublicKey(privateKey).export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new Error("X25519 public key export failed");
  return { privateKey, publicKey: new Uint8Array(Buffer.from(x, "base64url")) };
}

/**
 * An X25519 private key from its 32 raw bytes (RFC 7748 §5).
 *
 * Imported as a JWK (RFC 8037 §2), not as PKCS #8 DER: OpenSSL 3's DER
 * decoder costs ~0.8 ms a key, the raw import behind JWK ~0.09 ms, and every
 * sealed request makes an ephemeral key. Node requires `x` to be a string
 * but derives the public key from `d` alone (the RFC 9180 vectors in the
 * channel tests would catch any other behaviour).
 *
 * @throws RangeError unless `raw` is 32 bytes.
 */
export function importX25519Private(raw: Uint8Array): nodeCrypto.KeyObject {
  if (raw.length !== 32) throw new RangeError("an X25519 private key is 32 bytes");
  const d = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64url");
  return nodeCrypto.createPrivateKey({ key: { kty: "OKP", crv: "X25519", d, x: "" }, format: "jwk" });
}

/**
 * A fresh ECDSA P-256 key pair: the private key and the DER SubjectPublicKeyInfo.
 *
 * @example
 * ```ts
 * const { privateKey, spki } = generateP256();
 * ```
 */
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
