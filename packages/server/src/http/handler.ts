/**
 * The OpenAI-compatible request handler: routing,
 * limits (body size, time, concurrency), error mapping, client-disconnect and
 * timeout aborts, graceful draining, one log line and the metrics of each
 * request. Per-request work is kept small — a route lookup, no per-request
 * timer (one coarse sweep enforces deadlines), an AbortController only when
 * something reads the signal — so that the handler serves at least 0.8× the
 * requests of a bare `node:http` server (`npm run bench -- http`).
 *
 * It serves a transport-neutral exchange (http/exchange.ts): a plain
 * `node:http` request through {@link NodeExchange}, a sealed one through the
 * sealed channel's sink, with the same routes, limits, logs and metrics.
 */
import type { OutgoingHttpHeaders } from "node:http";
import { VeriteeError } from "@veritee/core";
import type { Engine } from "../engine/types.js";
import { type AccessCheck, type AccessOptions, createAccessCheck } from "./access.js";
import { type BodyReadHolder, DEFAULT_MAX_BODY_BYTES, isJsonContentType, readBodyBytes, readJsonBody } from "./body.js";
import { HttpError, shuttingDown, toHttpError } from "./errors.js";
import { EventStream } from "./event-stream.js";
import {
  type ExchangeHandler,
  type ExchangeListener,
  exchangeListener,
  type HttpRequest,
  type ResponseSink,
} from "./exchange.js";
import type { Governance } from "./governance.js";
import { createJsonLogger, type Logger, silentLogger } from "./logger.js";
import { Metrics } from "./metrics.js";
import { type RequestFacts, type Route, type RouteContext, Router } from "./router.js";
import { builtinRoutes, sendMetrics } from "./routes.js";

/** Limits applied to every request. */
export interface HttpLimits {
  /** Largest accepted request body (default 1 MiB); larger bodies get 413. */
  readonly maxBodyBytes?: number;
  /**
   * Longest time a request may take, streaming included (default 120 s). On
   * expiry the generation is aborted and the client gets 504, or a stream ends
   * with a `timeout` error event.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Most requests to `limited` routes (the inference routes) served at once
   * (default 64); beyond it the answer is 429 with `Retry-After`.
   */
  readonly maxConcurrentRequests?: number;
}

/** Options of {@link createHttpHandler}. */
export interface HttpHandlerOptions {
  readonly engine: Engine;
  readonly limits?: HttpLimits;
  /** More routes (e.g. `GET /v1/attestation`), served with the same limits, logging and metrics. */
  readonly extraRoutes?: readonly Route[];
  /** Default: one JSON line per request on stderr, at level "info". */
  readonly logger?: Logger;
  /**
   * Serve `GET /metrics` on this handler (default true). `veritee serve`
   * passes false and serves the same `metrics` on an admin listener instead
   * ({@link metricsListener}), so the public port does not publish them.
   */
  readonly metricsRoute?: boolean;
  /** API keys and the sealed-only rule for routes not marked `public` (http/access.ts). Default: open. */
  readonly access?: AccessOptions;
  /**
   * Usage governance of a custodial deployment (http/governance.ts): metered
   * routes admit and settle each request through it, and `GET /v1/quota` is
   * served. Its consumers' keys are then the API keys (`access.verifyKey`).
   */
  readonly governance?: Governance;
}

/** Options of {@link HttpHandler.close}. */
export interface CloseOptions {
  /** How long in-flight requests may run before they are ended (default 10 s). */
  readonly graceMs?: number;
}

/** The handler and what goes with it. */
export interface HttpHandler {
  /**
   * A `node:http` request listener; its `serve` takes an exchange directly
   * (what the sealed channel calls with an opened request and its sealing sink).
   */
  readonly handler: ExchangeListener;
  readonly metrics: Metrics;
  /**
   * Drain: new requests get 503; in-flight requests may finish within the
   * grace period; those still running are then aborted, streams ending with a
   * `server_shutting_down` error event and others with 503. Resolves when no
   * request is left. The engine is not closed: its owner closes it after this.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** Defaults of {@link HttpLimits}. */
export const DEFAULT_LIMITS: Required<HttpLimits> = Object.freeze({
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  requestTimeoutMs: 120_000,
  maxConcurrentRequests: 64,
});

/** After the grace period, how long aborted requests get to end themselves before their sockets are cut. */
const ABORT_SETTLE_MS = 2_000;
const DEFAULT_GRACE_MS = 10_000;

const JSON_TYPE = "application/json";
const CLOSE: OutgoingHttpHeaders = Object.freeze({ connection: "close" });
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

function timeoutError(): HttpError {
  return new HttpError("timeout", "The request took longer than this server allows.");
}

function clientClosed(): HttpError {
  return new HttpError("client-closed", "The client closed the connection.");
}

/** Write a complete JSON response. */
function writeJson(sink: ResponseSink, status: number, body: unknown, headers?: OutgoingHttpHeaders): void {
  const text = JSON.stringify(body);
  const head = {
    "content-type": JSON_TYPE,
    "content-length": Buffer.byteLength(text),
    // Responses carry private data: no cache along the way may keep them.
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  };
  sink.head(status, headers === undefined ? head : { ...head, ...headers });
  sink.end(text);
}

function writeError(sink: ResponseSink, error: HttpError, extra?: OutgoingHttpHeaders): void {
  const headers: OutgoingHttpHeaders = { ...extra };
  if (error.retryAfterSeconds !== undefined) headers["retry-after"] = String(error.retryAfterSeconds);
  // An unread or partly read body cannot be skipped reliably: close the connection after answering.
  if (error.code === "body-too-large") headers.connection = "close";
  writeJson(sink, error.status, error.toBody(), headers);
}

/** Class name and closed code of a failure, for the log (never its message). */
function describeFailure(err: unknown): { error: string; code?: string } {
  const cause = err instanceof HttpError && err.cause !== undefined ? err.cause : err;
  const error = cause instanceof Error ? cause.constructor.name : typeof cause;
  if (cause instanceof VeriteeError) return { error, code: cause.code };
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? { error, code } : { error };
}

/** What every exchange of one handler shares: limits, sinks and the drain state. */
interface HandlerState {
  readonly limits: Required<HttpLimits>;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly active: Set<InFlight>;
  limitedActive: number;
  closing: Promise<void> | undefined;
  idleWaiters: (() => void)[];
}

/** Write the request's log line and metrics once its response has closed. */
function finishRequest(
  state: HandlerState,
  req: HttpRequest,
  sink: ResponseSink,
  route: string,
  started: number,
  exchange: InFlight | undefined,
): void {
  const status = sink.finished ? sink.status : 499;
  const seconds = (performance.now() - started) / 1000;
  state.metrics.requestEnded(route, status, seconds);
  if (state.logger === silentLogger) return;
  const method = req.method !== undefined && KNOWN_METHODS.has(req.method) ? req.method : "OTHER";
  const f = exchange?.facts;
  const failure = exchange?.failure;
  state.logger.log(status >= 500 && status !== 499 ? "error" : "info", "request", {
    method,
    route,
    status,
    ms: Math.round(seconds * 10_000) / 10,
    model: f?.model,
    stream: f?.stream,
    prompt_tokens: f?.promptTokens,
    completion_tokens: f?.completionTokens,
    error: failure?.error,
    code: failure?.code,
  });
}

/**
 * Create the OpenAI-compatible handler for an engine.
 *
 * @example
 * ```ts
 * const http = createHttpHandler({ engine, limits: { maxConcurrentRequests: 8 } });
 * const server = await startHttpServer(http, { port: 8080 });
 * ```
 */
export function createHttpHandler(options: HttpHandlerOptions): HttpHandler {
  const metrics = new Metrics();
  const state: HandlerState = {
    limits: { ...DEFAULT_LIMITS, ...definedOnly(options.limits) },
    metrics,
    logger: options.logger ?? createJsonLogger(),
    active: new Set(),
    limitedActive: 0,
    closing: undefined,
    idleWaiters: [],
  };
  const router = new Router([
    ...builtinRoutes(options.engine, metrics, options.metricsRoute ?? true, options.governance),
    ...(options.extraRoutes ?? []),
  ]);
  const governance = options.governance;
  const accessOptions: AccessOptions | undefined = governance
    ? { ...options.access, verifyKey: (token) => governance.knows(token) }
    : options.access;
  const access: AccessCheck | undefined = accessOptions ? createAccessCheck(accessOptions) : undefined;

  // One coarse timer enforces every request's deadline, instead of a timer per request.
  const sweepMs = Math.max(10, Math.min(1000, Math.floor(state.limits.requestTimeoutMs / 8)));
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const now = performance.now();
    for (const exchange of state.active) if (exchange.deadline <= now) exchange.abort(timeoutError());
  };

  const whenIdle = (ms: number) =>
    new Promise<void>((resolve) => {
      if (state.active.size === 0) return resolve();
      const timer = setTimeout(resolve, ms);
      state.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });

  const serve: ExchangeHandler = (req, sink) => {
    const started = performance.now();
    metrics.requestStarted();
    const url = req.target;
    const q = url.indexOf("?");
    const match = router.match(req.method, q < 0 ? url : url.slice(0, q));

    let refusal: HttpError | undefined;
    let headers: OutgoingHttpHeaders | undefined;
    const denied = match.kind === "found" && access !== undefined ? access(req, match.route) : undefined;
    if (match.kind === "none") {
      refusal = new HttpError("not-found", "Unknown URL.");
    } else if (match.kind === "wrong-method") {
      refusal = new HttpError("method-not-allowed", "Method not allowed for this URL.");
      headers = { allow: match.allow };
    } else if (denied !== undefined) {
      refusal = denied;
      // RFC 6750 §3: a 401 names the scheme.
      if (denied.code === "unauthorized") headers = { "www-authenticate": "Bearer" };
    } else if (state.closing) {
      metrics.rejected("shutting-down");
      refusal = shuttingDown();
      headers = { connection: "close" };
    } else if (match.route.limited && state.limitedActive >= state.limits.maxConcurrentRequests) {
      metrics.rejected("concurrency");
      refusal = new HttpError("too-many-requests", "Too many concurrent requests; retry later.", {
        retryAfterSeconds: 1,
      });
    }
    if (refusal || match.kind !== "found") {
      const route = match.kind === "none" ? "unmatched" : match.kind === "found" ? match.route.path : match.template;
      sink.onClose(() => finishRequest(state, req, sink, route, started, undefined));
      writeError(sink, refusal!, headers);
      return;
    }

    const route = match.route;
    const exchange = new InFlight(state, req, sink, match.params, url, q, route, started);
    sink.onClose(() => {
      exchange.closed();
      finishRequest(state, req, sink, route.path, started, exchange);
    });
    sweeper ??= setInterval(sweep, sweepMs).unref();

    void runRoute(route, req, sink, exchange);
  };

  return {
    handler: exchangeListener(serve),
    metrics,
    close(closeOptions?: CloseOptions): Promise<void> {
      state.closing ??= (async () => {
        await whenIdle(closeOptions?.graceMs ?? DEFAULT_GRACE_MS);
        for (const exchange of state.active) exchange.abort(shuttingDown());
        await whenIdle(ABORT_SETTLE_MS);
        for (const exchange of state.active) exchange.destroy();
        if (sweeper) clearInterval(sweeper);
      })();
      return state.closing;
    },
  };
}

/**
 * The admin listener's handler: `GET /metrics` (Prometheus text) and
 * `GET /healthz`, 404 for anything else. Nothing of a request is read.
 */
export function metricsListener(metrics: Metrics): ExchangeListener {
  return exchangeListener((req, sink) => {
    const path = req.target.split("?")[0];
    if (req.method === "GET" && path === "/metrics") return sendMetrics(sink, metrics);
    if (req.method === "GET" && path === "/healthz") return writeJson(sink, 200, { status: "ok" });
    writeError(sink, new HttpError("not-found", "Unknown URL."));
  });
}

/** Run a route's handler and settle its exchange; never rejects. */
async function runRoute(route: Route, req: HttpRequest, sink: ResponseSink, exchange: InFlight): Promise<void> {
  try {
    await route.handler(req, sink, exchange);
  } catch (err) {
    exchange.fail(err);
    exchange.settled(false);
    return;
  }
  exchange.settled(true);
}

function definedOnly(limits: HttpLimits | undefined): HttpLimits {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(limits ?? {})) if (v !== undefined) out[k] = v;
  return out;
}

type MutableFacts = { -readonly [K in keyof RequestFacts]: RequestFacts[K] };

/** One request in flight: the `RouteContext` its handler sees. */
class InFlight implements RouteContext, BodyReadHolder {
  readonly params: Readonly<Record<string, string>>;
  /** `performance.now()` after which the request times out. */
  readonly deadline: number;
  /** Facts noted by the route, for the request's log line. */
  readonly facts: MutableFacts = {
    model: undefined,
    stream: undefined,
    promptTokens: undefined,
    completionTokens: undefined,
  };
  /** Class name and code of the request's failure, for the log line (5xx only). */
  failure: { error: string; code?: string } | undefined;
  /** Set while the body is being read. */
  abortBodyRead: ((reason: unknown) => void) | undefined;
  readonly #state: HandlerState;
  readonly #req: HttpRequest;
  readonly #res: ResponseSink;
  readonly #url: string;
  readonly #q: number;
  readonly #limited: boolean;
  #controller: AbortController | undefined;
  #stream: EventStream | undefined;
  #bodyRead = false;
  #failed = false;
  #responseClosed = false;
  #handlerSettled = false;

  constructor(
    state: HandlerState,
    req: HttpRequest,
    res: ResponseSink,
    params: Readonly<Record<string, string>>,
    url: string,
    q: number,
    route: Route,
    started: number,
  ) {
    this.#state = state;
    this.#req = req;
    this.#res = res;
    this.params = params;
    this.#url = url;
    this.#q = q;
    this.#limited = route.limited === true;
    this.deadline = started + state.limits.requestTimeoutMs;
    state.active.add(this);
    if (this.#limited) state.limitedActive++;
  }

  get query(): string {
    return this.#q < 0 ? "" : this.#url.slice(this.#q + 1);
  }

  /** Created on first use: an AbortController is the costliest object of a request. */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  get #aborted(): boolean {
    return this.#controller?.signal.aborted === true;
  }

  readJson(): Promise<Record<string, unknown>> {
    if (this.#bodyRead) return Promise.reject(new Error("the request body was already read"));
    this.#bodyRead = true;
    if (!isJsonContentType(this.#req.headers["content-type"])) {
      return Promise.reject(
        new HttpError("unsupported-media-type", "The request body must be sent as application/json."),
      );
    }
    return readJsonBody(this.#req, this.#state.limits.maxBodyBytes, this);
  }

  readBytes(): Promise<Buffer> {
    if (this.#bodyRead) return Promise.reject(new Error("the request body was already read"));
    this.#bodyRead = true;
    return readBodyBytes(this.#req, this.#state.limits.maxBodyBytes, this);
  }

  sendJson(status: number, body: unknown, headers?: OutgoingHttpHeaders): void {
    if (this.#answered()) return;
    writeJson(this.#res, status, body, this.#state.closing ? { ...headers, connection: "close" } : headers);
  }

  startEventStream(headers?: OutgoingHttpHeaders): EventStream {
    if (this.#stream) return this.#stream;
    if (this.#answered()) throw this.#controller?.signal.reason ?? new Error("the response was already sent");
    const extra = this.#state.closing ? (headers ? { ...headers, ...CLOSE } : CLOSE) : headers;
    this.#stream = new EventStream(this.#res, extra);
    return this.#stream;
  }

  note(facts: RequestFacts): void {
    const f = this.facts;
    if (facts.model !== undefined) f.model = facts.model;
    if (facts.stream !== undefined) f.stream = facts.stream;
    if (facts.promptTokens !== undefined) f.promptTokens = facts.promptTokens;
    if (facts.completionTokens !== undefined) f.completionTokens = facts.completionTokens;
  }

  #answered(): boolean {
    return this.#res.headSent || this.#res.destroyed;
  }

  /**
   * Abort the request's work. For a timeout or a shutdown the client is
   * answered at once, whether or not the route reacts to the signal.
   */
  abort(reason: HttpError): void {
    this.#controller ??= new AbortController();
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(reason);
    // A body still arriving (a stalled upload) must not hold the request open.
    this.abortBodyRead?.(reason);
    if (reason.code !== "client-closed") this.fail(reason);
  }

  /** The route failed (threw, rejected) or the request was aborted. */
  fail(err: unknown): void {
    // After an abort, whatever the route throws is a consequence: report the cause.
    const cause =
      this.#aborted && !(err instanceof HttpError && err.code !== "internal") ? this.#controller!.signal.reason : err;
    const error = toHttpError(cause);
    if (this.#failed) return;
    this.#failed = true;
    const metrics = this.#state.metrics;
    if (error.code === "busy") metrics.rejected("engine-busy");
    else if (error.code === "timeout") metrics.rejected("timeout");
    else if (error.code === "body-too-large") metrics.rejected("body-too-large");
    else if (error.code === "insufficient-quota") metrics.rejected("insufficient-quota");
    else if (error.code === "model-unavailable") metrics.rejected("model-unavailable");
    else if (error.code === "too-many-requests") metrics.rejected("rate-limited");
    if (error.status >= 500 && error.code !== "client-closed") this.failure = describeFailure(cause);
    if (this.#stream ? this.#stream.ended : this.#answered()) return;
    if (error.code === "client-closed") {
      this.#res.destroy();
    } else if (this.#stream) {
      this.#stream.fail(error);
    } else if (this.#res.headSent) {
      // A route wrote its own headers and then failed: the status is gone, cut the response.
      this.#res.destroy();
    } else {
      // Close the connection after answering while draining, or when the body was not read to its end.
      const close = this.#state.closing || (this.#bodyRead && !this.#req.complete);
      writeError(this.#res, error, close ? { connection: "close" } : undefined);
    }
  }

  /**
   * The route's handler settled. One that resolved must have answered (or be
   * streaming, by its own choice); the request counts as in flight until its
   * handler has settled, so that draining waits for engines to stop.
   */
  settled(resolved: boolean): void {
    if (resolved && !this.#res.headSent && !this.#res.destroyed) {
      this.fail(new Error("route returned without a response"));
    }
    this.#handlerSettled = true;
    if (this.#responseClosed) this.#done();
  }

  /** The response closed (sent, or the client went away). */
  closed(): void {
    if (!this.#res.finished) this.abort(clientClosed());
    this.#responseClosed = true;
    if (this.#handlerSettled) this.#done();
  }

  #done(): void {
    const state = this.#state;
    state.active.delete(this);
    if (this.#limited) state.limitedActive--;
    if (state.active.size === 0 && state.idleWaiters.length > 0) {
      const waiters = state.idleWaiters;
      state.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Last resort at shutdown: cut the connection. */
  destroy(): void {
    this.#res.destroy();
  }
}
