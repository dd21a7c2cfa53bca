/**
 * The sealing sink (channel/sealing-sink.ts) in process, without a socket:
 * an outer response that records what reaches it and whose `write` can
 * report congestion, a real responder from an opened sealed request. What
 * reaches the outer response is opened with the client's context, so each
 * test checks the sealed bytes themselves: frames in call order, the whole
 * shape in one write of the announced length, back-pressure while bytes
 * wait to be sealed or the connection is congested, and a body that
 * overruns or underruns its length cutting the response with nothing
 * unsealed written.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { OutgoingHttpHeaders } from "node:http";
import { describe, test } from "node:test";
import {
  openRequest,
  openResponse,
  type RequestContext,
  type Responder,
  SEALED_RESPONSE_TYPE,
  type SealTarget,
  sealRequest,
} from "@veritee/channel";
import { nodeBackend, nodeRecipientKey } from "@veritee/channel/node";
import { generateX25519 } from "@veritee/core";
import fc from "fast-check";
import { HIGH_WATER_BYTES, type OuterResponse, SealingSink } from "../../src/channel/sealing-sink.js";
import { MemoryLogger } from "../http/support/server.js";

const CANARY = "canary-9b2f-sink-plaintext";
const TEXT = new TextEncoder();

const { privateKey, publicKey } = generateX25519();
const keyConfig = { keyId: 1, kemId: 0x0020, publicKey, cipherSuites: [{ kdfId: 1, aeadId: 1 }] };
const keySetDigest = new Uint8Array(32).fill(7);
const target: SealTarget = { keySet: { hpke: keyConfig }, keySetDigest };
const recipient = nodeRecipientKey({ keyConfig, keySetDigest, privateKey });

/** A stand-in for the outer `ServerResponse`: records the head and every byte, congests on demand. */
class FakeOuter extends EventEmitter implements OuterResponse {
  headers: Record<string, string> = {};
  status: number | undefined;
  outerFields: OutgoingHttpHeaders | undefined;
  readonly writes: Uint8Array[] = [];
  /** What `write` returns (false: the connection is congested until "drain"). */
  writeReturns = true;
  destroyed = false;
  writableEnded = false;
  writableFinished = false;

  getHeaders(): OutgoingHttpHeaders {
    return { ...this.headers };
  }
  getHeaderNames(): string[] {
    return Object.keys(this.headers);
  }
  removeHeader(name: string): void {
    delete this.headers[name];
  }
  writeHead(status: number, fields: OutgoingHttpHeaders): this {
    assert.equal(this.status, undefined, "one head");
    this.status = status;
    this.outerFields = fields;
    return this;
  }
  write(chunk: Uint8Array, written?: () => void): boolean {
    assert.ok(!this.writableEnded && !this.destroyed, "no write after end or destroy");
    this.writes.push(chunk);
    if (written) queueMicrotask(written);
    return this.writeReturns;
  }
  end(chunk: Uint8Array, sent?: () => void): this {
    assert.ok(!this.writableEnded && !this.destroyed, "one end");
    this.writes.push(chunk);
    this.writableEnded = true;
    queueMicrotask(() => {
      this.writableFinished = true;
      sent?.();
      this.emit("finish");
      this.emit("close");
    });
    return this;
  }
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    queueMicrotask(() => this.emit("close"));
    return this;
  }
  /** Every byte that reached the connection. */
  bytes(): Buffer {
    return Buffer.concat(this.writes);
  }
  /** Resolves once the response ended or was destroyed. */
  closed(): Promise<void> {
    if (this.writableFinished || this.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.once("close", () => resolve()));
  }
}

interface Setup {
  readonly outer: FakeOuter;
  readonly sink: SealingSink;
  readonly context: RequestContext;
  readonly logger: MemoryLogger;
}

async function setup(): Promise<Setup> {
  const sealed = await sealRequest(
    target,
    { method: "POST", path: "/v1/chat/completions", body: TEXT.encode("{}") },
    { backend: nodeBackend },
  );
  const { responder }: { responder: Responder } = await openRequest(recipient, sealed.sealed);
  const outer = new FakeOuter();
  const logger = new MemoryLogger();
  return { outer, sink: new SealingSink(outer, responder, logger), context: sealed.context, logger };
}

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("the sealing sink", () => {
  test("whole: one write of exactly the announced length; 200 outside, the route's status and fields sealed", async () => {
    const { outer, sink, context } = await setup();
    // Set by a layer in front (CORS): caching directives stay outside, a content-type would be sealed.
    outer.headers = { vary: "origin", "content-type": "text/plain" };
    const body = `{"answer":"${CANARY}"}`;
    let written = 0;
    let sent = false;
    sink.head(404, {
      "content-length": Buffer.byteLength(body),
      "retry-after": "2",
      "www-authenticate": "Bearer",
      "x-veritee-quota-remaining": "inferences=7",
      "x-extra": "1",
      connection: "close",
    });
    assert.equal(sink.headSent, true);
    assert.equal(sink.status, 404, "logs and metrics see the route's status");
    assert.equal(
      sink.write(body.slice(0, 5), () => written++),
      true,
    );
    sink.end(body.slice(5), () => {
      sent = true;
    });
    await outer.closed();
    assert.equal(outer.status, 200);
    assert.equal(outer.writes.length, 1, "one write");
    assert.deepEqual(outer.outerFields, {
      vary: "origin",
      "x-extra": "1",
      connection: "close",
      "content-type": SEALED_RESPONSE_TYPE,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "content-length": String(outer.writes[0]!.length),
    });
    assert.deepEqual(outer.getHeaderNames(), [], "fields set before the head are taken over, not sent twice");
    assert.equal(written, 1);
    assert.equal(sent, true);
    assert.ok(!outer.bytes().includes(CANARY));
    const opened = await openResponse(context, outer.bytes());
    assert.equal(opened.status, 404);
    assert.deepEqual(
      { ...opened.headers },
      {
        "content-type": "text/plain",
        "retry-after": "2",
        "www-authenticate": "Bearer",
        "x-veritee-quota-remaining": "inferences=7",
      },
    );
    assert.equal(Buffer.from(opened.body).toString(), body);
  });

  test("end(body) without a head: a whole 200 of that length", async () => {
    const { outer, sink, context } = await setup();
    sink.end(`plain ${CANARY}`);
    await outer.closed();
    assert.equal(outer.writes.length, 1);
    assert.equal(outer.outerFields!["content-length"], String(outer.writes[0]!.length));
    const opened = await openResponse(context, outer.bytes());
    assert.equal(opened.status, 200);
    assert.equal(Buffer.from(opened.body).toString(), `plain ${CANARY}`);
  });

  test("stream: the head goes out at once, then one frame per write, in call order, and the final frame", async () => {
    const { outer, sink, context } = await setup();
    sink.head(200, { "content-type": "text/event-stream" });
    assert.equal(outer.status, 200, "the head is not held back until the first event");
    assert.equal(outer.outerFields!["content-length"], undefined);
    const parts: string[] = [];
    for (let i = 0; i < 60; i++) {
      // Sizes that seal in different times, all written without waiting.
      const part = `data: ${CANARY} ${i} ${"x".repeat((i * 977) % 3000)}\n\n`;
      parts.push(part);
      sink.write(i % 2 === 0 ? part : TEXT.encode(part));
    }
    sink.end("data: [DONE]\n\n");
    await outer.closed();
    assert.ok(outer.writes.length >= 62, "preamble, a frame per write, the final frame");
    assert.ok(!outer.bytes().includes(CANARY));
    const opened = await openResponse(context, outer.bytes());
    assert.equal(opened.headers["content-type"], "text/event-stream");
    assert.equal(Buffer.from(opened.body).toString(), `${parts.join("")}data: [DONE]\n\n`);
  });

  test("back-pressure: false once 64 KiB wait to be sealed or the connection is congested; drained when both clear", async () => {
    const { outer, sink, context } = await setup();
    sink.head(200, { "content-type": "text/event-stream" });
    const chunk = new Uint8Array(HIGH_WATER_BYTES / 4).fill(0x62);
    assert.equal(sink.write(chunk), true);
    assert.equal(sink.write(chunk), true);
    assert.equal(sink.write(chunk), true);
    assert.equal(sink.write(chunk), false, "64 KiB wait to be sealed");
    await sink.drained();
    assert.equal(sink.write(new Uint8Array(1)), true, "below the mark again: writable");

    outer.writeReturns = false;
    sink.write(chunk);
    await ticks(20);
    assert.equal(sink.write(chunk), false, "the connection is congested");
    let drained = false;
    const waiting = sink.drained().then(() => {
      drained = true;
    });
    await ticks(20);
    assert.equal(drained, false, "no drain while the connection is congested");
    outer.writeReturns = true;
    outer.emit("drain");
    await waiting;
    assert.equal(drained, true);
    sink.end();
    await outer.closed();
    const opened = await openResponse(context, outer.bytes());
    assert.equal(opened.body.length, 6 * chunk.length + 1);
  });

  test("a client gone while a writer waits: drained resolves, later writes are refused", async () => {
    const { outer, sink } = await setup();
    sink.head(200, { "content-type": "text/event-stream" });
    outer.writeReturns = false;
    sink.write("data: a\n\n");
    await ticks(20);
    const waiting = sink.drained();
    outer.destroy();
    await waiting;
    assert.equal(sink.destroyed, true);
    assert.equal(sink.write(`data: ${CANARY}\n\n`), false);
    assert.equal(sink.finished, false);
  });

  for (const [name, run] of [
    [
      "overruns",
      (sink: SealingSink) => {
        sink.head(200, { "content-type": "text/plain", "content-length": 3 });
        assert.equal(sink.write(`too long ${CANARY}`), false);
        sink.end();
      },
    ],
    [
      "overruns at end",
      (sink: SealingSink) => {
        sink.head(200, { "content-type": "text/plain", "content-length": 3 });
        sink.end(`too long ${CANARY}`);
      },
    ],
    [
      "underruns",
      (sink: SealingSink) => {
        sink.head(200, { "content-type": "text/plain", "content-length": 100 });
        sink.write(`short ${CANARY}`);
        sink.end();
      },
    ],
  ] as const) {
    test(`a body that ${name} its content-length: the response is destroyed, nothing is written, the log names no byte`, async () => {
      const { outer, sink, logger } = await setup();
      run(sink);
      await outer.closed();
      assert.equal(outer.destroyed, true);
      assert.equal(outer.writes.length, 0, "not one byte, sealed or not");
      assert.equal(sink.write("more"), false);
      await sink.drained();
      const failed = logger.events.filter((e) => e.event === "sealed-response-failed");
      assert.equal(failed.length, 1);
      assert.deepEqual(failed[0]!.fields, { code: "internal" });
      assert.ok(!logger.text().includes(CANARY));
    });
  }

  test("property: any split of a body, whole or streamed, opens to the same bytes and never shows them", async () => {
    const marker = TEXT.encode(CANARY);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 8 }),
        fc.boolean(),
        fc.integer({ min: 200, max: 599 }),
        async (parts, whole, status) => {
          const chunks = parts.map((p, i) => (i % 3 === 0 ? Buffer.concat([marker, p]) : p));
          const body = Buffer.concat(chunks);
          const { outer, sink, context } = await setup();
          sink.head(status, whole ? { "content-length": body.length } : {});
          for (const c of chunks.slice(0, -1)) sink.write(c);
          sink.end(chunks.at(-1));
          await outer.closed();
          assert.equal(outer.destroyed, false);
          if (whole) assert.equal(outer.writes.length, 1);
          if (body.length > 0) assert.ok(!outer.bytes().includes(CANARY));
          const opened = await openResponse(context, outer.bytes());
          assert.equal(opened.status, status);
          assert.deepEqual(Buffer.from(opened.body), body);
        },
      ),
      { numRuns: 40 },
    );
  });
});
