/**
 * A server-sent events parser (WHATWG HTML Living Standard §9.2.6
 * "Interpreting an event stream"), for reading an upstream's streamed
 * completions. Bytes may arrive split anywhere: inside a UTF-8 character,
 * between CR and LF, inside a field name. Lines end with CRLF, LF or CR;
 * lines starting with ":" are comments; `data` lines accumulate (joined with
 * LF); an empty line dispatches the event; an event left unfinished at the
 * end of the stream is discarded.
 */
import { MalformedError } from "@veritee/core";

/** One dispatched event. */
export interface SseEvent {
  /** The `event` field, or "message" when absent. */
  readonly event: string;
  /** The `data` lines joined with LF. */
  readonly data: string;
  /** The last event ID seen so far in the stream ("" when none). */
  readonly id: string;
}

/** Upper bound of one line or one event's data, in UTF-16 code units; a stream that exceeds it is malformed. */
export const DEFAULT_MAX_SSE_EVENT = 4 * 1024 * 1024;

/**
 * Incremental SSE parser: `push` each received chunk, then `end` once.
 * Throws MalformedError "too-large" for a line or event beyond `maxEvent`.
 *
 * @example
 * const parser = new SseParser();
 * for await (const chunk of response.body) for (const e of parser.push(chunk)) handle(e);
 * for (const e of parser.end()) handle(e);
 */
export class SseParser {
  readonly #decoder = new TextDecoder("utf-8");
  readonly #maxEvent: number;
  #buffer = "";
  /** Characters of #buffer already known to hold no line end (so a long line is scanned once, not once per chunk). */
  #scanned = 0;
  #data = "";
  #hasData = false;
  #event = "";
  #lastId = "";

  constructor(maxEvent: number = DEFAULT_MAX_SSE_EVENT) {
    this.#maxEvent = maxEvent;
  }

  /** Feed bytes (or already-decoded text); returns the events completed by them. */
  push(chunk: Uint8Array | string): SseEvent[] {
    // TextDecoder with `stream` keeps an incomplete UTF-8 sequence for the next chunk; it also drops a leading BOM (§9.2.6).
    this.#buffer += typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    return this.#drain(false);
  }

  /** The stream ended: process a final line ended by a lone CR; an unfinished event is discarded. */
  end(): SseEvent[] {
    this.#buffer += this.#decoder.decode();
    const events = this.#drain(true);
    this.#buffer = "";
    this.#scanned = 0;
    this.#data = "";
    this.#hasData = false;
    this.#event = "";
    return events;
  }

  #drain(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    let from = this.#scanned;
    for (;;) {
      let eol = -1;
      for (let i = from; i < this.#buffer.length; i++) {
        const c = this.#buffer.charCodeAt(i);
        if (c === 0x0a || c === 0x0d) {
          eol = i;
          break;
        }
      }
      if (eol < 0) {
        from = this.#buffer.length;
        break;
      }
      let next = eol + 1;
      if (this.#buffer.charCodeAt(eol) === 0x0d) {
        // CR may be the first half of CRLF: decide only once the next character (or the end) is known.
        if (next === this.#buffer.length && !final) {
          from = eol;
          break;
        }
        if (this.#buffer.charCodeAt(next) === 0x0a) next++;
      }
      const event = this.#line(this.#buffer.slice(start, eol));
      if (event !== undefined) events.push(event);
      start = next;
      from = next;
    }
    this.#buffer = this.#buffer.slice(start);
    this.#scanned = from - start;
    if (this.#buffer.length > this.#maxEvent) throw new MalformedError("too-large", "SSE line");
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line.length === 0) return this.#dispatch();
    if (line.charCodeAt(0) === 0x3a) return undefined; // ":" comment
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (field) {
      case "event":
        this.#event = value;
        break;
      case "data":
        this.#data += `${value}\n`;
        this.#hasData = true;
        if (this.#data.length > this.#maxEvent) throw new MalformedError("too-large", "SSE event data");
        break;
      case "id":
        if (!value.includes("\0")) this.#lastId = value;
        break;
      default:
        // "retry" and unknown fields: nothing to do for a one-shot stream.
        break;
    }
    return undefined;
  }

  #dispatch(): SseEvent | undefined {
    const event = this.#event;
    this.#event = "";
    if (!this.#hasData) {
      this.#data = "";
      return undefined;
    }
    const data = this.#data.slice(0, -1);
    this.#data = "";
    this.#hasData = false;
    return { event: event === "" ? "message" : event, data, id: this.#lastId };
  }
}
