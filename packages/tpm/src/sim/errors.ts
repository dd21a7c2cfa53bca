import { VeriteeError } from "@veritee/core";

/**
 * Why the development TPM (swtpm) could not be provisioned, started or stopped.
 * A closed union so the CLI can give each its own message and exit code.
 */
export type SwtpmErrorCode =
  /** `swtpm` or `swtpm_setup` is not on PATH (Debian/Ubuntu: packages `swtpm` and `swtpm-tools`). */
  | "swtpm-not-installed"
  /** `swtpm_setup` failed; its log is in the state directory. */
  | "provision-failed"
  /** The requested TCP port (or the control port beside it) is taken. */
  | "port-in-use"
  /** swtpm exited or did not accept connections in time; its log is in the state directory. */
  | "start-failed"
  /** An instance recorded in the state directory is still running. */
  | "already-running"
  /** The process did not exit after SIGTERM and SIGKILL. */
  | "stop-failed"
  /** `sim.json` in the state directory does not describe an instance. */
  | "bad-state"
  /** An option is unusable (an unknown PCR bank, a path swtpm cannot take, a port out of range). */
  | "bad-argument";

/** A failure of the swtpm manager (not of TPM commands, which raise `TpmError`). */
export class SwtpmError extends VeriteeError<SwtpmErrorCode> {
  readonly kind = "swtpm" as const;
}
