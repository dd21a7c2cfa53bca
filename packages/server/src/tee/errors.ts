import { VeriteeError } from "@veritee/core";

/**
 * Why the server could not produce confidential-computing evidence:
 * - `unavailable`: this machine has no such interface (not a confidential VM, no driver);
 * - `bad-input`: the caller asked for something the interface cannot do (report data over 64 bytes, a bad privilege level);
 * - `race`: another writer kept changing the shared report instance;
 * - `failed`: the kernel or device refused or returned something unusable (the cause says why);
 * - `malformed`: a supplemental structure (e.g. SNP's certificate table) does not decode.
 */
export type TeeErrorCode = "unavailable" | "bad-input" | "race" | "failed" | "malformed";

/** A failure to produce TEE evidence. Messages name interfaces and sizes, never report contents. */
export class TeeError extends VeriteeError<TeeErrorCode> {
  readonly kind = "tee" as const;
}
