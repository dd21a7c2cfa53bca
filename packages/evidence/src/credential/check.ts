import { bytesEqual } from "@veritee/core";
import { VerificationError } from "../errors.js";

/**
 * Check the secret an attester returned after TPM2_ActivateCredential against
 * the credential the verifier made, in constant time. Equal means the AK named
 * in `makeCredential` is resident in the TPM that holds the EK (Part 1 §24).
 * Throws `VerificationError("credential-mismatch")` otherwise.
 *
 * @example
 * verifyActivatedCredential(expectedSecret, secretFromAttester);
 */
export function verifyActivatedCredential(expected: Uint8Array, returned: Uint8Array): void {
  if (expected.length === 0) throw new RangeError("the expected credential is empty");
  if (!bytesEqual(expected, returned)) {
    throw new VerificationError("credential-mismatch", "the activated credential differs from the one issued");
  }
}
