import { VeriteeError } from "@veritee/core";

/**
 * Why an attestation request failed:
 * - `bad-nonce`: the nonce is not 16–64 bytes (400);
 * - `bad-request`: a malformed activation request (400);
 * - `credential-rejected`: the TPM refused the credential: it was not made
 *   for this TPM's EK and this AK's Name, or it does not hold a Veritee
 *   challenge secret (400);
 * - `activation-unknown`: no attestation awaits activation for the request's
 *   nonce: never attested, already activated once, or dropped from the full
 *   table (400);
 * - `activation-expired`: the nonce's attestation is older than the
 *   activation TTL (400);
 * - `busy`: too many activations are in flight (429);
 * - `tpm-failed`: the TPM could not be reached or failed (503);
 * - `pcr-mismatch`: the application PCR does not hold the launch log's replay (at start: refuse to serve);
 * - `bad-argument`: the attester was created with inconsistent inputs;
 * - `platform-failed`: confidential-computing evidence (configfs-tsm, GPUs) could not be collected (503);
 * - `closed`: the attester was closed (503).
 */
export type AttestationErrorCode =
  | "bad-nonce"
  | "bad-request"
  | "credential-rejected"
  | "activation-unknown"
  | "activation-expired"
  | "busy"
  | "tpm-failed"
  | "pcr-mismatch"
  | "bad-argument"
  | "platform-failed"
  | "closed";

/** An attestation failure. Messages carry no request data. */
export class AttestationError extends VeriteeError<AttestationErrorCode> {
  readonly kind = "attestation" as const;
}
