/**
 * Sealed requests and responses end to end (client half ↔ server half):
 * round trips on both backends and suites, the bindings of the associated
 * data and `info`, every single-byte mutation, responses bound to their
 * request, one-shot contexts, streamed responses through web streams.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { base64Decode, concatBytes, toHex } from "@veritee/core";
import fc from "fast-check";
import { nodeBackend } from "../src/node/backend.js";
import { openRequest, type RequestMeta, sealRequest } from "../src/request.js";
import { createResponseDecoder, openResponse, openResponseStream } from "../src/response.js";
import { webCryptoBackend } from "../src/web-backend.js";
import {
  INNER_CONTENT_TYPE_HEADER,
  KEY_SET_HEADER,
  MAX_FRAME_PLAINTEXT,
  SEALED_REQUEST_HEADER,
  SEALED_REQUEST_TYPE,
} from "../src/wire.js";
import { channelCode, serverKey, str, text } from "./support.js";

const CANARY = "canary-7f3a9c1e-do-not-leak";
const META: RequestMeta = { method: "POST", path: "/v1/chat/completions", contentType: "application/json" };
const BODY = text(JSON.stringify({ model: "m", messages: [{ role: "user", content: CANARY }] }));

function contains(haystack: Uint8Array, needle: string): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle));
}

function streamOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return concatBytes(...parts);
}

describe("sealed requests", () => {
  test("round trip for every backend pair and suite; the plaintext never appears sealed", async () => {
    const { target, recipient } = serverKey();
    for (const backend of [nodeBackend, webCryptoBackend]) {
      for (const aeadId of [1, 3]) {
        const sealed = await sealRequest(target, { ...META, body: BODY }, { backend, aeadId });
        assert.equal(sealed.context.aeadId, aeadId);
        assert.ok(!contains(sealed.sealed, CANARY));
        assert.equal(sealed.body, sealed.sealed);
        assert.equal(sealed.headers["content-type"], SEALED_REQUEST_TYPE);
        assert.equal(sealed.headers[KEY_SET_HEADER], toHex(target.keySetDigest));
        assert.equal(sealed.headers[INNER_CONTENT_TYPE_HEADER], "application/json");
        // hdr = key_id ‖ kem_id ‖ kdf_id ‖ aead_id (RFC 9458 §4.3), then the 32-byte enc.
        assert.deepEqual([...sealed.sealed.subarray(0, 7)], [0, 0, 0x20, 0, 1, 0, aeadId]);
        assert.equal(sealed.sealed.length, 7 + 32 + BODY.length + 16);
        const opened = await openRequest(recipient, sealed.sealed, META);
        assert.equal(str(opened.body), str(BODY));
        assert.equal(opened.responder.aeadId, aeadId);
      }
    }
  });

  test("the suite is the server's first preference the backend has", async () => {
    const { target } = serverKey({ suites: [3, 1] });
    assert.equal((await sealRequest(target, { ...META, body: BODY })).context.aeadId, 3);
    const only = serverKey({ suites: [1] });
    assert.equal(
      await channelCode(sealRequest(only.target, { ...META, body: BODY }, { aeadId: 3 })),
      "unsupported-suite",
    );
  });

  test("the method, path and content type are bound: any difference fails authentication", async () => {
    const { target, recipient } = serverKey();
    const sealed = await sealRequest(target, { ...META, body: BODY }, { backend: nodeBackend });
    for (const meta of [
      { ...META, method: "PUT" },
      { ...META, path: "/v1/embeddings" },
      { ...META, path: "/v1/chat/completions?x=1" },
      { ...META, contentType: "text/plain" },
      { ...META, contentType: "" },
    ]) {
      assert.equal(await channelCode(openRequest(recipient, sealed.sealed, meta)), "tampered", JSON.stringify(meta));
    }
  });

  test("sealed to another key set digest, or to another key, it does not open", async () => {
    const a = serverKey();
    const sealed = await sealRequest(a.target, { ...META, body: BODY }, { backend: nodeBackend });
    const otherDigest = { ...a.recipient, keySetDigest: new Uint8Array(32).fill(9) };
    assert.equal(await channelCode(openRequest(otherDigest, sealed.sealed, META)), "tampered");
    const b = serverKey();
    assert.equal(await channelCode(openRequest(b.recipient, sealed.sealed, META)), "tampered");
  });

  test("another key id or a suite the key does not offer is unknown-key", async () => {
    const { target, recipient } = serverKey({ keyId: 7, suites: [1] });
    const sealed = await sealRequest(target, { ...META, body: BODY }, { backend: nodeBackend });
    const wrongId = sealed.sealed.slice();
    wrongId[0] = 8;
    assert.equal(await channelCode(openRequest(recipient, wrongId, META)), "unknown-key");
    const chacha = sealed.sealed.slice();
    chacha[6] = 3;
    assert.equal(await channelCode(openRequest(recipient, chacha, META)), "unknown-key");
    const kem = sealed.sealed.slice();
    kem[2] = 0x10;
    assert.equal(await channelCode(openRequest(recipient, kem, META)), "unknown-key");
  });

  test("every single-byte mutation of a sealed request is rejected with a typed error", async () => {
    const { target, recipient } = serverKey();
    const sealed = (await sealRequest(target, { ...META, body: text("short body") }, { backend: nodeBackend })).sealed;
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice();
      bad[i]! ^= 0x80;
      const code = await channelCode(openRequest(recipient, bad, META));
      assert.ok(["tampered", "unknown-key", "unsupported-suite"].includes(code), `byte ${i}: ${code}`);
    }
    for (let n = 0; n < sealed.length; n++) {
      const code = await channelCode(openRequest(recipient, sealed.subarray(0, n), META));
      assert.ok(["tampered", "bad-framing"].includes(code), `truncated to ${n}: ${code}`);
    }
    assert.equal(await channelCode(openRequest(recipient, concatBytes(sealed, Uint8Array.of(0)), META)), "tampered");
  });

  test("fast-check: random and mutated sealed requests yield only ChannelErrors", async () => {
    const { target, recipient } = serverKey();
    const sealed = (await sealRequest(target, { ...META, body: BODY }, { backend: nodeBackend })).sealed;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 120 }), async (bytes) => {
        await channelCode(openRequest(recipient, bytes, META));
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (at, x) => {
        const bad = sealed.slice();
        bad[at % bad.length]! ^= x;
        await channelCode(openRequest(recipient, bad, META));
      }),
      { numRuns: 300 },
    );
  });

  test("a low-order X25519 point as enc is refused (RFC 9180 §7.1.4)", async () => {
    const { target, recipient } = serverKey();
    const sealed = (await sealRequest(target, { ...META, body: BODY }, { backend: nodeBackend })).sealed;
    for (const point of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      const bad = sealed.slice();
      bad.set(point, 7);
      assert.equal(await channelCode(openRequest(recipient, bad, META)), "tampered");
    }
  });

  test("GET and HEAD seal an empty body into a header; bodies there are refused", async () => {
    const { target, recipient } = serverKey();
    const sealed = await sealRequest(target, { method: "GET", path: "/v1/models" }, { backend: nodeBackend });
    assert.equal(sealed.body, undefined);
    assert.equal(sealed.headers["content-type"], undefined);
    const fromHeader = base64Decode(sealed.headers[SEALED_REQUEST_HEADER], "header", 64);
    assert.deepEqual(fromHeader, sealed.sealed);
    const opened = await openRequest(recipient, fromHeader, { method: "GET", path: "/v1/models", contentType: "" });
    assert.equal(opened.body.length, 0);
    await assert.rejects(sealRequest(target, { method: "GET", path: "/v1/models", body: text("x") }), RangeError);
    await assert.rejects(sealRequest(target, { method: "HEAD", path: "/", contentType: "a/b" }), RangeError);
  });

  test("malformed request lines are refused on both sides", async () => {
    const { target, recipient } = serverKey();
    for (const bad of [
      { method: "PO ST", path: "/x" },
      { method: "", path: "/x" },
      { method: "POST", path: "x" },
      { method: "POST", path: "/a b" },
      { method: "POST", path: "/é" },
      { method: "POST", path: "/x", contentType: "a\nb" },
    ]) {
      await assert.rejects(sealRequest(target, { ...bad, body: BODY }), RangeError, JSON.stringify(bad));
      const sealed = (await sealRequest(target, { ...META, body: BODY })).sealed;
      assert.equal(
        await channelCode(openRequest(recipient, sealed, { contentType: "", ...bad })),
        "bad-framing",
        JSON.stringify(bad),
      );
    }
    await assert.rejects(
      sealRequest({ ...target, keySetDigest: new Uint8Array(31) }, { ...META, body: BODY }),
      RangeError,
    );
  });
});

describe("sealed responses", () => {
  async function exchange(aeadId = 1) {
    const { target, recipient } = serverKey();
    const sealed = await sealRequest(target, { ...META, body: BODY }, { backend: nodeBackend, aeadId });
    const { responder } = await openRequest(recipient, sealed.sealed, META);
    return { context: sealed.context, responder, target, recipient };
  }

  test("a whole response round-trips with its status and sealed header fields", async () => {
    for (const aeadId of [1, 3]) {
      const { context, responder } = await exchange(aeadId);
      const head = { status: 201, headers: { "content-type": "application/json", "retry-after": "2" } };
      const bytes = await responder.sealResponse(head, text(`{"answer":"${CANARY}"}`));
      assert.ok(!contains(bytes, CANARY));
      assert.ok(!contains(bytes, "application/json"));
      const opened = await openResponse(context, bytes);
      assert.equal(opened.status, 201);
      assert.deepEqual({ ...opened.headers }, head.headers);
      assert.equal(str(opened.body), `{"answer":"${CANARY}"}`);
    }
  });

  test("bodies longer than a frame are split and reassembled; empty bodies work", async () => {
    const big = new Uint8Array(MAX_FRAME_PLAINTEXT * 2 + 5).map((_, i) => i & 0xff);
    let { context, responder } = await exchange();
    let opened = await openResponse(context, await responder.sealResponse({ status: 200, headers: {} }, big));
    assert.deepEqual(opened.body, big);
    ({ context, responder } = await exchange());
    opened = await openResponse(context, await responder.sealResponse({ status: 204, headers: {} }, new Uint8Array(0)));
    assert.equal(opened.status, 204);
    assert.equal(opened.body.length, 0);
  });

  test("a response sealed for another request's context fails", async () => {
    const one = await exchange();
    const two = await exchange();
    const bytes = await two.responder.sealResponse({ status: 200, headers: {} }, text("for two"));
    assert.equal(await channelCode(openResponse(one.context, bytes)), "tampered");
  });

  test("every single-byte mutation of a sealed response is rejected with a typed error", async () => {
    const { target, recipient } = serverKey();
    const sealed = await sealRequest(target, { ...META, body: BODY }, { backend: nodeBackend });
    const { responder } = await openRequest(recipient, sealed.sealed, META);
    const bytes = await responder.sealResponse({ status: 200, headers: { "content-type": "text/plain" } }, text("hi"));
    for (let i = 0; i < bytes.length; i++) {
      // Each attempt needs a fresh context (one response per context): re-derive by resealing the same request.
      const again = await sealRequest(target, { ...META, body: BODY }, { backend: nodeBackend });
      const answer = await (await openRequest(recipient, again.sealed, META)).responder.sealResponse(
        { status: 200, headers: { "content-type": "text/plain" } },
        text("hi"),
      );
      const bad = answer.slice();
      bad[i]! ^= 0x04;
      const code = await channelCode(openResponse(again.context, bad));
      assert.ok(["tampered", "frame-out-of-order", "bad-framing", "truncated"].includes(code), `byte ${i}: ${code}`);
    }
    assert.equal((await openResponse(sealed.context, bytes)).status, 200);
  });

  test("fast-check: random bytes as a response yield only ChannelErrors", async () => {
    const { target } = serverKey();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 160 }), async (bytes) => {
        const { context } = await sealRequest(target, { ...META, body: BODY }, { backend: nodeBackend });
        await channelCode(openResponse(context, bytes));
      }),
      { numRuns: 200 },
    );
  });

  test("contexts and responders are one-shot", async () => {
    const { context, responder } = await exchange();
    const bytes = await responder.sealResponse({ status: 200, headers: {} }, text("x"));
    assert.equal(await channelCode(responder.sealResponse({ status: 200, headers: {} }, text("y"))), "closed");
    await openResponse(context, bytes);
    assert.equal(await channelCode(openResponse(context, bytes)), "closed");
    assert.equal(await channelCode(() => createResponseDecoder(context)), "closed");
  });

  test("the head is authenticated on its own; a stream cut right after it is truncated", async () => {
    const { context, responder } = await exchange();
    const sealer = await responder.sealStream({ status: 200, headers: {} });
    const decoder = createResponseDecoder(context);
    await decoder.push(sealer.preamble);
    assert.equal(decoder.head?.status, 200);
    assert.equal(await channelCode(() => decoder.end()), "truncated");
  });

  test("streams: frames open as they arrive, through web streams, in any chunking (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 30 }), { minLength: 0, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (events, rawCuts) => {
          const { context, responder } = await exchange();
          const sealer = await responder.sealStream({ status: 200, headers: { "content-type": "text/event-stream" } });
          const parts = [sealer.preamble];
          for (const e of events) parts.push(await sealer.seal(text(e)));
          parts.push(await sealer.finish());
          const all = concatBytes(...parts);
          const cuts = [...new Set(rawCuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const pieces: Uint8Array[] = [];
          let at = 0;
          for (const cut of [...cuts, all.length]) {
            pieces.push(all.slice(at, cut));
            at = cut;
          }
          const opened = await openResponseStream(context, streamOf(pieces));
          assert.equal(opened.status, 200);
          assert.equal(opened.headers["content-type"], "text/event-stream");
          assert.equal(str(await readAll(opened.body)), events.join(""));
        },
      ),
      { numRuns: 60 },
    );
  });

  test("streams: a truncated, reordered or tampered stream errors the body with a ChannelError", async () => {
    const make = async () => {
      const { context, responder } = await exchange();
      const sealer = await responder.sealStream({ status: 200, headers: {} });
      const frames = [await sealer.seal(text("a")), await sealer.seal(text("b")), await sealer.finish(text("c"))];
      return { context, preamble: sealer.preamble, frames };
    };
    let s = await make();
    let opened = await openResponseStream(s.context, streamOf([s.preamble, s.frames[0]!, s.frames[1]!]));
    assert.equal(await channelCode(readAll(opened.body)), "truncated");
    s = await make();
    opened = await openResponseStream(s.context, streamOf([s.preamble, s.frames[1]!, s.frames[0]!, s.frames[2]!]));
    assert.equal(await channelCode(readAll(opened.body)), "frame-out-of-order");
    s = await make();
    const bad = s.frames[2]!.slice();
    bad[bad.length - 1]! ^= 1;
    opened = await openResponseStream(s.context, streamOf([s.preamble, s.frames[0]!, s.frames[1]!, bad]));
    assert.equal(await channelCode(readAll(opened.body)), "tampered");
    s = await make();
    assert.equal(await channelCode(openResponseStream(s.context, streamOf([s.preamble.subarray(0, 20)]))), "truncated");
    s = await make();
    const trailing = concatBytes(s.preamble, ...s.frames, Uint8Array.of(0));
    // In one chunk, the failure comes with the head (the promise rejects); in two, from the body.
    assert.equal(await channelCode(openResponseStream(s.context, streamOf([trailing]))), "bad-framing");
    s = await make();
    opened = await openResponseStream(s.context, streamOf([s.preamble, concatBytes(...s.frames, Uint8Array.of(0))]));
    assert.equal(await channelCode(readAll(opened.body)), "bad-framing");
  });

  test("streams: nothing after a bad frame is released", async () => {
    const { context, responder } = await exchange();
    const sealer = await responder.sealStream({ status: 200, headers: {} });
    const a = await sealer.seal(text("released"));
    const b = await sealer.seal(text("bad"));
    const c = await sealer.finish(text("never"));
    const badB = b.slice();
    badB[12]! ^= 1;
    const opened = await openResponseStream(context, streamOf([sealer.preamble, a, badB, c]));
    const reader = opened.body.getReader();
    const first = await reader.read();
    assert.equal(str(first.value!), "released");
    assert.equal(await channelCode(reader.read()), "tampered");
  });
});
