/**
 * Frames: how a sealed response travels, one AEAD message per chunk, so that
 * a stream can be opened as it arrives and every chunk is authenticated
 * before it is released.
 *
 *     frame  = flags (u8) ‖ seq (u32) ‖ length (u32) ‖ ciphertext (length bytes)
 *     flags  = 0x01 FINAL (the last frame); the other bits are reserved, zero
 *     seq    = 0, 1, 2, … — the frame's position; the receiver expects exactly the next one
 *     length = Nt … MAX_FRAME_PLAINTEXT + Nt
 *     ciphertext = AEAD.Seal(key, nonce(seq), aad = the 9 header bytes, chunk)
 *     nonce(seq) = base_nonce XOR I2OSP(seq, Nn)        (as RFC 9180 §5.2 ComputeNonce)
 *
 * The header is the associated data, so flipping FINAL or changing `seq` or
 * `length` fails authentication; the nonce depends on the receiver's own
 * counter, so a frame from another position never opens. A stream must end
 * with a FINAL frame and nothing after it: a relay that drops, reorders,
 * duplicates, replays or cuts frames is detected. Keys come from
 * `response-keys.ts`; a frame cannot be moved to another response.
 */
import type { AeadEncryptionContext } from "@hpke/core";
import { ChannelError } from "./errors.js";
import { FRAME_FINAL, FRAME_HEADER_SIZE, MAX_FRAME_PLAINTEXT, MAX_SEQUENCE } from "./wire.js";

/** The AEAD state of one direction of one response. */
export interface FrameKeys {
  readonly aead: AeadEncryptionContext;
  /** RFC 9180 §5.2-style base nonce, Nn bytes. */
  readonly baseNonce: Uint8Array;
  /** Nt. */
  readonly tagSize: number;
}

function frameNonce(base: Uint8Array, seq: number): Uint8Array {
  const nonce = base.slice();
  const n = nonce.length;
  nonce[n - 4]! ^= (seq >>> 24) & 0xff;
  nonce[n - 3]! ^= (seq >>> 16) & 0xff;
  nonce[n - 2]! ^= (seq >>> 8) & 0xff;
  nonce[n - 1]! ^= seq & 0xff;
  return nonce;
}

function frameHeader(flags: number, seq: number, length: number): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_SIZE);
  const v = new DataView(header.buffer);
  v.setUint8(0, flags);
  v.setUint32(1, seq, false);
  v.setUint32(5, length, false);
  return header;
}

/**
 * Seals chunks into frames with consecutive sequence numbers. The sequence
 * number is taken when `seal` is called, so frames must be sent in the order
 * of the calls (awaiting each, or keeping the promises in order).
 */
export class FrameSealer {
  readonly #keys: FrameKeys;
  #seq: number;
  #finished = false;

  /** @param firstSequence where numbering starts: 0 on the wire; other values only to test overflow. */
  constructor(keys: FrameKeys, firstSequence = 0) {
    this.#keys = keys;
    this.#seq = firstSequence;
  }

  /** Whether the final frame was sealed. */
  get finished(): boolean {
    return this.#finished;
  }

  /** The number of frames sealed so far (the next sequence number). */
  get sequence(): number {
    return this.#seq;
  }

  /**
   * Seal one chunk of at most {@link MAX_FRAME_PLAINTEXT} bytes into a frame.
   *
   * @throws ChannelError `closed` after the final frame, `sequence-overflow`
   *   past 2^32 frames, `too-large` for a longer chunk.
   */
  seal(chunk: Uint8Array, final: boolean): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#finished) return Promise.reject(new ChannelError("closed", "the stream already ended"));
    if (chunk.length > MAX_FRAME_PLAINTEXT) {
      return Promise.reject(new ChannelError("too-large", `a frame carries at most ${MAX_FRAME_PLAINTEXT} bytes`));
    }
    if (this.#seq > MAX_SEQUENCE) {
      this.#finished = true;
      return Promise.reject(new ChannelError("sequence-overflow", "no sequence number left for another frame"));
    }
    const seq = this.#seq++;
    if (final) this.#finished = true;
    const length = chunk.length + this.#keys.tagSize;
    const header = frameHeader(final ? FRAME_FINAL : 0, seq, length);
    return this.#keys.aead.seal(frameNonce(this.#keys.baseNonce, seq), chunk, header).then((ct) => {
      const frame = new Uint8Array(FRAME_HEADER_SIZE + length);
      frame.set(header, 0);
      frame.set(new Uint8Array(ct), FRAME_HEADER_SIZE);
      return frame;
    });
  }
}

/** One opened frame. */
export interface OpenedFrame {
  readonly seq: number;
  readonly final: boolean;
  readonly plaintext: Uint8Array<ArrayBuffer>;
}

/**
 * Opens a byte stream of frames incrementally: bytes may arrive in any
 * chunking. Each frame is authenticated before its plaintext is returned.
 * After any failure the opener stays failed (every later call throws the
 * same error), so nothing after a bad frame is ever released.
 */
export class FrameOpener {
  readonly #keys: FrameKeys;
  #expected: number;
  #pending: Uint8Array[] = [];
  #pendingSize = 0;
  #final = false;
  #failure: ChannelError | undefined;
  #busy = false;

  /** @param firstSequence the first expected sequence number: 0 on the wire; other values only to test overflow. */
  constructor(keys: FrameKeys, firstSequence = 0) {
    this.#keys = keys;
    this.#expected = firstSequence;
  }

  /** Whether the final frame was opened. */
  get finished(): boolean {
    return this.#final;
  }

  #fail(error: ChannelError): never {
    this.#failure = error;
    this.#pending = [];
    this.#pendingSize = 0;
    throw error;
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = this.#pending[0]!;
      const want = n - at;
      if (head.length <= want) {
        out.set(head, at);
        at += head.length;
        this.#pending.shift();
      } else {
        out.set(head.subarray(0, want), at);
        this.#pending[0] = head.subarray(want);
        at += want;
      }
    }
    this.#pendingSize -= n;
    return out;
  }

  /** The next frame's header fields, without consuming it (pending holds at least a header's bytes). */
  #peekHeader(): { flags: number; seq: number; length: number } {
    if (this.#pending[0]!.length < FRAME_HEADER_SIZE) {
      // The header straddles chunks: coalesce it into the first one.
      const joined = this.#take(FRAME_HEADER_SIZE);
      this.#pending.unshift(joined);
      this.#pendingSize += FRAME_HEADER_SIZE;
    }
    const first = this.#pending[0]!;
    const v = new DataView(first.buffer, first.byteOffset, FRAME_HEADER_SIZE);
    return { flags: v.getUint8(0), seq: v.getUint32(1, false), length: v.getUint32(5, false) };
  }

  /**
   * Add bytes; returns the frames they complete, in order. Not re-entrant:
   * await each call before the next.
   *
   * @throws ChannelError `bad-framing` (reserved flags, a length out of
   *   bounds, bytes after the final frame), `frame-out-of-order`,
   *   `sequence-overflow`, `tampered`, `closed` (called concurrently).
   */
  async push(bytes: Uint8Array): Promise<OpenedFrame[]> {
    if (this.#failure) throw this.#failure;
    if (this.#busy) throw new ChannelError("closed", "push called before the previous push settled");
    this.#busy = true;
    try {
      if (bytes.length > 0) {
        if (this.#final) this.#fail(new ChannelError("bad-framing", "data after the final frame"));
        // Copied: the caller may reuse its buffer.
        this.#pending.push(bytes.slice());
        this.#pendingSize += bytes.length;
      }
      const out: OpenedFrame[] = [];
      while (!this.#final && this.#pendingSize >= FRAME_HEADER_SIZE) {
        const { flags, seq, length } = this.#peekHeader();
        // The header is checked before its ciphertext is awaited, so a bad length never makes us buffer.
        if ((flags & ~FRAME_FINAL) !== 0) this.#fail(new ChannelError("bad-framing", "reserved frame flags set"));
        if (length < this.#keys.tagSize || length > MAX_FRAME_PLAINTEXT + this.#keys.tagSize) {
          this.#fail(new ChannelError("bad-framing", "frame length out of bounds"));
        }
        if (this.#expected > MAX_SEQUENCE) this.#fail(new ChannelError("sequence-overflow", "no sequence number left"));
        if (seq !== this.#expected) {
          this.#fail(new ChannelError("frame-out-of-order", "a frame was dropped, reordered or repeated"));
        }
        if (this.#pendingSize < FRAME_HEADER_SIZE + length) break;
        const header = this.#take(FRAME_HEADER_SIZE);
        const ciphertext = this.#take(length);
        let plaintext: Uint8Array<ArrayBuffer>;
        try {
          plaintext = new Uint8Array(
            await this.#keys.aead.open(frameNonce(this.#keys.baseNonce, seq), ciphertext, header),
          );
        } catch (e) {
          this.#fail(new ChannelError("tampered", "a frame failed authentication", { cause: e }));
        }
        this.#expected++;
        const final = (flags & FRAME_FINAL) !== 0;
        if (final) {
          this.#final = true;
          if (this.#pendingSize > 0) this.#fail(new ChannelError("bad-framing", "data after the final frame"));
        }
        out.push({ seq, final, plaintext });
      }
      return out;
    } finally {
      this.#busy = false;
    }
  }

  /**
   * The stream ended.
   *
   * @throws ChannelError `truncated` when the final frame has not arrived
   *   (including a partly received frame), or the earlier failure.
   */
  end(): void {
    if (this.#failure) throw this.#failure;
    if (!this.#final) this.#fail(new ChannelError("truncated", "the stream ended before its final frame"));
  }
}
