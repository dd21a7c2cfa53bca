/**
 * The crypto backend for browsers: WebCrypto (`crypto.subtle`,
 * `crypto.getRandomValues`) for public-key operations, `@noble/hashes` and
 * `@noble/ciphers` for what must stay synchronous (hashes, HMAC, AES-CFB),
 * and no Node API. Same exports, same types and the same accepted inputs as
 * `crypto-node.ts` (a core test runs both on the same inputs); `@veritee/core`'s
 * "browser" export condition selects it.
 *
 * Keys: WebCrypto imports keys asynchronously and binds each `CryptoKey` to
 * one algorithm, so a handle keeps the key's SPKI (made and read by core's
 * strict `spki.ts`) and imports a `CryptoKey` per algorithm on first use.
 * Import and export stay synchronous; validation that Node does at import
 * (an EC point must be on its curve) is done here at import too.
 */
import { cfb } from "@noble/ciphers/aes.js";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import {
  type EcdhCurve,
  type HashAlg,
  PublicKeyHandle,
  pssSaltCandidates,
  type SignatureScheme,
} from "./crypto-types.js";
import { MalformedError } from "./errors.js";
import {
  CURVE_SIZES,
  decodeSpki,
  encodeSpki,
  isOnCurve,
  type NistCurve,
  type PublicKeyParts,
  publicKeyFromJwk,
} from "./spki.js";

export {
  digestSize,
  type EcdhCurve,
  type HashAlg,
  PublicKeyHandle,
  pssSaltCandidates,
  type SignatureScheme,
} from "./crypto-types.js";

/** The name of this backend: "web" here, "node" in the Node build. */
export const CRYPTO_BACKEND: "node" | "web" = "web";

const NOBLE = { sha1, sha256, sha384, sha512 } as const;
const WEB_HASH: Readonly<Record<HashAlg, string>> = {
  sha1: "SHA-1",
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};
const ECDH_CURVES: Readonly<Record<EcdhCurve, NistCurve>> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  // WebCrypto's subtle API exists only in secure contexts (https, localhost).
  if (!s) throw new Error("WebCrypto (crypto.subtle) is not available: a secure context is needed");
  return s;
}

/** WebCrypto takes ArrayBuffer-backed views only; copy anything else (e.g. a SharedArrayBuffer view). */
function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

/**
 * Hash of the concatenation of `parts`.
 *
 * @example
 * ```ts
 * const digest = hash("sha256", utf8("abc"));
 * ```
 */
export function hash(alg: HashAlg, ...parts: readonly Uint8Array[]): Uint8Array {
  const fn = NOBLE[alg];
  if (parts.length === 1) return fn(parts[0]!);
  const h = fn.create();
  for (const p of parts) h.update(p);
  return h.digest();
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
  const h = nobleHmac.create(NOBLE[alg], key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `getRandomValues` fills at most 65536 bytes per call (WebCrypto §10.1.1). */
const RANDOM_CHUNK = 65536;

/**
 * Cryptographically secure random bytes.
 *
 * @example
 * ```ts
 * const nonce = randomBytes(32);
 * ```
 */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += RANDOM_CHUNK) globalThis.crypto.getRandomValues(out.subarray(i, i + RANDOM_CHUNK));
  return out;
}

/** This backend's handle: the key's numbers and SPKI, and the `CryptoKey`s imported from it so far. */
class WebPublicKey extends PublicKeyHandle {
  readonly kty: "RSA" | "EC";
  readonly parts: PublicKeyParts;
  readonly spki: Uint8Array<ArrayBuffer>;
  readonly #imported = new Map<string, Promise<CryptoKey>>();

  constructor(parts: PublicKeyParts, spki: Uint8Array) {
    super();
    if (parts.kty === "EC" && !isOnCurve(parts.crv, parts.x, parts.y)) {
      throw new MalformedError("bad-value", "public key", "EC point is not on its curve");
    }
    // RFC 8017 §3.1: n is odd and e is an odd integer of at least 3.
    if (parts.kty === "RSA" && ((parts.n.at(-1)! & 1) === 0 || (parts.e.at(-1)! & 1) === 0)) {
      throw new MalformedError("bad-value", "public key", "not an RSA public key");
    }
    this.kty = parts.kty;
    this.parts = parts;
    this.spki = new Uint8Array(spki);
  }

  /** The modulus size in bits (RSA only). */
  get modulusBits(): number {
    if (this.parts.kty !== "RSA") return 0;
    const n = this.parts.n;
    return (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
  }

  /** The `CryptoKey` for `algorithm` (imported once per algorithm and hash). */
  cryptoKey(algorithm: RsaHashedImportParams | EcKeyImportParams, usage: KeyUsage): Promise<CryptoKey> {
    const id = `${algorithm.name}/${"hash" in algorithm ? algorithm.hash : ""}/${usage}`;
    let key = this.#imported.get(id);
    if (!key) {
      key = subtle().importKey("spki", this.spki, algorithm, false, [usage]);
      this.#imported.set(id, key);
    }
    return key;
  }
}

function keyOf(handle: PublicKeyHandle): WebPublicKey {
  if (!(handle instanceof WebPublicKey)) throw new TypeError("a key handle of another crypto backend");
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
  const parts = publicKeyFromJwk(jwk);
  return new WebPublicKey(parts, encodeSpki(parts));
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
  const parts = decodeSpki(spki);
  // Re-encoded rather than kept: the handle's SPKI is always the canonical one.
  return new WebPublicKey(parts, encodeSpki(parts));
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
  return keyOf(key).spki.slice();
}

/**
 * An ECDSA signature as a DER SEQUENCE { INTEGER r, INTEGER s } (RFC 3279
 * §2.2.3) in IEEE P1363 form (r ‖ s, each `size` bytes), which WebCrypto
 * verifies. Undefined for anything but strict DER with positive r and s
 * that fit the curve: OpenSSL (the Node backend) likewise refuses
 * non-canonical encodings.
 */
function derToP1363(der: Uint8Array, size: number): Uint8Array | undefined {
  let p = 0;
  const length = (): number | undefined => {
    const first = der[p++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    if (first === 0x81) {
      const v = der[p++];
      return v !== undefined && v >= 0x80 ? v : undefined;
    }
    return undefined; // two r, s of at most 66 bytes each never need more
  };
  if (der[p++] !== 0x30) return undefined;
  const seqLength = length();
  if (seqLength === undefined || p + seqLength !== der.length) return undefined;
  const out = new Uint8Array(2 * size);
  for (const offset of [0, size]) {
    if (der[p++] !== 0x02) return undefined;
    const n = length();
    if (n === undefined || n === 0 || p + n > der.length) return undefined;
    let v = der.subarray(p, p + n);
    p += n;
    if (v[0]! & 0x80) return undefined; // negative
    if (v[0] === 0 && v.length > 1) {
      if ((v[1]! & 0x80) === 0) return undefined; // non-minimal
      v = v.subarray(1);
    }
    if (v.length > size) return undefined;
    out.set(v, offset + size - v.length);
  }
  return p === der.length ? out : undefined;
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
  const hashName = WEB_HASH[scheme.hash];
  const data = buffer(message);
  try {
    if (scheme.kind === "ecdsa" || scheme.kind === "ecdsa-der") {
      if (handle.parts.kty !== "EC") return false;
      const size = CURVE_SIZES[handle.parts.crv];
      const raw = scheme.kind === "ecdsa" ? signature : derToP1363(signature, size);
      if (raw === undefined || raw.length !== 2 * size) return false;
      const cryptoKey = await handle.cryptoKey({ name: "ECDSA", namedCurve: handle.parts.crv }, "verify");
      return await subtle().verify({ name: "ECDSA", hash: hashName }, cryptoKey, buffer(raw), data);
    }
    if (handle.parts.kty !== "RSA") return false;
    // RFC 8017 §8.1.2/§8.2.2 step 1: a signature is exactly k octets long.
    if (signature.length !== Math.ceil(handle.modulusBits / 8)) return false;
    if (scheme.kind === "rsassa-pkcs1") {
      const cryptoKey = await handle.cryptoKey({ name: "RSASSA-PKCS1-v1_5", hash: hashName }, "verify");
      return await subtle().verify({ name: "RSASSA-PKCS1-v1_5" }, cryptoKey, buffer(signature), data);
    }
    const cryptoKey = await handle.cryptoKey({ name: "RSA-PSS", hash: hashName }, "verify");
    const salts =
      scheme.saltLength !== undefined ? [scheme.saltLength] : pssSaltCandidates(handle.modulusBits, scheme.hash);
    for (const saltLength of salts) {
      if (await subtle().verify({ name: "RSA-PSS", saltLength }, cryptoKey, buffer(signature), data)) return true;
    }
    return false;
  } catch {
    // A key WebCrypto refuses, or a signature of the wrong shape, verifies nothing.
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
  const handle = keyOf(key);
  if (handle.kty !== "RSA") throw new TypeError("RSA-OAEP needs an RSA key");
  const cryptoKey = await handle.cryptoKey({ name: "RSA-OAEP", hash: WEB_HASH[hashAlg] }, "encrypt");
  return new Uint8Array(await subtle().encrypt({ name: "RSA-OAEP", label: buffer(label) }, cryptoKey, buffer(data)));
}

function checkAesKey(key: Uint8Array, iv: Uint8Array): void {
  // The same refusal as OpenSSL's: only AES-128/192/256 keys and a one-block IV.
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new RangeError("invalid AES key length");
  if (iv.length !== 16) throw new RangeError("invalid AES-CFB IV length");
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
  checkAesKey(key, iv);
  return cfb(key, iv).encrypt(data);
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
  checkAesKey(key, iv);
  return cfb(key, iv).decrypt(data);
}

/**
 * An ephemeral ECDH key agreement on `curve` with an uncompressed peer point
 * (SEC 1 §2.3.3); resolves to our uncompressed public point and the shared
 * x-coordinate (TPM 2.0 Part 1 §C.6.4 uses Z.x; WebCrypto's ECDH deriveBits
 * is exactly that x-coordinate, WebCrypto §23.5). Rejects a point that is
 * not on the curve.
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
  const namedCurve = ECDH_CURVES[curve];
  const size = CURVE_SIZES[namedCurve];
  if (peerPublicPoint.length !== 1 + 2 * size || peerPublicPoint[0] !== 0x04) {
    throw new RangeError("the peer's point is not an uncompressed point of the curve");
  }
  if (!isOnCurve(namedCurve, peerPublicPoint.subarray(1, 1 + size), peerPublicPoint.subarray(1 + size))) {
    throw new RangeError("the peer's point is not on the curve");
  }
  const s = subtle();
  const algorithm = { name: "ECDH", namedCurve };
  const peer = await s.importKey("raw", buffer(peerPublicPoint), algorithm, false, []);
  const pair = (await s.generateKey(algorithm, false, ["deriveBits"])) as CryptoKeyPair;
  const publicPoint = new Uint8Array(await s.exportKey("raw", pair.publicKey));
  const sharedX = new Uint8Array(await s.deriveBits({ name: "ECDH", public: peer }, pair.privateKey, size * 8));
  return { publicPoint, sharedX };
}
