/**
 * How a quote binds a verifier's fresh nonce to the server's key set: the
 * quote's qualifying data (extraData) is
 *
 *     SHA-256("veritee-attestation-v1" || nonce || keySetDigest)
 *
 * with the 22-byte ASCII label, the verifier's 16–64-byte nonce, and the
 * 32-byte key-set digest. The label and the digest have fixed lengths, so
 * the concatenation splits one way only. The 32-byte result fits TPM2B_DATA
 * (at most sizeof(TPMT_HA), TPM 2.0 Part 2 §10.4.3).
 */
import { hash, utf8 } from "@veritee/core";

/** The domain-separation label of the binding. */
export const ATTESTATION_LABEL = "veritee-attestation-v1";

/** Nonce length bounds in bytes: at least 128 bits of freshness; at most what a URL comfortably carries. */
export const NONCE_LENGTH = { min: 16, max: 64 } as const;

/**
 * The extraData a quote must carry for `nonce` and `keySetDigest`.
 *
 * @throws RangeError for a nonce outside {@link NONCE_LENGTH} or a digest that is not 32 bytes.
 * @example
 * const extraData = attestationExtraData(nonce, keySetDigest(keySet));
 */
export function attestationExtraData(nonce: Uint8Array, keySetDigest: Uint8Array): Uint8Array {
  if (nonce.length < NONCE_LENGTH.min || nonce.length > NONCE_LENGTH.max) {
    throw new RangeError(`the nonce must be ${NONCE_LENGTH.min}..${NONCE_LENGTH.max} bytes`);
  }
  if (keySetDigest.length !== 32) throw new RangeError("the key-set digest is 32 bytes");
  return hash("sha256", utf8(ATTESTATION_LABEL), nonce, keySetDigest);
}
