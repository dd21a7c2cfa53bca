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
  /** The error's class name, stable across minification. */
  abstract readonly kind: string;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.name = new.target.name;
  }
}

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
