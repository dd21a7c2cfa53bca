/**
 * The handler over the transport-neutral exchange (http/exchange.ts), in
 * process and without a socket, as Hono's core is tested: a request value
 * in, a sink that records what the handler writes out. The same handler
 * serves plain and sealed requests, so these cover what the sealed layer
 * relies on: a body already in memory, `sealed` for `--require-sealed`, the
 * route's status for the log line, an event stream that waits on the sink's
 * back-pressure. And the inner request the sealed layer builds from an
 * opened Binary HTTP request.
 */
import assert from "node:assert/strict";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { describe, test } from "node:test";
import type { DecodedBinaryRequest } from "@veritee/channel";
import { SealedRequest, wasSealed } from "../../src/channel/sealed-http.js";
import type { HttpRequest, ResponseSink } from "../../src/http/exchange.js";
import { createHttpHandler } from "../../src/http/handler.js";
import { MemoryLogger } from "./support/server.js";
import { WordEngine } from "./support/word-engine.js";

const KEY = "sk-exchange-test-key-000000000";
const TEXT = new TextEncoder();

/** A sink that keeps everything; `congested` makes `write` report back-pressure until `drain()`. */
class MemorySink implements ResponseSink {
  status = 0;
  fields: OutgoingHttpHeaders | undefined;
  readonly parts: string[] = [];
  congested = false;
  headSent = false;
  destroyed = false;
  finished = false;
  waits = 0;
  #ended = false;
  #closeListeners: (() => void)[] = [];
  #drainWaiters: (() => void)[] = [];
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor() {
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  head(status: number, fields: OutgoingHttpHeaders): void {
    assert.equal(this.headSent, false, "one head");
    this.status = status;
    this.fields = fields;
    this.headSent = true;
  }
  write(chunk: string | Uint8Array): boolean {
    assert.ok(this.headSent && !this.#ended, "a write between head and end");
    this.parts.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
    return !this.congested;
  }
  drained(): Promise<void> {
    if (!this.congested) return Promise.resolve();
    this.waits++;
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }
  drain(): void {
    this.congested = false;
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }
  end(chunk?: string | Uint8Array): void {
    assert.ok(this.headSent && !this.#ended, "one end, after the head");
    if (chunk !== undefined) this.parts.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
    this.#ended = true;
    queueMicrotask(() => {
      this.finished = true;
      this.#close();
    });
  }
  destroy(): void {
    this.destroyed = true;
    queueMicrotask(() => this.#close());
  }
  onClose(listener: () => void): void {
    this.#closeListeners.push(listener);
  }
  #close(): void {
    for (const listener of this.#closeListeners.splice(0)) listener();
    this.#resolveClosed();
  }
  body(): string {
    return this.parts.join("");
  }
}

function request(
  method: string,
  target: string,
  options: { headers?: IncomingHttpHeaders; body?: string; sealed?: boolean } = {},
): HttpRequest {
  const bytes = options.body === undefined ? new Uint8Array(0) : TEXT.encode(options.body);
  return {
    method,
    target,
    headers: {
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers,
    },
    sealed: options.sealed ?? false,
    bytes,
    stream: undefined,
    complete: true,
  };
}

const chat = (stream: boolean) =>
  JSON.stringify({ model: "word-model", messages: [{ role: "user", content: "hi" }], max_tokens: 3, stream });

describe("the handler over an exchange", () => {
  test("a request value in, a JSON answer out: head with its length, one end, the log line with the status", async () => {
    const logger = new MemoryLogger();
    const http = createHttpHandler({ engine: new WordEngine(), logger });
    const sink = new MemorySink();
    http.handler.serve(request("GET", "/v1/models?x=1"), sink);
    await sink.closed;
    assert.equal(sink.status, 200);
    assert.equal(sink.fields!["content-length"], Buffer.byteLength(sink.body()));
    assert.equal(JSON.parse(sink.body()).data[0].id, "word-model");
    assert.deepEqual(
      logger.requests().map((r) => [r.route, r.status]),
      [["/v1/models", 200]],
    );
    await http.close({ graceMs: 10 });
  });

  test("a body in memory is read under the same limits: parsed, or 413 past the limit", async () => {
    const http = createHttpHandler({
      engine: new WordEngine(),
      logger: new MemoryLogger(),
      limits: { maxBodyBytes: 256 },
    });
    const ok = new MemorySink();
    http.handler.serve(request("POST", "/v1/chat/completions", { body: chat(false) }), ok);
    await ok.closed;
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body()).object, "chat.completion");

    const big = new MemorySink();
    const body = JSON.stringify({ model: "word-model", messages: [{ role: "user", content: "x".repeat(300) }] });
    // No content-length field: the limit applies to the bytes themselves.
    http.handler.serve(
      { ...request("POST", "/v1/chat/completions", { body }), headers: { "content-type": "application/json" } },
      big,
    );
    await big.closed;
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.body()).error.code, "request_too_large");
    await http.close({ graceMs: 10 });
  });

  test("an event stream heads without a length and waits on the sink's back-pressure", async () => {
    const http = createHttpHandler({ engine: new WordEngine(), logger: new MemoryLogger() });
    const sink = new MemorySink();
    sink.congested = true;
    http.handler.serve(request("POST", "/v1/chat/completions", { body: chat(true) }), sink);
    while (sink.waits === 0) await new Promise((resolve) => setImmediate(resolve));
    const before = sink.parts.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(sink.parts.length, before, "nothing more is written while the sink is congested");
    sink.drain();
    await sink.closed;
    assert.equal(sink.fields!["content-length"], undefined);
    assert.match(String(sink.fields!["content-type"]), /^text\/event-stream/);
    assert.ok(sink.body().endsWith("data: [DONE]\n\n"));
    await http.close({ graceMs: 10 });
  });

  test("requireSealed reads the exchange's `sealed`: plaintext refused with 403, a sealed request with the key served", async () => {
    const http = createHttpHandler({
      engine: new WordEngine(),
      logger: new MemoryLogger(),
      access: { apiKeys: [KEY], requireSealed: true, isSealed: wasSealed },
    });
    const headers = { authorization: `Bearer ${KEY}` };
    const plain = new MemorySink();
    http.handler.serve(request("GET", "/v1/models", { headers }), plain);
    await plain.closed;
    assert.equal(plain.status, 403);
    assert.equal(JSON.parse(plain.body()).error.code, "sealed_request_required");

    const sealed = new MemorySink();
    http.handler.serve(request("GET", "/v1/models", { headers, sealed: true }), sealed);
    await sealed.closed;
    assert.equal(sealed.status, 200);

    const noKey = new MemorySink();
    http.handler.serve(request("GET", "/v1/models", { sealed: true }), noKey);
    await noKey.closed;
    assert.equal(noKey.status, 401);
    assert.equal(noKey.fields!["www-authenticate"], "Bearer");
    await http.close({ graceMs: 10 });
  });

  test("a sink closed before the answer: logged as 499, the route aborted", async () => {
    const logger = new MemoryLogger();
    const http = createHttpHandler({ engine: new WordEngine({ delayMs: 50 }), logger });
    const sink = new MemorySink();
    http.handler.serve(request("POST", "/v1/chat/completions", { body: chat(false) }), sink);
    sink.destroy();
    await sink.closed;
    await http.close({ graceMs: 1000 });
    assert.deepEqual(
      logger.requests().map((r) => r.status),
      [499],
    );
  });
});

describe("the sealed layer's inner request", () => {
  const decoded = (headers: [string, string][], body = new Uint8Array(0)): DecodedBinaryRequest => ({
    method: "POST",
    scheme: "https",
    authority: "api.example",
    path: "/v1/chat/completions?a=1",
    headers,
    body,
    trailers: [],
  });

  test("the inner method, target and fields; connection fields dropped, repeated ones combined, the length its own", () => {
    const body = TEXT.encode('{"a":1}');
    const inner = new SealedRequest(
      decoded(
        [
          ["content-type", "application/json"],
          ["accept", "a"],
          ["accept", "b"],
          ["connection", "keep-alive"],
          ["transfer-encoding", "chunked"],
          ["content-length", "999"],
          ["host", "relay.example"],
          ["expect", "100-continue"],
        ],
        body,
      ),
    );
    assert.equal(inner.method, "POST");
    assert.equal(inner.target, "/v1/chat/completions?a=1");
    assert.deepEqual(
      { ...inner.headers },
      { "content-type": "application/json", accept: "a, b", host: "api.example", "content-length": "7" },
    );
    assert.equal(inner.bytes, body);
    assert.equal(inner.stream, undefined);
    assert.equal(inner.complete, true);
    assert.equal(wasSealed(inner), true);
    assert.equal(wasSealed(request("GET", "/")), false);
  });

  test("no body and no content-type: no length field, as node:http reports a GET", () => {
    const inner = new SealedRequest({ ...decoded([]), method: "GET", authority: "" });
    assert.deepEqual({ ...inner.headers }, {});
  });
});
