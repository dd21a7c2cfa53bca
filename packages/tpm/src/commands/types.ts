import type { ByteReader } from "@veritee/core";

/**
 * A TPM command ready to send, and how to read its answer. Builders in this
 * folder are pure (no I/O): the client supplies authorisation sessions and a
 * transport.
 */
export interface TpmCommand<T> {
  /** The Part 3 name, e.g. "TPM2_Quote", used in errors. */
  readonly name: string;
  /** TPM_CC. */
  readonly code: number;
  /** The handle area. */
  readonly handles: readonly number[];
  /** How many of the leading handles need an authorisation (Part 3 marks them "@"). */
  readonly authHandles: number;
  /** The marshalled parameter area. */
  readonly parameters: Uint8Array;
  /** Handles in the response's handle area. */
  readonly responseHandles: number;
  /** Decode the response's parameter area (the caller checks that it is consumed exactly). */
  parse(handles: readonly number[], r: ByteReader): T;
}
