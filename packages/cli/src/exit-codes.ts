import { type ErrorKind, VeriteeError } from "@veritee/core";

/**
 * One exit code per error class, so scripts can tell "the evidence is
 * malformed" from "the evidence is forged" from "the TPM is unreachable"
 * without parsing text. Stable: documented in docs/CLI.md (a test parses that
 * table and compares it with this one).
 */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  malformed: 10,
  verification: 11,
  policy: 12,
  collateral: 13,
  tpm: 14,
  environment: 15,
  channel: 16,
  client: 17,
  server: 18,
  custody: 19,
} as const;

/** A documented exit code. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The exit code of each error kind. A `Record` over the closed `ErrorKind`
 * union, so an error class added without an exit code is a compile error
 * rather than a silent exit 1 ("internal bug").
 */
export const EXIT_FOR_KIND: Readonly<Record<ErrorKind, ExitCode>> = {
  malformed: EXIT.malformed,
  verification: EXIT.verification,
  policy: EXIT.policy,
  collateral: EXIT.collateral,
  tpm: EXIT.tpm,
  // swtpm missing, its port taken, its state unreadable: all local prerequisites.
  swtpm: EXIT.environment,
  usage: EXIT.usage,
  environment: EXIT.environment,
  channel: EXIT.channel,
  client: EXIT.client,
  // The server's own start-up and serving failures (`veritee serve`).
  attestation: EXIT.server,
  tee: EXIT.server,
  launch: EXIT.server,
  engine: EXIT.server,
  http: EXIT.server,
  // A sealed model that does not open, a custodian that refuses or fails (docs/CUSTODY.md).
  custody: EXIT.custody,
};

/** The exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof VeriteeError) return EXIT_FOR_KIND[error.kind] ?? EXIT.internal;
  return EXIT.internal;
}

/** The user-facing one-line description of an error: its class kind and code, never user data. */
export function describeError(error: unknown): string {
  if (error instanceof VeriteeError) return `${error.kind} error ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
