/**
 * The transport-neutral request/response pair the OpenAI handler serves, in
 * the spirit of the Fetch standard's `Request → Response` (as Hono's core
 * is): a {@link HttpRequest} value in, a {@link ResponseSink} out. The
 * handler, its routes and its event streams read and write only through
 * these two, so that a layer in front of it — the sealed channel
 * (channel/sealed-http.ts) — transforms an exchange instead of patching a
 * live `ServerResponse` or faking an `IncomingMessage`.
 *
 * Why a sink and not a web `Response` value: a route answers either a whole
 * JSON body of known length or a server-sent event stream with
 * back-pressure, and the hot path (issue 15: at least 0.8× the requests of a
 * bare `node:http` server) cannot afford a `ReadableStream`, a `Headers`
 * object and a promise per chunk. The sink keeps the stream's shape explicit
 * (`head`, `write → boolean`, `drained`, `end`), costs one small object per
 * plain request ({@link NodeExchange}, request and sink in one) and lets the
 * sealing sink choose "whole" or "stream" from the head alone.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";

/** What the handler reads of a request, whatever carried it. */
export interface HttpRequest {
  /** The request method as sent (`undefined` only for a malformed node:http request). */
  readonly method: string | undefined;
  /** The request target: path and query (RFC 9112 §3.2, origin-form). */
  readonly target: string;
  /** Header fields, lower-case names (repeated fields combined as node:http does). */
  readonly headers: IncomingHttpHeaders;
  /** Whether the request came through the sealed channel (`--require-sealed`, http/access.ts). */
  readonly sealed: boolean;
  /**
   * The whole body when it is already in memory (a sealed request was opened
   * whole); `undefined` when it is still arriving on {@link HttpRequest.stream}.
   */
  readonly bytes: Uint8Array | undefined;
  /** The body as it arrives (node:http), when {@link HttpRequest.bytes} is undefined. */
  readonly stream: IncomingMessage | undefined;
  /** Whether the body has been received to its end (so the connection can be reused after an early answer). */
  readonly complete: boolean;
}

/**
 * Where a response goes. `head` once, then `write`s, then `end`; a sink
 * answers each call after `end` or `destroy` by doing nothing (a `write`
 * returns false).
 */
export interface ResponseSink {
  /**
   * Send the status and header fields. A `content-length` field announces a
   * whole body of that length; without one the body is a stream.
   */
  head(status: number, fields: OutgoingHttpHeaders): void;
  /**
   * Send a part of the body. False: the client reads slower than the body
   * comes (back-pressure); await {@link ResponseSink.drained} before more.
   * `written` runs once the part has been handed to the connection.
   */
  write(chunk: string | Uint8Array, written?: () => void): boolean;
  /** Resolves when the sink takes more again, or when the response closed. */
  drained(): Promise<void>;
  /** Send the last part (if any) and end the response; `sent` runs once it is handed to the connection. */
  end(chunk?: string | Uint8Array, sent?: () => void): void;
  /** Cut the response: the client sees a truncated answer or a reset. */
  destroy(): void;
  /** `listener` runs once when the response closed: sent in full, or the connection went away. */
  onClose(listener: () => void): void;
  /** Whether `head` was called. */
  readonly headSent: boolean;
  /** Whether the response was cut or its connection closed. */
  readonly destroyed: boolean;
  /** Whether the whole response was handed to the connection. */
  readonly finished: boolean;
  /** The status the route chose (for logs and metrics), also when the wire shows another. */
  readonly status: number;
}

/** Serves one exchange. */
export type ExchangeHandler = (request: HttpRequest, sink: ResponseSink) => void;

/**
 * A plain `node:http` exchange: request and sink in one object, each member
 * a direct call on the `IncomingMessage` or `ServerResponse`, so that a
 * plain request costs one allocation more than the handler itself.
 */
export class NodeExchange implements HttpRequest, ResponseSink {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#req = req;
    this.#res = res;
  }

  get method(): string | undefined {
    return this.#req.method;
  }

  get target(): string {
    return this.#req.url ?? "/";
  }

  get headers(): IncomingHttpHeaders {
    return this.#req.headers;
  }

  get sealed(): boolean {
    return false;
  }

  get bytes(): undefined {
    return undefined;
  }

  get stream(): IncomingMessage {
    return this.#req;
  }

  get complete(): boolean {
    return this.#req.complete;
  }

  head(status: number, fields: OutgoingHttpHeaders): void {
    this.#res.writeHead(status, fields);
  }

  write(chunk: string | Uint8Array, written?: () => void): boolean {
    return written === undefined ? this.#res.write(chunk) : this.#res.write(chunk, written);
  }

  drained(): Promise<void> {
    const res = this.#res;
    return new Promise((resolve) => {
      const done = () => {
        res.off("drain", done);
        res.off("close", done);
        resolve();
      };
      res.on("drain", done);
      res.on("close", done);
    });
  }

  end(chunk?: string | Uint8Array, sent?: () => void): void {
    if (chunk === undefined) this.#res.end(sent);
    else this.#res.end(chunk, sent);
  }

  destroy(): void {
    this.#res.destroy();
  }

  onClose(listener: () => void): void {
    // A response closes once; `on` spares the wrapper that `once` allocates.
    this.#res.on("close", listener);
  }

  get headSent(): boolean {
    return this.#res.headersSent;
  }

  get destroyed(): boolean {
    return this.#res.destroyed;
  }

  get finished(): boolean {
    return this.#res.writableFinished;
  }

  get status(): number {
    return this.#res.statusCode;
  }
}

/** A `node:http` request listener. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/** A `node:http` listener that can also serve an exchange directly (what `createHttpHandler` returns). */
export type ExchangeListener = NodeListener & { readonly serve: ExchangeHandler };

/** `serve` as a `node:http` listener that keeps `serve` reachable for layers in front of it. */
export function exchangeListener(serve: ExchangeHandler): ExchangeListener {
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const exchange = new NodeExchange(req, res);
    serve(exchange, exchange);
  };
  return Object.assign(listener, { serve });
}
