/**
 * Response framing shared by the stream and device transports: a response
 * announces its own size in bytes 2..5 of its header (Part 1 §18).
 */
import { HEADER_SIZE } from "../wire/command.js";
import { MAX_RESPONSE_SIZE } from "../wire/response.js";

/** How the bytes received so far relate to a complete response. */
export type FrameState =
  | { readonly state: "incomplete" }
  | { readonly state: "complete"; readonly size: number }
  | { readonly state: "bad-size"; readonly size: number }
  | { readonly state: "trailing"; readonly size: number };

/** Classify `received` (the bytes read so far for one response). */
export function frameState(received: Uint8Array): FrameState {
  if (received.length < 6) return { state: "incomplete" };
  const size = new DataView(received.buffer, received.byteOffset, received.byteLength).getUint32(2, false);
  if (size < HEADER_SIZE || size > MAX_RESPONSE_SIZE) return { state: "bad-size", size };
  if (received.length < size) return { state: "incomplete" };
  if (received.length > size) return { state: "trailing", size };
  return { state: "complete", size };
}
