import { VeriteeError } from "@veritee/core";

/** Codes for problems with the command line or the local environment. */
export type CliErrorCode =
  | "bad-argument"
  | "file-not-found"
  | "file-unreadable"
  | "missing-tool"
  | "not-running"
  /** `veritee serve` with Node.js flags or loader variables (NODE_OPTIONS, LD_PRELOAD, …) and no --allow-loader-env. */
  | "loader-environment";

/** Bad command-line input or a missing local prerequisite. */
export class CliError extends VeriteeError<CliErrorCode> {
  readonly kind: "usage" | "environment";

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.kind = code === "bad-argument" ? "usage" : "environment";
  }
}
