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
 * - `keys-dropped`: a private key was asked for after `dropKeys()`;
 * - `loader-environment`: Node.js start-up flags or loader-relevant
 *   environment variables (`NODE_OPTIONS`, `LD_PRELOAD`, …) are present and
 *   the operator did not allow them (launch-environment.ts);
 * - `file-replaced`: a file the engine loaded (a mapped native library, the
 *   model) is deleted or no longer the file at its path (another device or
 *   inode, size or modification time), so its path cannot say what runs;
 * - `unload-failed`: a custodial model's engine was ended but its plaintext
 *   RAM file is still mapped in this process (custody/load.ts): the server
 *   stops rather than serve on with the weights resident.
 */
export type LaunchErrorCode =
  | "pcr-not-zero"
  | "pcr-mismatch"
  | "measurement-failed"
  | "bad-config"
  | "tpm-failed"
  | "keys-dropped"
  | "loader-environment"
  | "file-replaced"
  | "unload-failed";

/** A measured-launch failure. Messages name files and PCRs, never secrets. */
export class LaunchError extends VeriteeError<LaunchErrorCode> {
  readonly kind = "launch" as const;
}
