/**
 * The sealed channel on the server (docs/CHANNEL.md, version 2): a layer in
 * front of the OpenAI handler that takes `POST /v1/sealed`, opens the sealed
 * Binary HTTP request with the server's in-memory HPKE key, runs the
 * unchanged route on the inner request (its own method, target, header
 * fields and body), and seals whatever the route writes — a JSON answer, an
 * error, or an SSE stream event by event — into response frames.
 *
 * The route sees an `IncomingMessage` built from the inner request and the
 * real `ServerResponse`, whose `writeHead`/`write`/`end` seal on the way out.
 * The plaintext never reaches a log: this layer logs only a fixed event with
 * a code and a status, and the handler's own log line carries no body (see
 * http/logger.ts). Unsealed requests pass through untouched; version 1 sealed
 * requests are refused with `sealed_version_unsupported`.
 */
import { IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import {
  ChannelError,
  type DecodedBinaryRequest,
  KEY_SET_HEADER,
  openRequest,
  REQUEST_HEADER_SIZE,
  type RecipientKey,
  type Responder,
  type ResponseHead,
  type ResponseSealer,
  SEALED_PATH,
  SEALED_REQUEST_TYPE,
  SEALED_RESPONSE_TYPE,
  V1_INNER_CONTENT_TYPE_HEADER,
  V1_SEALED_REQUEST_HEADER,
  X25519_ENC_SIZE,
} from "@veritee/channel";
import { concatBytes, toHex } from "@veritee/core";
import { DEFAULT_MAX_BODY_BYTES } from "../http/body.js";
import { createJsonLogger, type Logger } from "../http/logger.js";

/** A `node:http` request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Options of {@link withSealedChannel}. */
export interface SealedChannelOptions {
  /** The server's HPKE key (`nodeRecipientKey(...)` over `ServerKeys`). */
  readonly recipient: RecipientKey;
  /** Largest plaintext body (default 1 MiB, as the handler's `maxBodyBytes`). */
  readonly maxBodyBytes?: number;
  /** Where the layer's own events go (codes and statuses only). Default: JSON lines on stderr. */
  readonly logger?: Logger;
}

/**
 * Response header fields that belong to the plaintext response and are sealed
 * into its head; every other field stays on the outer response (caching and
 * buffering directives for intermediaries).
 */
export const SEALED_RESPONSE_FIELDS: readonly string[] = Object.freeze([
  "content-type",
  "retry-after",
  "allow",
  // A 401's challenge would tell a relay that the key was refused.
  "www-authenticate",
]);

/** Outer fields dropped: the sealed body has another length. */
const DROPPED_FIELDS = new Set(["content-length", "transfer-encoding"]);

/** Most bytes a sealed request adds to its plaintext: hdr, enc and a 16-byte tag. */
const SEAL_OVERHEAD = REQUEST_HEADER_SIZE + X25519_ENC_SIZE + 16;
/**
 * Room in a sealed request for the Binary HTTP framing around the body: the
 * control data and a header section (an `Authorization` field, the SDK's
 * own fields) — bounded by the decoder at 64 KiB per section.
 */
const BHTTP_ALLOWANCE = 64 * 1024;
/**
 * A sealed request over the limit is read to its end (and dropped) up to
 * this many bytes before the 413 goes out, so that a client still sending
 * sees the answer instead of a reset connection (the `openai` package
 * reports a reset as "Connection error" and retries it). Beyond it the
 * connection is cut.
 */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
/** Header fields of the inner request that describe a connection, not the request: dropped. */
const INNER_DROPPED_FIELDS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "expect",
  "content-length",
  "host",
]);

/** The inner requests this layer opened, for {@link wasSealed}. */
const sealedRequests = new WeakSet<IncomingMessage>();

/** Whether `req` is the inner request of a sealed request (for `--require-sealed`). */
export function wasSealed(req: IncomingMessage): boolean {
  return sealedRequests.has(req);
}
/** Above this many sealed bytes waiting, `write` reports back-pressure. */
const HIGH_WATER_BYTES = 64 * 1024;

function mediaType(header: string | undefined): string {
  if (header === undefined) return "";
  const semi = header.indexOf(";");
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}

/** Whether a request uses the sealed channel (a sealed body, or version 1's sealed-request header). */
export function isSealedRequest(req: IncomingMessage): boolean {
  return (
    req.headers[V1_SEALED_REQUEST_HEADER] !== undefined ||
    mediaType(req.headers["content-type"]) === SEALED_REQUEST_TYPE
  );
}

/** An answer of this layer itself: an unsealed OpenAI error (there is no key to seal with yet). */
class Refusal {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
  ) {}
}

function refuse(res: ServerResponse, refusal: Refusal): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({
    error: { message: refusal.message, type: "invalid_request_error", param: null, code: refusal.code },
  });
  res.writeHead(refusal.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    // The body may be partly unread: do not reuse the connection.
    connection: "close",
  });
  res.end(body);
}

const invalid = (message: string) => new Refusal(400, "sealed_request_invalid", message);

const tooLarge = () => new Refusal(413, "request_too_large", "The sealed request is larger than this server accepts.");

/**
 * The whole sealed body, at most `maxBytes`. A larger one is read to its end
 * and dropped (up to {@link DRAIN_LIMIT_BYTES}) before the 413, so that the
 * client gets the answer; a declared length beyond the drain limit is
 * refused at once.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > DRAIN_LIMIT_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = declared !== undefined && Number(declared) > maxBytes;
    let settled = false;
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > DRAIN_LIMIT_BYTES) {
        settled = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      if (size > maxBytes) over = true;
      if (over) chunks.length = 0;
      else chunks.push(chunk);
    });
    req.on("end", () => {
      if (settled) return;
      settled = true;
      if (over) {
        reject(tooLarge());
        return;
      }
      const all = Buffer.concat(chunks, size);
      resolve(new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    });
    req.on("close", () => {
      if (settled || req.complete) return;
      settled = true;
      reject(new ChannelError("truncated", "the client closed the connection"));
    });
  });
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

/**
 * The request the route sees: the inner request's method, target, header
 * fields and body. Nothing of the outer request is kept but its socket (for
 * the connection's lifetime): its path and headers are the relay's.
 */
function innerRequest(outer: IncomingMessage, inner: DecodedBinaryRequest): IncomingMessage {
  const req = new IncomingMessage(outer.socket);
  req.method = inner.method;
  req.url = inner.path;
  req.httpVersion = outer.httpVersion;
  req.httpVersionMajor = outer.httpVersionMajor;
  req.httpVersionMinor = outer.httpVersionMinor;
  const headers: Record<string, string> = Object.create(null);
  for (const [name, value] of inner.headers) {
    if (INNER_DROPPED_FIELDS.has(name)) continue;
    // Repeated fields combine as RFC 9110 §5.3 allows; node:http does the same for most.
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  if (inner.authority !== "") headers.host = inner.authority;
  const body = inner.body;
  if (body.length > 0 || headers["content-type"] !== undefined) headers["content-length"] = String(body.length);
  req.headers = headers as IncomingMessage["headers"];
  if (body.length > 0) req.push(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  // The whole body is here: the route's reader must see a complete request, as node:http would report it.
  req.complete = true;
  req.push(null);
  sealedRequests.add(req);
  return req;
}

const versionUnsupported = () =>
  new Refusal(
    400,
    "sealed_version_unsupported",
    "This server accepts sealed requests of channel version 2 only (POST /v1/sealed, the request sealed as Binary HTTP); version 1 sealed requests are refused. Update the client.",
  );

/**
 * Wrap a request listener (e.g. `createHttpHandler(...).handler`) with the
 * sealed channel.
 *
 * @example
 * const http = createHttpHandler({ engine });
 * const recipient = nodeRecipientKey({ keyConfig: keys.keySet.hpke, keySetDigest: keys.keySetDigest, privateKey: keys.hpkePrivateKey });
 * await startHttpServer({ ...http, handler: withSealedChannel(http.handler, { recipient }) });
 */
export function withSealedChannel(listener: RequestListener, options: SealedChannelOptions): RequestListener {
  const maxInnerBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // The decoder lets a body past the handler's limit through (up to what was read), so that the handler itself
  // answers 413 — sealed, which the client can trust and report.
  const maxSealed = maxInnerBody + BHTTP_ALLOWANCE + SEAL_OVERHEAD;
  const logger = options.logger ?? createJsonLogger();
  const keySetHex = toHex(options.recipient.keySetDigest);
  const note = (status: number, code: string) =>
    logger.log(status >= 500 ? "error" : "info", "sealed-request-refused", { status, code });

  const open = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Version 1 put the sealed request on the real path (or in a header for GET and HEAD): refuse it by name.
    if (
      req.headers[V1_SEALED_REQUEST_HEADER] !== undefined ||
      req.headers[V1_INNER_CONTENT_TYPE_HEADER] !== undefined ||
      req.url !== SEALED_PATH
    ) {
      throw versionUnsupported();
    }
    if (req.method !== "POST") throw invalid("Sealed requests are sent with POST.");
    if (single(req.headers[KEY_SET_HEADER]) !== keySetHex) {
      throw new Refusal(
        421,
        "sealed_key_unknown",
        "The request is sealed to a key set this server does not hold; attest again.",
      );
    }
    const sealed = await readBody(req, maxSealed);
    const { request, responder } = await openRequest(options.recipient, sealed, { maxBodyBytes: maxSealed });
    if (request.trailers.length > 0) throw invalid("Sealed requests carry no trailer fields.");
    new SealingResponse(res, responder, logger).install();
    listener(innerRequest(req, request), res);
  };

  return (req, res) => {
    if (!isSealedRequest(req)) {
      listener(req, res);
      return;
    }
    open(req, res).catch((error: unknown) => {
      let refusal: Refusal;
      if (error instanceof Refusal) refusal = error;
      else if (error instanceof ChannelError && error.code === "truncated") {
        note(499, "client_closed");
        res.destroy();
        return;
      } else if (error instanceof ChannelError && error.code === "too-large") {
        refusal = tooLarge();
      } else if (error instanceof ChannelError && error.code === "unknown-key") {
        refusal = new Refusal(
          421,
          "sealed_key_unknown",
          "The request is sealed to a key this server does not hold; attest again.",
        );
      } else if (error instanceof ChannelError) {
        refusal = invalid("The sealed request could not be opened.");
      } else {
        note(500, "internal_error");
        res.destroy();
        return;
      }
      note(refusal.status, refusal.code);
      refuse(res, refusal);
    });
  };
}

type WriteCallback = (error?: Error | null) => void;
type Chunk = string | Uint8Array;

function toBytes(chunk: Chunk, encoding?: BufferEncoding): Uint8Array {
  if (typeof chunk === "string") return Buffer.from(chunk, encoding ?? "utf8");
  return chunk;
}

function headerValue(value: OutgoingHttpHeader | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(", ") : String(value);
}

/** The three methods this layer replaces on a response. */
interface ResponseMethods {
  writeHead: ServerResponse["writeHead"];
  write: ServerResponse["write"];
  end: ServerResponse["end"];
}

/** The originals, in the one form each is called with here. */
interface OriginalMethods {
  writeHead: (this: ServerResponse, status: number, headers: OutgoingHttpHeaders) => ServerResponse;
  write: (this: ServerResponse, chunk: Uint8Array, callback: WriteCallback) => boolean;
  end: (this: ServerResponse, chunk: Uint8Array, callback?: () => void) => ServerResponse;
}

/** A decimal `content-length` value, or undefined. */
function declaredLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Seals a `ServerResponse` in place. Two shapes, chosen when the head is
 * written:
 *
 * - **Whole** (the route declared a `content-length`, as every JSON answer
 *   does): the body is collected, sealed at `end` into the head frame and
 *   final frame(s), and sent in one write with the sealed length as the outer
 *   `content-length` — one socket write, no chunked framing.
 * - **Stream** (no length: server-sent events): `writeHead` sends the outer
 *   200 and the sealed head at once, each `write` seals a frame, `end` the
 *   final frame. Sealing is asynchronous (WebCrypto-shaped API); one queue
 *   keeps frames in call order, and `write` reports back-pressure while
 *   sealed bytes wait.
 */
class SealingResponse {
  readonly #res: ServerResponse;
  readonly #responder: Responder;
  readonly #logger: Logger;
  readonly #original: OriginalMethods;
  #started = false;
  #ended = false;
  #failed = false;
  // Whole responses.
  #whole: { head: ResponseHead; declared: number; announced: number } | undefined;
  #body: Uint8Array[] = [];
  #bodySize = 0;
  #callbacks: WriteCallback[] = [];
  // Streams.
  #sealer: Promise<ResponseSealer> | undefined;
  #queue: Promise<void> = Promise.resolve();
  #queued = 0;
  #congested = false;
  #wantDrain = false;

  constructor(res: ServerResponse, responder: Responder, logger: Logger) {
    this.#res = res;
    this.#responder = responder;
    this.#logger = logger;
    this.#original = { writeHead: res.writeHead, write: res.write, end: res.end };
  }

  install(): void {
    const self = this;
    const methods = this.#res as unknown as ResponseMethods;
    methods.writeHead = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]) {
      self.#writeHead(status, rest);
      return this;
    } as ServerResponse["writeHead"];
    methods.write = function write(this: ServerResponse, chunk: Chunk, ...rest: unknown[]) {
      return self.#write(chunk, rest);
    } as ServerResponse["write"];
    methods.end = function end(this: ServerResponse, ...args: unknown[]) {
      self.#end(args);
      return this;
    } as ServerResponse["end"];
  }

  /** `length`: the plaintext body's length when `end` is the first call (it is known then). */
  #writeHead(status: number, rest: unknown[], length?: number): void {
    if (this.#started) return;
    this.#started = true;
    const res = this.#res;
    // writeHead(status, headers) or writeHead(status, reason, headers); headers as an object or a flat array.
    const given = typeof rest[0] === "string" ? rest[1] : rest[0];
    const fields: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.getHeaders())) {
      const v = headerValue(value);
      if (v !== undefined) fields[name.toLowerCase()] = v;
    }
    if (Array.isArray(given)) {
      for (let i = 0; i + 1 < given.length; i += 2) fields[String(given[i]).toLowerCase()] = String(given[i + 1]);
    } else if (given !== undefined && given !== null && typeof given === "object") {
      for (const [name, value] of Object.entries(given as OutgoingHttpHeaders)) {
        const v = headerValue(value);
        if (v !== undefined) fields[name.toLowerCase()] = v;
      }
    }
    const sealedFields: Record<string, string> = {};
    const outer: Record<string, string> = {};
    for (const [name, value] of Object.entries(fields)) {
      if (SEALED_RESPONSE_FIELDS.includes(name)) sealedFields[name] = value;
      else if (!DROPPED_FIELDS.has(name)) outer[name] = value;
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    outer["content-type"] = SEALED_RESPONSE_TYPE;
    outer["cache-control"] = "no-store";
    outer["x-content-type-options"] = "nosniff";
    const head: ResponseHead = { status, headers: sealedFields };
    const declared = length ?? declaredLength(fields["content-length"]);
    let announced: number | undefined;
    if (declared !== undefined) {
      try {
        announced = this.#responder.sealedSize(head, declared);
      } catch {
        // A head outside the format: the stream path below reports it as a sealing failure.
      }
    }
    if (declared !== undefined && announced !== undefined) {
      this.#whole = { head, declared, announced };
      outer["content-length"] = String(announced);
    }
    this.#original.writeHead.call(res, 200, outer);
    // Logs and metrics report the status the route chose; the wire shows 200 (the real one is sealed).
    res.statusCode = status;
    if (this.#whole !== undefined) return;
    const sealer = this.#responder.sealStream(head);
    this.#sealer = sealer;
    // A rejected sealer is handled by the first queued job; keep it from being reported as unhandled meanwhile.
    sealer.catch(() => undefined);
    this.#enqueue(0, async () => (await sealer).preamble);
  }

  #enqueue(size: number, make: () => Promise<Uint8Array>, after?: (raw: Uint8Array) => void): void {
    this.#queued += size;
    this.#queue = this.#queue.then(async () => {
      if (this.#failed) return;
      let bytes: Uint8Array;
      try {
        bytes = await make();
      } catch (error) {
        this.#fail(error);
        return;
      }
      this.#queued -= size;
      if (after) after(bytes);
      else this.#rawWrite(bytes);
      this.#maybeDrain();
    });
  }

  #rawWrite(bytes: Uint8Array, callback?: WriteCallback): void {
    const res = this.#res;
    if (res.destroyed || res.writableEnded) return;
    const ok = this.#original.write.call(res, bytes, callback ?? noop);
    if (!ok && !this.#congested) {
      this.#congested = true;
      res.once("drain", () => {
        this.#congested = false;
        this.#maybeDrain();
      });
    }
  }

  #maybeDrain(): void {
    if (this.#wantDrain && !this.#congested && this.#queued < HIGH_WATER_BYTES) {
      this.#wantDrain = false;
      this.#res.emit("drain");
    }
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#body = [];
    const code = error instanceof ChannelError ? error.code : "internal";
    this.#logger.log("error", "sealed-response-failed", { code });
    // The client sees a truncated response and reports it; nothing unsealed is ever written.
    this.#res.destroy();
  }

  /** Keep a chunk of a whole response; false when it overruns the declared length (the response then fails). */
  #collect(bytes: Uint8Array): boolean {
    if (this.#bodySize + bytes.length > this.#whole!.declared) {
      this.#fail(new RangeError("the body is longer than its content-length"));
      return false;
    }
    if (bytes.length > 0) this.#body.push(bytes);
    this.#bodySize += bytes.length;
    return true;
  }

  #write(chunk: Chunk, rest: unknown[]): boolean {
    const encoding = typeof rest[0] === "string" ? (rest[0] as BufferEncoding) : undefined;
    const callback = (typeof rest[0] === "function" ? rest[0] : rest[1]) as WriteCallback | undefined;
    if (this.#ended || this.#failed || this.#res.destroyed) {
      callback?.(new Error("write after end"));
      return false;
    }
    if (!this.#started) this.#writeHead(this.#res.statusCode, []);
    const bytes = toBytes(chunk, encoding);
    if (this.#whole !== undefined) {
      if (!this.#collect(bytes)) {
        callback?.(new Error("the body is longer than its content-length"));
        return false;
      }
      if (callback) this.#callbacks.push(callback);
      return true;
    }
    const sealer = this.#sealer!;
    this.#enqueue(
      bytes.length,
      async () => (await sealer).seal(bytes),
      (frame) => {
        this.#rawWrite(frame, callback);
      },
    );
    const ok = !this.#congested && this.#queued < HIGH_WATER_BYTES;
    if (!ok) this.#wantDrain = true;
    return ok;
  }

  #end(args: unknown[]): void {
    let chunk: Chunk | undefined;
    let encoding: BufferEncoding | undefined;
    let callback: (() => void) | undefined;
    for (const arg of args) {
      if (typeof arg === "function") callback = arg as () => void;
      else if (typeof arg === "string" && chunk !== undefined) encoding = arg as BufferEncoding;
      else if (arg !== undefined && arg !== null && chunk === undefined) chunk = arg as Chunk;
    }
    if (this.#ended) return;
    this.#ended = true;
    const bytes = chunk === undefined ? new Uint8Array(0) : toBytes(chunk, encoding);
    // `end(body)` without a head: the whole body is here, so its length is known.
    if (!this.#started) this.#writeHead(this.#res.statusCode, [], bytes.length);
    if (this.#failed) return;
    if (this.#whole !== undefined) {
      this.#endWhole(bytes, callback);
      return;
    }
    const sealer = this.#sealer!;
    this.#enqueue(
      bytes.length,
      async () => (await sealer).finish(bytes),
      (frame) => {
        const res = this.#res;
        if (res.destroyed || res.writableEnded) return;
        this.#original.end.call(res, frame, callback);
      },
    );
  }

  /** Seal a whole response and send it in one write, exactly the announced length. */
  #endWhole(last: Uint8Array, callback: (() => void) | undefined): void {
    const whole = this.#whole!;
    if (!this.#collect(last)) return;
    if (this.#bodySize !== whole.declared) {
      this.#fail(new RangeError("the body is shorter than its content-length"));
      return;
    }
    const body = this.#body.length === 1 ? this.#body[0]! : concatBytes(...this.#body);
    this.#body = [];
    this.#responder.sealResponse(whole.head, body).then(
      (sealed) => {
        const res = this.#res;
        if (this.#failed || res.destroyed || res.writableEnded) return;
        if (sealed.length !== whole.announced) {
          this.#fail(new RangeError("the sealed response is not its announced length"));
          return;
        }
        const callbacks = this.#callbacks;
        this.#callbacks = [];
        this.#original.end.call(res, sealed, () => {
          for (const cb of callbacks) cb();
          callback?.();
        });
      },
      (error: unknown) => this.#fail(error),
    );
  }
}

function noop(): void {}
