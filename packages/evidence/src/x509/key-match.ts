import { VerificationError } from "../errors.js";
import type { DecodedCertificate } from "./certificate.js";
import { VerifiedCertificateChain } from "./chain.js";
import { decodeCertificateSpki, type PublicKeyInfo, publicKeyFromJwk, publicKeysEqual } from "./public-key.js";

/** A public key as a JWK, as DER SubjectPublicKeyInfo, or already decoded. */
export type PublicKeyInput =
  | { readonly jwk: JsonWebKey }
  | { readonly spki: Uint8Array }
  | { readonly key: PublicKeyInfo };

function toInfo(input: PublicKeyInput): PublicKeyInfo {
  if ("jwk" in input) return publicKeyFromJwk(input.jwk);
  if ("spki" in input) return decodeCertificateSpki(input.spki);
  return input.key;
}

/**
 * Check that a certificate certifies `key`: the certificate's subject public
 * key must be the same key (modulus and exponent, or curve and point) as a
 * TPM public key, e.g. an EK read from the TPM or an AK from a quote. Pass a
 * {@link VerifiedCertificateChain} to check its leaf. Throws
 * `VerificationError("key-mismatch")` otherwise, `MalformedError` for a key
 * that does not decode.
 *
 * Keys are compared by value, not by encoding, so an SPKI with absent RSA
 * NULL parameters or a JWK with leading zero bytes still matches.
 *
 * @example
 * const chain = verifyCertificateChain({ leaf: ekCertDer, roots, at });
 * verifyCertificateKey(chain, { jwk: ekPublicJwk });
 */
export function verifyCertificateKey(cert: VerifiedCertificateChain | DecodedCertificate, key: PublicKeyInput): void {
  const certified = cert instanceof VerifiedCertificateChain ? cert.leaf.publicKey : cert.publicKey;
  if (!publicKeysEqual(certified, toInfo(key))) {
    throw new VerificationError("key-mismatch", "the certificate does not certify this public key");
  }
}
