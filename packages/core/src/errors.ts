/**
 * The error base class. Every failure the project reports is a subclass with a
 * closed union of codes, so callers (and the CLI's exit codes) can switch on
 * `code` exhaustively instead of parsing messages.
 *
 * Messages never carry user data (prompts, completions): only structure names,
 * field names, sizes and codes.
 */
export abstract class VeriteeError<Code extends string = string> extends Error {
  /** A stable machine-readable reason, one of the subclass's closed union. */
  readonly code: Code;
  /** The error's class, stable across minification; the CLI maps each kind to its exit code. */
  abstract readonly kind: ErrorKind;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * Every error class's `kind`, a closed union: the CLI's exit-code table is a
 * `Record` over it, so a new error class that forgets its exit code does not
 * compile (instead of silently exiting 1, "internal bug").
 */
export type ErrorKind =
  /** Bytes that do not decode (`MalformedError`). */
  | "malformed"
  /** Evidence that decodes but fails a check (`VerificationError`). */
  | "verification"
  /** Genuine evidence the policy refuses (`PolicyError`). */
  | "policy"
  /** Trust material or collateral unavailable (`CollateralError`). */
  | "collateral"
  /** A TPM command failed or the TPM is unreachable (`TpmError`). */
  | "tpm"
  /** The swtpm manager failed (`SwtpmError`): a local prerequisite. */
  | "swtpm"
  /** Bad command-line input, or an invalid policy file (`CliError`, `PolicyError`). */
  | "usage"
  /** A missing local prerequisite: a file, a model, a port (`CliError`, `ModelError`). */
  | "environment"
  /** The attested channel failed (`ChannelError`). */
  | "channel"
  /** The server could not be reached or broke the protocol (`ClientError`). */
  | "client"
  /** The server's attester failed (`AttestationError`). */
  | "attestation"
  /** The server could not produce TEE evidence (`TeeError`). */
  | "tee"
  /** The server's measured launch failed (`LaunchError`). */
  | "launch"
  /** An inference engine failed (`EngineError`). */
  | "engine"
  /** An HTTP request the server refused (`HttpError`). */
  | "http"
  /** Model custody failed: a sealed model that does not open, a key release refused, a custodian error (`CustodyError`, `SealedModelError`). */
  | "custody";

/** Codes for bytes that do not decode as the structure they claim to be. */
export type MalformedCode =
  | "truncated"
  | "trailing-data"
  | "bad-magic"
  | "bad-value"
  | "bad-length"
  | "bad-hex"
  | "reserved-nonzero"
  | "unsupported"
  | "too-large"
  | "too-deep";

/** Bytes (evidence, a wire frame, a file) that do not decode. Raised by `decode` steps only. */
export class MalformedError extends VeriteeError<MalformedCode> {
  readonly kind = "malformed" as const;
  /** The structure or field that failed, e.g. "TPMS_ATTEST.magic". */
  readonly what: string;

  constructor(code: MalformedCode, what: string, detail?: string, options?: { cause?: unknown }) {
    super(code, detail ? `${what}: ${detail}` : what, options);
    this.what = what;
  }
}
