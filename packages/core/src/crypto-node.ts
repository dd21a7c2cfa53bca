/**
 * The crypto backend on Node: `node:crypto`, native and the fastest path.
 * `crypto-web.ts` exports the same API on WebCrypto and `@noble` for
 * browsers; `@veritee/core`'s "browser" export condition picks it. A core
 * test keeps the two modules' export names and types identical and runs them
 * against each other.
 *
 * What WebCrypto can only do asynchronously (signature verification,
 * RSA-OAEP, ECDH) is asynchronous here too, so callers are written once.
 */
import * as nodeCrypto from "node:crypto";
import {
  type EcdhCurve,
  type HashAlg,
  PublicKeyHandle,
  pssSaltCandidates,
  type SignatureScheme,
} from "./crypto-types.js";
import { MalformedError } from "./errors.js";

export {
  digestSize,
  type EcdhCurve,
  type HashAlg,
  PublicKeyHandle,
  pssSaltCandidates,
  type SignatureScheme,
} from "./crypto-types.js";

// `crypto.hash` exists from Node 20.12 / 21.7; older versions fall back to createHash.
const oneShotHash = (nodeCrypto as { hash?: (alg: string, data: Uint8Array, enc: "buffer") => Buffer }).hash;

/** The name of this backend: "node" here, "web" in the browser build. */
export const CRYPTO_BACKEND: "node" | "web" = "node";

/**
 * Hash of the concatenation of `parts`.
 *
 * @example
 * ```ts
 * const digest = hash("sha256", utf8("abc"));
 * ```
 */
export function hash(alg: HashAlg, ...parts: readonly Uint8Array[]): Uint8Array {
  // One-shot hashing skips the Hash object's allocation: ~40% faster per
  // extend on small inputs, which dominates event-log replay.
  if (parts.length === 1 && oneShotHash) return toUint8(oneShotHash(alg, parts[0]!, "buffer"));
  const h = nodeCrypto.createHash(alg);
  for (const p of parts) h.update(p);
  return toUint8(h.digest());
}

/**
 * HMAC of the concatenation of `parts`.
 *
 * @example
 * ```ts
 * const tag = hmac("sha256", key, message);
 * ```
 */
export function hmac(alg: HashAlg, key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = nodeCrypto.createHmac(alg, key);
  for (const p of parts) h.update(p);
  return toUint8(h.digest());
}

/**
 * Cryptographically secure random bytes.
 *
 * @example
 * ```ts
 * const nonce = randomBytes(32);
 * ```
 */
export function randomBytes(n: number): Uint8Array {
  return toUint8(nodeCrypto.randomBytes(n));
}

function toUint8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** This backend's handle: the imported `KeyObject`. */
class NodePublicKey extends PublicKeyHandle {
  readonly kty: "RSA" | "EC";
  readonly key: nodeCrypto.KeyObject;
  #modulusBits: number | undefined;

  constructor(key: nodeCrypto.KeyObject) {
    super();
    const type = key.asymmetricKeyType;
    if (type !== "rsa" && type !== "ec") throw new TypeError("only RSA and EC public keys are supported");
    this.kty = type === "rsa" ? "RSA" : "EC";
    this.key = key;
  }

  /** The RSA modulus size, read once (only RSA-PSS needs it). */
  get modulusBits(): number {
    this.#modulusBits ??= this.key.asymmetricKeyDetails?.modulusLength ?? 0;
    return this.#modulusBits;
  }
}

function keyOf(handle: PublicKeyHandle): NodePublicKey {
  if (!(handle instanceof NodePublicKey)) throw new TypeError("a key handle of another crypto backend");
  return handle;
}

/**
 * Import a public key from its JWK form (RSA `n`/`e` or EC `crv`/`x`/`y`).
 * Throws for a key that is not valid (e.g. an EC point off its curve).
 *
 * @example
 * ```ts
 * const key = importPublicJwk({ kty: "EC", crv: "P-256", x, y });
 * ```
 */
export function importPublicJwk(jwk: JsonWebKey): PublicKeyHandle {
  return new NodePublicKey(
    importChecked(() => nodeCrypto.createPublicKey({ key: jwk as nodeCrypto.JsonWebKey, format: "jwk" }), "JWK"),
  );
}

/**
 * Import a public key from DER SubjectPublicKeyInfo.
 *
 * @example
 * ```ts
 * const key = importPublicSpki(spkiDer);
 * ```
 */
export function importPublicSpki(spki: Uint8Array): PublicKeyHandle {
  return new NodePublicKey(
    importChecked(
      () => nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }),
      "SubjectPublicKeyInfo",
    ),
  );
}

/**
 * A key OpenSSL refuses (a point off its curve, a malformed modulus) is
 * malformed input, reported as such, as the browser backend's strict decoder does.
 */
function importChecked(importKey: () => nodeCrypto.KeyObject, what: string): nodeCrypto.KeyObject {
  try {
    return importKey();
  } catch (cause) {
    throw new MalformedError("bad-value", what, "not a valid public key", { cause });
  }
}

/**
 * DER SubjectPublicKeyInfo of a public key.
 *
 * @example
 * ```ts
 * const der = exportSpki(importPublicJwk(jwk));
 * ```
 */
export function exportSpki(key: PublicKeyHandle): Uint8Array {
  return toUint8(keyOf(key).key.export({ format: "der", type: "spki" }));
}

/**
 * Verify `signature` over `message` (the message is hashed with the scheme's
 * hash). Resolves false for a bad signature (or one of the wrong shape),
 * never rejects for one.
 *
 * For RSA-PSS without a pinned `saltLength`, the salt lengths of
 * {@link pssSaltCandidates} are tried (the digest length, then the maximum):
 * WebCrypto cannot recover the salt length, and both backends must accept
 * exactly the same signatures.
 *
 * @example
 * ```ts
 * if (!(await verifySignature({ kind: "ecdsa", hash: "sha256" }, key, attest, sig))) throw …;
 * ```
 */
export async function verifySignature(
  scheme: SignatureScheme,
  key: PublicKeyHandle,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const handle = keyOf(key);
  // The key must be of the scheme's family: node:crypto would otherwise check
  // an "ecdsa" signature with an RSA key as PKCS#1 v1.5 (dsaEncoding is ignored).
  if ((handle.kty === "EC") !== (scheme.kind === "ecdsa" || scheme.kind === "ecdsa-der")) return false;
  try {
    switch (scheme.kind) {
      case "ecdsa":
        return nodeCrypto.verify(scheme.hash, message, { key: handle.key, dsaEncoding: "ieee-p1363" }, signature);
      case "ecdsa-der":
        return nodeCrypto.verify(scheme.hash, message, { key: handle.key, dsaEncoding: "der" }, signature);
      case "rsassa-pkcs1":
        return nodeCrypto.verify(
          scheme.hash,
          message,
          { key: handle.key, padding: nodeCrypto.constants.RSA_PKCS1_PADDING },
          signature,
        );
      case "rsa-pss": {
        const salts =
          scheme.saltLength !== undefined ? [scheme.saltLength] : pssSaltCandidates(handle.modulusBits, scheme.hash);
        for (const saltLength of salts) {
          const options = { key: handle.key, padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING, saltLength };
          if (nodeCrypto.verify(scheme.hash, message, options, signature)) return true;
        }
        return false;
      }
    }
  } catch {
    // A signature of the wrong shape (length, encoding) is simply not valid.
    return false;
  }
}

/**
 * RSA-OAEP encryption with a label (used by TPM2_MakeCredential, TPM 2.0 Part 1 §24).
 *
 * @example
 * ```ts
 * const secret = await rsaOaepEncrypt(ekKey, "sha256", utf8("IDENTITY\0"), seed);
 * ```
 */
export async function rsaOaepEncrypt(
  key: PublicKeyHandle,
  hashAlg: HashAlg,
  label: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array> {
  return toUint8(
    nodeCrypto.publicEncrypt(
      {
        key: keyOf(key).key,
        padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: hashAlg,
        oaepLabel: Buffer.from(label),
      },
      data,
    ),
  );
}

/**
 * AES-CFB (full-block feedback) encryption, as TPM 2.0 parameter/credential encryption uses.
 *
 * @example
 * ```ts
 * const encIdentity = aesCfbEncrypt(symKey, new Uint8Array(16), plain);
 * ```
 */
export function aesCfbEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = nodeCrypto.createCipheriv(`aes-${key.length * 8}-cfb`, key, iv);
  return toUint8(Buffer.concat([cipher.update(data), cipher.final()]));
}

/**
 * AES-CFB decryption (the TPM side of credential activation, used in tests).
 *
 * @example
 * ```ts
 * const plain = aesCfbDecrypt(symKey, new Uint8Array(16), encIdentity);
 * ```
 */
export function aesCfbDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const decipher = nodeCrypto.createDecipheriv(`aes-${key.length * 8}-cfb`, key, iv);
  return toUint8(Buffer.concat([decipher.update(data), decipher.final()]));
}

/**
 * An ephemeral ECDH key agreement on `curve` with an uncompressed peer point
 * (SEC 1 §2.3.3); resolves to our uncompressed public point and the shared
 * x-coordinate (TPM 2.0 Part 1 §C.6.4 uses Z.x). Rejects a point that is not
 * on the curve.
 *
 * @example
 * ```ts
 * const { publicPoint, sharedX } = await ecdhEphemeral("prime256v1", ekPoint);
 * ```
 */
export async function ecdhEphemeral(
  curve: EcdhCurve,
  peerPublicPoint: Uint8Array,
): Promise<{ publicPoint: Uint8Array; sharedX: Uint8Array }> {
  const ecdh = nodeCrypto.createECDH(curve);
  const publicPoint = toUint8(ecdh.generateKeys());
  const sharedX = toUint8(ecdh.computeSecret(peerPublicPoint));
  return { publicPoint, sharedX };
}
