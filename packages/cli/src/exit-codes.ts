import { VeriteeError } from "@veritee/core";

/**
 * One exit code per error class, so scripts can tell "the evidence is
 * malformed" from "the evidence is forged" from "the TPM is unreachable"
 * without parsing text. Stable: documented in docs/CLI.md.
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
} as const;

/** The exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof VeriteeError) {
    const code = (EXIT as Record<string, number>)[error.kind];
    if (code !== undefined) return code;
  }
  return EXIT.internal;
}

/** The user-facing one-line description of an error: its class kind and code, never user data. */
export function describeError(error: unknown): string {
  if (error instanceof VeriteeError) return `${error.kind} error ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
