/**
 * Stop-string detection over streamed text. OpenAI's `stop` semantics: the
 * completion ends before the first occurrence of any stop string, and that
 * occurrence is not returned. While streaming, text that could still turn out
 * to be the beginning of a stop string is held back, so no part of a stop
 * string is ever emitted, not even a prefix that is later retracted.
 */

/** What one `push` releases. */
export interface StopScan {
  /** Text that is now certain to be part of the completion. */
  readonly emit: string;
  /** True when a stop string completed; nothing after it will be emitted. */
  readonly stopped: boolean;
}

/**
 * Incremental stop-string scanner. Feed decoded text with `push`; emit what it
 * returns; at the end of generation (EOS, length) call `flush` for the text
 * that was held back but never completed a stop string.
 *
 * Invariant: every position before the held text is the start of no stop
 * string (it neither contains one nor could grow into one), so a match can
 * only begin inside the held text and scanning it suffices.
 *
 * @example
 * const s = new StopScanner(["Lily"]);
 * s.push("her name was Li"); // { emit: "her name was ", stopped: false }
 * s.push("ly."); // { emit: "", stopped: true }
 */
export class StopScanner {
  readonly #stops: readonly string[];
  #held = "";
  #stopped = false;

  /** Empty stop strings are ignored (they would match everywhere). */
  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  /** Whether a stop string has completed. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Add decoded text; returns what may be emitted now. */
  push(text: string): StopScan {
    if (this.#stopped) return { emit: "", stopped: true };
    if (this.#stops.length === 0) return { emit: text, stopped: false };
    const held = this.#held + text;
    // The match that completes first wins (ties: the earliest start): a
    // generator stops at the first token that completes any stop string, so
    // a longer stop string that started earlier but is not yet complete never
    // gets the chance. This makes the result independent of how the text
    // arrives in chunks.
    let first = -1;
    let firstEnd = -1;
    for (const stop of this.#stops) {
      const at = held.indexOf(stop);
      if (at < 0) continue;
      const end = at + stop.length;
      if (firstEnd < 0 || end < firstEnd || (end === firstEnd && at < first)) {
        first = at;
        firstEnd = end;
      }
    }
    if (first >= 0) {
      this.#stopped = true;
      this.#held = "";
      return { emit: held.slice(0, surrogateSafe(held, first)), stopped: true };
    }
    const keepFrom = surrogateSafe(held, this.#partialMatchStart(held));
    this.#held = held.slice(keepFrom);
    return { emit: held.slice(0, keepFrom), stopped: false };
  }

  /** End of generation without a stop: release the held text. */
  flush(): string {
    const rest = this.#stopped ? "" : this.#held;
    this.#held = "";
    return rest;
  }

  /** The earliest index whose suffix is a proper prefix of some stop string (or `held.length`). */
  #partialMatchStart(held: string): number {
    let longest = 0;
    for (const stop of this.#stops) longest = Math.max(longest, stop.length);
    for (let p = Math.max(0, held.length - longest + 1); p < held.length; p++) {
      const tail = held.slice(p);
      if (this.#stops.some((stop) => stop.startsWith(tail))) return p;
    }
    return held.length;
  }
}

/** Never split a UTF-16 surrogate pair: move a cut that falls between its halves one unit back. */
function surrogateSafe(text: string, cut: number): number {
  if (cut > 0 && cut < text.length) {
    const before = text.charCodeAt(cut - 1);
    const after = text.charCodeAt(cut);
    if (before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff) return cut - 1;
  }
  return cut;
}
