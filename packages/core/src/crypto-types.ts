/**
 * The types and constants both crypto backends share (`crypto-node.ts`,
 * `crypto-web.ts`). Keeping them in one module makes the two backends'
 * exports the same declarations, so code compiled against one runs against
 * the other.
 */

/** Hash algorithms that TPM 2.0 evidence uses (TPM 2.0 Part 2 §6.3). */
export type HashAlg = "sha1" | "sha256" | "sha384" | "sha512";

const DIGEST_SIZES: Readonly<Record<HashAlg, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** Digest size in bytes. */
export function digestSize(alg: HashAlg): number {
  return DIGEST_SIZES[alg];
}

/** Signature schemes found in TPM and TEE evidence. */
export type SignatureScheme =
  | { readonly kind: "ecdsa"; readonly hash: HashAlg } // signature is r||s, each the curve's size (IEEE P1363)
  | { readonly kind: "ecdsa-der"; readonly hash: HashAlg } // signature is a DER SEQUENCE { r, s }
  | { readonly kind: "rsassa-pkcs1"; readonly hash: HashAlg }
  | { readonly kind: "rsa-pss"; readonly hash: HashAlg; readonly saltLength?: number };

/** The NIST curves of ephemeral ECDH (TPM 2.0 Part 1 §C.6.1), by their OpenSSL names. */
export type EcdhCurve = "prime256v1" | "secp384r1" | "secp521r1";

/**
 * A public key imported once and reused for many operations. Opaque: each
 * backend makes its own subclass (a `KeyObject` inside on Node; the JWK, the
 * SPKI and lazily imported `CryptoKey`s in a browser), and a handle works only
 * with the backend that made it. Import and export stay synchronous because
 * the handle, not the platform key, is what callers hold.
 *
 * @example
 * ```ts
 * const key = importPublicSpki(spkiDer);
 * const ok = await verifySignature({ kind: "ecdsa-der", hash: "sha256" }, key, message, signature);
 * ```
 */
export abstract class PublicKeyHandle {
  /** The key type, as JWK names it (RFC 7518 §6.1). */
  abstract readonly kty: "RSA" | "EC";
}

/**
 * The RSA-PSS salt lengths tried when a scheme does not pin one. WebCrypto
 * cannot recover the salt length ("auto"), so both backends try the same
 * explicit list: the digest length (RFC 4055 §3.1 profiles, and TPMs that
 * cap the salt at the digest size), then the largest salt the key allows,
 * emLen - hLen - 2 (RFC 8017 §9.1.1; what TPM 2.0 Part 1 §B.7 has TPMs sign
 * with). Any other salt length is refused. `modulusBits` is the key's size.
 *
 * @example
 * ```ts
 * pssSaltCandidates(2048, "sha256"); // [32, 222]
 * ```
 */
export function pssSaltCandidates(modulusBits: number, hashAlg: HashAlg): readonly number[] {
  const hLen = digestSize(hashAlg);
  // RFC 8017 §9.1.1: emLen = ceil((modBits - 1) / 8).
  const emLen = Math.ceil((modulusBits - 1) / 8);
  const max = emLen - hLen - 2;
  if (max < hLen) return max >= 0 ? [max] : [];
  return max === hLen ? [hLen] : [hLen, max];
}
