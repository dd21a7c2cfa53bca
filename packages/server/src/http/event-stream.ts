/**
 * Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, then
 * `data: [DONE]\n\n` (WHATWG HTML §9.2 "Server-sent events" framing). A stream
 * that fails after it started cannot change its status any more, so it ends
 * with one `data: {"error": …}` event, which the `openai` package raises as an
 * `APIError`, and without `[DONE]`.
 */
import type { ServerResponse } from "node:http";
import type { HttpError } from "./errors.js";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  // Tells nginx-style proxies not to buffer the stream.
  "x-accel-buffering": "no",
} as const;

/** One response's event stream. */
export class EventStream {
  readonly #res: ServerResponse;
  #ended = false;

  /** Sends the 200 status and the event-stream headers (the body is chunked). */
  constructor(res: ServerResponse) {
    this.#res = res;
    res.writeHead(200, SSE_HEADERS);
  }

  /** True once the stream was ended by us or closed by the client. */
  get ended(): boolean {
    return this.#ended || this.#res.destroyed;
  }

  /**
   * Send one event with `json` (already serialized) as data. Returns a promise
   * only when the client reads slower than events come (back-pressure): await
   * it before sending more. Sending after the stream ended does nothing.
   */
  send(json: string): Promise<void> | undefined {
    if (this.ended) return undefined;
    if (this.#res.write(`data: ${json}\n\n`)) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        this.#res.off("drain", done);
        this.#res.off("close", done);
        resolve();
      };
      this.#res.on("drain", done);
      this.#res.on("close", done);
    });
  }

  /** End successfully with `data: [DONE]`. */
  done(): void {
    if (this.ended) return;
    this.#ended = true;
    this.#res.end("data: [DONE]\n\n");
  }

  /** End with an OpenAI error event (no `[DONE]`). */
  fail(error: HttpError): void {
    if (this.ended) return;
    this.#ended = true;
    this.#res.end(`data: ${JSON.stringify(error.toBody())}\n\n`);
  }
}
