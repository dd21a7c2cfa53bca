/**
 * The response sink of a sealed exchange (docs/CHANNEL.md, version 2): what
 * the handler writes — head, body parts, end — goes out sealed on the outer
 * `ServerResponse`, which nothing else writes to. Two shapes, chosen from
 * the head alone:
 *
 * - **Whole** (the head announces a `content-length`, as every JSON answer
 *   does): the body is collected, sealed at `end` into the head frame and
 *   final frame(s), and sent in one write with the sealed length as the
 *   outer `content-length` — one socket write, no chunked framing. A body
 *   longer or shorter than announced cuts the response.
 * - **Stream** (no length: server-sent events): `head` sends the outer 200
 *   and the sealed head at once, each `write` seals a frame, `end` the final
 *   frame. Sealing is asynchronous (WebCrypto-shaped API); one queue keeps
 *   frames in call order, and `write` reports back-pressure while sealed
 *   bytes wait or the connection is congested.
 *
 * On any failure the response is destroyed: the client sees a truncated
 * answer, never an unsealed byte. The outer status is always 200; the
 * route's status is sealed, and {@link SealingSink.status} reports it to the
 * handler's log line and metrics.
 */
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from "node:http";
import {
  ChannelError,
  type Responder,
  type ResponseHead,
  type ResponseSealer,
  SEALED_RESPONSE_TYPE,
} from "@veritee/channel";
import { concatBytes } from "@veritee/core";
import type { ResponseSink } from "../http/exchange.js";
import type { Logger } from "../http/logger.js";

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
  // A custodial deployment's quota left is the consumer's business, not the relay's (docs/CUSTODY.md).
  "x-veritee-quota-remaining",
  // Where a binary tensor response's JSON header ends (the Open Inference Protocol's binary extension).
  "inference-header-content-length",
]);

/** Outer fields dropped: the sealed body has another length. */
const DROPPED_FIELDS = new Set(["content-length", "transfer-encoding"]);

/** Above this many plaintext bytes waiting to be sealed, `write` reports back-pressure. */
export const HIGH_WATER_BYTES = 64 * 1024;

function toBytes(chunk: string | Uint8Array): Uint8Array {
  return typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
}

function headerValue(value: OutgoingHttpHeader | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(", ") : String(value);
}

/** A decimal `content-length` value, or undefined. */
function declaredLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * What the sink uses of the outer response: the members of `node:http`'s
 * `ServerResponse` it calls (a test can stand in for it without a socket).
 */
export interface OuterResponse {
  getHeaders(): OutgoingHttpHeaders;
  getHeaderNames(): string[];
  removeHeader(name: string): void;
  writeHead(status: number, fields: OutgoingHttpHeaders): unknown;
  write(chunk: Uint8Array, written?: () => void): boolean;
  end(chunk: Uint8Array, sent?: () => void): unknown;
  once(event: "drain" | "close", listener: () => void): unknown;
  on(event: "close", listener: () => void): unknown;
  destroy(): unknown;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
}

/** Seals one response into the outer response `res` (a `ServerResponse`), with the opened request's `responder`. */
export class SealingSink implements ResponseSink {
  readonly #res: OuterResponse;
  readonly #responder: Responder;
  readonly #logger: Logger;
  #status = 200;
  #started = false;
  #ended = false;
  #failed = false;
  // Whole responses.
  #whole: { head: ResponseHead; declared: number; announced: number } | undefined;
  #body: Uint8Array[] = [];
  #bodySize = 0;
  #callbacks: (() => void)[] = [];
  // Streams.
  #sealer: Promise<ResponseSealer> | undefined;
  #queue: Promise<void> = Promise.resolve();
  #queued = 0;
  #congested = false;
  #waiters: (() => void)[] = [];
  #watchingClose = false;

  constructor(res: OuterResponse, responder: Responder, logger: Logger) {
    this.#res = res;
    this.#responder = responder;
    this.#logger = logger;
  }

  get headSent(): boolean {
    return this.#started;
  }

  get destroyed(): boolean {
    return this.#res.destroyed;
  }

  get finished(): boolean {
    return this.#res.writableFinished;
  }

  get status(): number {
    return this.#status;
  }

  onClose(listener: () => void): void {
    this.#res.on("close", listener);
  }

  destroy(): void {
    this.#res.destroy();
  }

  head(status: number, fields: OutgoingHttpHeaders): void {
    this.#head(status, fields, undefined);
  }

  /** `length`: the body's length when `end` comes before any `head` (it is known then). */
  #head(status: number, given: OutgoingHttpHeaders, length: number | undefined): void {
    if (this.#started) return;
    this.#started = true;
    this.#status = status;
    const res = this.#res;
    // Fields a layer in front set on the outer response (CORS) count as the route's own, as node:http merges them.
    const fields: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.getHeaders())) {
      const v = headerValue(value);
      if (v !== undefined) fields[name.toLowerCase()] = v;
    }
    for (const [name, value] of Object.entries(given)) {
      const v = headerValue(value);
      if (v !== undefined) fields[name.toLowerCase()] = v;
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
    res.writeHead(200, outer);
    if (this.#whole !== undefined) return;
    const sealer = this.#responder.sealStream(head);
    this.#sealer = sealer;
    // A rejected sealer is handled by the first queued job; keep it from being reported as unhandled meanwhile.
    sealer.catch(() => undefined);
    this.#enqueue(0, async () => (await sealer).preamble);
  }

  write(chunk: string | Uint8Array, written?: () => void): boolean {
    if (this.#ended || this.#failed || this.#res.destroyed) return false;
    if (!this.#started) this.#head(200, {}, undefined);
    const bytes = toBytes(chunk);
    if (this.#whole !== undefined) {
      if (!this.#collect(bytes)) return false;
      if (written) this.#callbacks.push(written);
      return true;
    }
    const sealer = this.#sealer!;
    this.#enqueue(
      bytes.length,
      async () => (await sealer).seal(bytes),
      (frame) => this.#rawWrite(frame, written),
    );
    return this.#writable();
  }

  drained(): Promise<void> {
    if (this.#writable() || this.#res.destroyed || this.#failed) return Promise.resolve();
    if (!this.#watchingClose) {
      this.#watchingClose = true;
      this.#res.once("close", () => this.#wake());
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  end(chunk?: string | Uint8Array, sent?: () => void): void {
    if (this.#ended) return;
    this.#ended = true;
    const bytes = chunk === undefined ? new Uint8Array(0) : toBytes(chunk);
    // `end(body)` without a head: the whole body is here, so its length is known.
    if (!this.#started) this.#head(200, {}, bytes.length);
    if (this.#failed) return;
    if (this.#whole !== undefined) {
      this.#endWhole(bytes, sent);
      return;
    }
    const sealer = this.#sealer!;
    this.#enqueue(
      bytes.length,
      async () => (await sealer).finish(bytes),
      (frame) => {
        const res = this.#res;
        if (res.destroyed || res.writableEnded) return;
        res.end(frame, sent);
      },
    );
  }

  #writable(): boolean {
    return !this.#congested && this.#queued < HIGH_WATER_BYTES;
  }

  #wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const wake of waiters) wake();
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
      else this.#rawWrite(bytes, undefined);
      if (this.#writable()) this.#wake();
    });
  }

  #rawWrite(bytes: Uint8Array, written: (() => void) | undefined): void {
    const res = this.#res;
    if (res.destroyed || res.writableEnded) return;
    const ok = written === undefined ? res.write(bytes) : res.write(bytes, written);
    if (!ok && !this.#congested) {
      this.#congested = true;
      res.once("drain", () => {
        this.#congested = false;
        if (this.#writable()) this.#wake();
      });
    }
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#body = [];
    this.#callbacks = [];
    const code = error instanceof ChannelError ? error.code : "internal";
    this.#logger.log("error", "sealed-response-failed", { code });
    // The client sees a truncated response and reports it; nothing unsealed is ever written.
    this.#res.destroy();
    this.#wake();
  }

  /** Keep a part of a whole response; false when it overruns the announced length (the response then fails). */
  #collect(bytes: Uint8Array): boolean {
    if (this.#bodySize + bytes.length > this.#whole!.declared) {
      this.#fail(new RangeError("the body is longer than its content-length"));
      return false;
    }
    if (bytes.length > 0) this.#body.push(bytes);
    this.#bodySize += bytes.length;
    return true;
  }

  /** Seal a whole response and send it in one write, exactly the announced length. */
  #endWhole(last: Uint8Array, sent: (() => void) | undefined): void {
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
        res.end(sealed, () => {
          for (const cb of callbacks) cb();
          sent?.();
        });
      },
      (error: unknown) => this.#fail(error),
    );
  }
}
