/**
 * Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, then
 * `data: [DONE]\n\n` (WHATWG HTML §9.2 "Server-sent events" framing). A stream
 * that fails after it started cannot change its status any more, so it ends
 * with one `data: {"error": …}` event, which the `openai` package raises as an
 * `APIError`, and without `[DONE]`.
 */
import type { OutgoingHttpHeaders } from "node:http";
import type { HttpError } from "./errors.js";
import type { ResponseSink } from "./exchange.js";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  // Tells nginx-style proxies not to buffer the stream.
  "x-accel-buffering": "no",
} as const;

/** One response's event stream. */
export class EventStream {
  readonly #sink: ResponseSink;
  #ended = false;

  /**
   * Sends the 200 status and the event-stream headers (no `content-length`:
   * the body is a stream), with `extra` fields (e.g. `connection: close`).
   */
  constructor(sink: ResponseSink, extra?: OutgoingHttpHeaders) {
    this.#sink = sink;
    sink.head(200, extra === undefined ? SSE_HEADERS : { ...SSE_HEADERS, ...extra });
  }

  /** True once the stream was ended by us or closed by the client. */
  get ended(): boolean {
    return this.#ended || this.#sink.destroyed;
  }

  /**
   * Send one event with `json` (already serialized) as data. Returns a promise
   * only when the client reads slower than events come (back-pressure): await
   * it before sending more. Sending after the stream ended does nothing.
   */
  send(json: string): Promise<void> | undefined {
    if (this.ended) return undefined;
    if (this.#sink.write(`data: ${json}\n\n`)) return undefined;
    return this.#sink.drained();
  }

  /** End successfully with `data: [DONE]`. */
  done(): void {
    if (this.ended) return;
    this.#ended = true;
    this.#sink.end("data: [DONE]\n\n");
  }

  /** End with an OpenAI error event (no `[DONE]`). */
  fail(error: HttpError): void {
    if (this.ended) return;
    this.#ended = true;
    this.#sink.end(`data: ${JSON.stringify(error.toBody())}\n\n`);
  }
}
