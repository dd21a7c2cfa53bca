/**
 * The activation proof of the Veritee attestation protocol, version 2
 * (docs/ATTESTATION.md, "Credential activation"). The server never returns
 * the secret TPM2_ActivateCredential recovered: it returns
 *
 *     proof = HMAC-SHA256( key = secret,
 *                          "veritee-activation-proof-v2" ‖ serverNonce ‖ nonce )
 *
 * where `serverNonce` is 32 bytes the server drew at random for this
 * activation and `nonce` is the client's attestation nonce (16–64 bytes).
 * Knowing the proof needs the secret, so it proves the same thing the secret
 * did (the AK is resident in the TPM holding the certified EK), but it is
 * useless as a decryption: whoever submits someone else's credential learns a
 * MAC over a message it did not choose, never the credential. The label and
 * `serverNonce` have fixed sizes and the nonce comes last, so the message
 * splits one way only.
 */
import { bytesEqual, hmac, utf8 } from "@veritee/core";
import { VerificationError } from "../errors.js";

/** Domain separation for the activation proof (27 ASCII bytes, no terminator). */
export const ACTIVATION_PROOF_LABEL = "veritee-activation-proof-v2";

/**
 * Size of the secret a Veritee verifier puts in the credential: a SHA-256
 * digest, the most the EK's nameAlg allows (Part 3 §12.6.1). A server
 * answers only for secrets of this size, so a credential of another
 * protocol (another size) gets no proof at all.
 */
export const ACTIVATION_SECRET_SIZE = 32;

/** Size of the server's per-activation random value and of the proof (HMAC-SHA256). */
export const ACTIVATION_PROOF_SIZE = 32;

/**
 * The activation proof for a recovered `secret`.
 *
 * @throws RangeError for a server nonce that is not 32 bytes or an empty secret (programming errors).
 * @example
 * const proof = activationProof(secret, randomBytes(32), attestationNonce);
 */
export function activationProof(secret: Uint8Array, serverNonce: Uint8Array, nonce: Uint8Array): Uint8Array {
  if (secret.length === 0) throw new RangeError("the activated secret is empty");
  if (serverNonce.length !== ACTIVATION_PROOF_SIZE) throw new RangeError("the server nonce must be 32 bytes");
  return hmac("sha256", secret, utf8(ACTIVATION_PROOF_LABEL), serverNonce, nonce);
}

/**
 * Check an activation proof against the secret the verifier put in the
 * credential, in constant time.
 *
 * @throws VerificationError `credential-mismatch` when the proof was not made with `expected`.
 * @example
 * verifyActivationProof(expectedSecret, nonce, response.serverNonce, response.proof);
 */
export function verifyActivationProof(
  expected: Uint8Array,
  nonce: Uint8Array,
  serverNonce: Uint8Array,
  proof: Uint8Array,
): void {
  if (serverNonce.length !== ACTIVATION_PROOF_SIZE || proof.length !== ACTIVATION_PROOF_SIZE) {
    throw new VerificationError("credential-mismatch", "the activation proof does not have the protocol's size");
  }
  if (!bytesEqual(activationProof(expected, serverNonce, nonce), proof)) {
    throw new VerificationError("credential-mismatch", "the activation proof was not made with the issued credential");
  }
}
