/**
 * The sealed channel on the server (docs/CHANNEL.md, version 2): a layer in
 * front of the OpenAI handler that takes `POST /v1/sealed`, opens the sealed
 * Binary HTTP request with the server's in-memory HPKE key, runs the
 * unchanged route on the inner request (its own method, target, header
 * fields and body), and seals whatever the route writes — a JSON answer, an
 * error, or an SSE stream event by event — into response frames.
 *
 * A transform of the exchange, not of `node:http` objects: the handler
 * serves a transport-neutral request and response sink (http/exchange.ts),
 * so the opened request becomes a {@link SealedRequest} value (its body
 * already in memory) and the response a {@link SealingSink} that writes only
 * sealed bytes to the outer `ServerResponse`. Nothing is patched and no
 * `IncomingMessage` is faked; a plain request goes straight to the handler's
 * own `node:http` listener, so the plain hot path does not change.
 *
 * The plaintext never reaches a log: this layer logs only a fixed event with
 * a code and a status, and the handler's own log line carries no body (see
 * http/logger.ts). Version 1 sealed requests are refused with
 * `sealed_version_unsupported`.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import {
  ChannelError,
  type DecodedBinaryRequest,
  KEY_SET_HEADER,
  openRequest,
  REQUEST_HEADER_SIZE,
  type RecipientKey,
  SEALED_PATH,
  SEALED_REQUEST_TYPE,
  V1_INNER_CONTENT_TYPE_HEADER,
  V1_SEALED_REQUEST_HEADER,
  X25519_ENC_SIZE,
} from "@veritee/channel";
import { toHex } from "@veritee/core";
import { DEFAULT_MAX_BODY_BYTES } from "../http/body.js";
import type { ExchangeListener, HttpRequest, NodeListener } from "../http/exchange.js";
import { createJsonLogger, type Logger } from "../http/logger.js";
import { SealingSink } from "./sealing-sink.js";

export { SEALED_RESPONSE_FIELDS } from "./sealing-sink.js";

/** A `node:http` request listener. */
export type RequestListener = NodeListener;

/** Options of {@link withSealedChannel}. */
export interface SealedChannelOptions {
  /** The server's HPKE key (`nodeRecipientKey(...)` over `ServerKeys`). */
  readonly recipient: RecipientKey;
  /** Largest plaintext body (default 1 MiB, as the handler's `maxBodyBytes`). */
  readonly maxBodyBytes?: number;
  /** Where the layer's own events go (codes and statuses only). Default: JSON lines on stderr. */
  readonly logger?: Logger;
}

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

/** Whether `req` is the inner request of a sealed request (for `--require-sealed`, http/access.ts). */
export function wasSealed(req: HttpRequest): boolean {
  return req.sealed;
}

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
 * fields and body (whole, in memory). Nothing of the outer request is kept:
 * its path and headers are the relay's.
 */
export class SealedRequest implements HttpRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
  readonly bytes: Uint8Array;

  constructor(inner: DecodedBinaryRequest) {
    this.method = inner.method;
    this.target = inner.path;
    const headers: Record<string, string> = Object.create(null);
    for (const [name, value] of inner.headers) {
      if (INNER_DROPPED_FIELDS.has(name)) continue;
      // Repeated fields combine as RFC 9110 §5.3 allows; node:http does the same for most.
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    if (inner.authority !== "") headers.host = inner.authority;
    const body = inner.body;
    // The length a node:http request of this body would declare, so the route's limits read it the same way.
    if (body.length > 0 || headers["content-type"] !== undefined) headers["content-length"] = String(body.length);
    this.headers = headers;
    this.bytes = body;
  }

  get sealed(): true {
    return true;
  }

  get stream(): undefined {
    return undefined;
  }

  /** The whole body was opened before the route runs. */
  get complete(): true {
    return true;
  }
}

const versionUnsupported = () =>
  new Refusal(
    400,
    "sealed_version_unsupported",
    "This server accepts sealed requests of channel version 2 only (POST /v1/sealed, the request sealed as Binary HTTP); version 1 sealed requests are refused. Update the client.",
  );

/**
 * Wrap the handler's listener (`createHttpHandler(...).handler`, or any
 * `exchangeListener(...)`) with the sealed channel: plain requests go to the
 * listener itself, sealed ones, opened, to its `serve` with a sealing sink.
 *
 * @example
 * const http = createHttpHandler({ engine });
 * const recipient = nodeRecipientKey({ keyConfig: keys.keySet.hpke, keySetDigest: keys.keySetDigest, privateKey: keys.hpkePrivateKey });
 * await startHttpServer({ ...http, handler: withSealedChannel(http.handler, { recipient }) });
 */
export function withSealedChannel(listener: ExchangeListener, options: SealedChannelOptions): RequestListener {
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
    listener.serve(new SealedRequest(request), new SealingSink(res, responder, logger));
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
