import { VeriteeError } from "@veritee/core";

/**
 * Why a sealed message or an attested connection was refused. A closed union:
 * each code names one check, so callers (and the CLI's exit codes) can switch
 * on it exhaustively.
 *
 * - `bad-framing`: bytes that do not have the wire format's structure (a
 *   short envelope, reserved bits set, a frame length out of bounds, a
 *   malformed response head, data after the final frame).
 * - `unsupported-suite`: no HPKE cipher suite both sides support.
 * - `unknown-key`: a sealed request for another HPKE key (key id, KEM or suite
 *   the recipient does not serve).
 * - `key-set-mismatch`: the request names another key set than the server's
 *   (the server's keys changed: attest again).
 * - `tampered`: authentication failed — the bytes were modified, or sealed for
 *   another key, request, method, path or content type.
 * - `frame-out-of-order`: a frame's sequence number is not the next one (a
 *   frame was dropped, reordered, replayed or duplicated).
 * - `truncated`: a stream ended without its final frame.
 * - `sequence-overflow`: a stream ran out of sequence numbers.
 * - `too-large`: a message or frame beyond the limits.
 * - `closed`: a one-shot object used twice (a responder, a decoder after its end).
 * - `not-sealed`: the peer answered without sealing.
 * - `pin-mismatch`: the TLS peer's public key is not the attested one.
 */
export type ChannelCode =
  | "bad-framing"
  | "unsupported-suite"
  | "unknown-key"
  | "key-set-mismatch"
  | "tampered"
  | "frame-out-of-order"
  | "truncated"
  | "sequence-overflow"
  | "too-large"
  | "closed"
  | "not-sealed"
  | "pin-mismatch";

/**
 * The attested channel failed. Messages name the check and sizes only, never
 * message contents.
 *
 * @example
 * try {
 *   await decoder.push(bytes);
 * } catch (error) {
 *   if (error instanceof ChannelError && error.code === "frame-out-of-order") console.error("relay reordered frames");
 * }
 */
export class ChannelError extends VeriteeError<ChannelCode> {
  readonly kind = "channel" as const;
}
