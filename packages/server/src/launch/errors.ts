import { VeriteeError } from "@veritee/core";

/**
 * Why a measured launch failed, and so why the server must not start:
 * - `pcr-not-zero`: the application PCR was already extended since boot; a
 *   second launch in the same boot could never be verified;
 * - `pcr-mismatch`: after extending, the PCR does not hold the replay of the
 *   log (something else extended it concurrently);
 * - `measurement-failed`: a file to measure is missing, unreadable, changed
 *   while hashed, or not allowed in the code bundle (a symbolic link, an odd name);
 * - `bad-config`: the configuration cannot be measured (e.g. credentials in a URL);
 * - `tpm-failed`: a TPM command failed (the cause says which);
 * - `keys-dropped`: a private key was asked for after `dropKeys()`.
 */
export type LaunchErrorCode =
  | "pcr-not-zero"
  | "pcr-mismatch"
  | "measurement-failed"
  | "bad-config"
  | "tpm-failed"
  | "keys-dropped";

/** A measured-launch failure. Messages name files and PCRs, never secrets. */
export class LaunchError extends VeriteeError<LaunchErrorCode> {
  readonly kind = "launch" as const;
}
