/**
 * Response frames: round trips, arbitrary chunking (fast-check), and every
 * relay attack on a stream — a modified byte, a dropped, reordered, replayed,
 * duplicated or truncated frame, trailing data, reserved bits, length bounds
 * and sequence-number overflow — each rejected with its typed error.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { concatBytes } from "@veritee/core";
import fc from "fast-check";
import { channelSuite, type HpkeBackend } from "../src/backend.js";
import { type FrameKeys, FrameOpener, FrameSealer } from "../src/frames.js";
import { nodeBackend } from "../src/node/backend.js";
import { deriveResponseKeys } from "../src/response-keys.js";
import { webCryptoBackend } from "../src/web-backend.js";
import { FRAME_FINAL, FRAME_HEADER_SIZE, MAX_FRAME_PLAINTEXT, MAX_SEQUENCE } from "../src/wire.js";
import { channelCode, str, text } from "./support.js";

/** Both directions' keys for one response (the same derivation twice, as client and server do). */
async function keys(backend: HpkeBackend = nodeBackend, aeadId = 1, seed = 1): Promise<FrameKeys> {
  const suite = channelSuite(backend, 1, aeadId)!;
  const secret = new Uint8Array(16).fill(seed);
  return deriveResponseKeys(suite, secret, new Uint8Array(32).fill(2), new Uint8Array(16).fill(3));
}

async function sealAll(k: FrameKeys, chunks: readonly string[]): Promise<Uint8Array[]> {
  const sealer = new FrameSealer(k);
  const out: Uint8Array[] = [];
  for (let i = 0; i < chunks.length; i++) out.push(await sealer.seal(text(chunks[i]!), i === chunks.length - 1));
  return out;
}

async function openAll(k: FrameKeys, bytes: Uint8Array, cuts: readonly number[] = []): Promise<string[]> {
  const opener = new FrameOpener(k);
  const out: string[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    for (const f of await opener.push(bytes.subarray(at, cut))) out.push(str(f.plaintext));
    at = cut;
  }
  opener.end();
  return out;
}

const CHUNKS = ['data: {"a":1}\n\n', "", 'data: {"b":2}\n\n', "data: [DONE]\n\n"];

describe("frames", () => {
  test("round trip on both backends and both AEADs, in one piece and byte by byte", async () => {
    for (const backend of [nodeBackend, webCryptoBackend]) {
      for (const aeadId of [1, 3]) {
        const k = await keys(backend, aeadId);
        const stream = concatBytes(...(await sealAll(k, CHUNKS)));
        assert.deepEqual(await openAll(k, stream), CHUNKS);
        const everyByte = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
        assert.deepEqual(await openAll(await keys(backend, aeadId), stream, everyByte), CHUNKS);
      }
    }
  });

  test("the header is flags ‖ u32 seq ‖ u32 length, the final flag only on the last frame", async () => {
    const frames = await sealAll(await keys(), ["ab", "cde"]);
    const v0 = new DataView(frames[0]!.buffer);
    assert.equal(v0.getUint8(0), 0);
    assert.equal(v0.getUint32(1), 0);
    assert.equal(v0.getUint32(5), 2 + 16);
    const v1 = new DataView(frames[1]!.buffer);
    assert.equal(v1.getUint8(0), FRAME_FINAL);
    assert.equal(v1.getUint32(1), 1);
    assert.equal(frames[1]!.length, FRAME_HEADER_SIZE + 3 + 16);
  });

  test("fast-check: any chunking of a sealed stream opens to the same chunks", async () => {
    const k = await keys();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (chunks, rawCuts) => {
          const stream = concatBytes(...(await sealAll(k, chunks)));
          const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          assert.deepEqual(await openAll(k, stream, cuts), chunks);
        },
      ),
      { numRuns: 150 },
    );
  });

  test("every single-byte change anywhere in a stream is rejected with a typed error", async () => {
    const k = await keys();
    const stream = concatBytes(...(await sealAll(k, ["hello", "world"])));
    for (let i = 0; i < stream.length; i++) {
      const bad = stream.slice();
      bad[i]! ^= 0x01;
      const code = await channelCode(openAll(k, bad));
      assert.ok(["tampered", "frame-out-of-order", "bad-framing", "truncated"].includes(code), `byte ${i}: ${code}`);
    }
  });

  test("a dropped, reordered, replayed or duplicated frame is frame-out-of-order", async () => {
    const k = await keys();
    const [a, b, c] = await sealAll(k, ["one", "two", "three"]);
    assert.equal(await channelCode(openAll(k, concatBytes(a!, c!))), "frame-out-of-order"); // dropped
    assert.equal(await channelCode(openAll(k, concatBytes(b!, a!, c!))), "frame-out-of-order"); // reordered
    assert.equal(await channelCode(openAll(k, concatBytes(a!, a!, b!, c!))), "frame-out-of-order"); // duplicated
    assert.equal(await channelCode(openAll(k, concatBytes(a!, b!, a!))), "frame-out-of-order"); // replayed
  });

  test("a frame moved with a rewritten sequence number fails authentication", async () => {
    const k = await keys();
    const [a, b, c] = await sealAll(k, ["one", "two", "three"]);
    const moved = c!.slice();
    new DataView(moved.buffer).setUint32(1, 1); // frame 2 relabelled as frame 1
    assert.equal(await channelCode(openAll(k, concatBytes(a!, moved, b!))), "tampered");
  });

  test("a stream without its final frame is truncated, wherever it is cut", async () => {
    const k = await keys();
    const stream = concatBytes(...(await sealAll(k, ["one", "two"])));
    for (let cut = 0; cut < stream.length; cut++) {
      assert.equal(await channelCode(openAll(k, stream.subarray(0, cut))), "truncated", `cut at ${cut}`);
    }
  });

  test("a final flag removed or added fails authentication; data after the final frame is bad framing", async () => {
    const k = await keys();
    const [a, b] = await sealAll(k, ["one", "two"]);
    const unfinal = b!.slice();
    unfinal[0] = 0;
    assert.equal(await channelCode(openAll(k, concatBytes(a!, unfinal))), "tampered");
    const early = a!.slice();
    early[0] = FRAME_FINAL;
    assert.equal(await channelCode(openAll(k, early)), "tampered");
    assert.equal(await channelCode(openAll(k, concatBytes(a!, b!, Uint8Array.of(0)))), "bad-framing");
    const opener = new FrameOpener(k);
    await opener.push(concatBytes(a!, b!));
    assert.equal(await channelCode(opener.push(Uint8Array.of(1))), "bad-framing");
  });

  test("reserved flag bits and out-of-bounds lengths are bad framing, before any ciphertext is awaited", async () => {
    const k = await keys();
    const [a] = await sealAll(k, ["one"]);
    for (const flags of [0x02, 0x80, 0xfe]) {
      const bad = a!.slice();
      bad[0] = flags | (bad[0]! & FRAME_FINAL);
      assert.equal(await channelCode(new FrameOpener(k).push(bad)), "bad-framing");
    }
    for (const length of [0, 15, MAX_FRAME_PLAINTEXT + 17, 0xffffffff]) {
      const header = new Uint8Array(FRAME_HEADER_SIZE);
      new DataView(header.buffer).setUint32(5, length);
      // Only the header arrives: a bad length is refused at once, without waiting for (or buffering) a body.
      assert.equal(await channelCode(new FrameOpener(k).push(header)), "bad-framing", `length ${length}`);
    }
  });

  test("after a failure the opener stays failed", async () => {
    const k = await keys();
    const [a, b] = await sealAll(k, ["one", "two"]);
    const opener = new FrameOpener(k);
    const bad = a!.slice();
    bad[bad.length - 1]! ^= 1;
    assert.equal(await channelCode(opener.push(bad)), "tampered");
    assert.equal(await channelCode(opener.push(b!)), "tampered");
    assert.equal(await channelCode(() => opener.end()), "tampered");
  });

  test("frames of another response (other keys) do not open", async () => {
    const [a] = await sealAll(await keys(nodeBackend, 1, 1), ["x"]);
    assert.equal(await channelCode(openAll(await keys(nodeBackend, 1, 2), a!)), "tampered");
  });

  test("sealing: too large a chunk, and anything after the final frame, are refused", async () => {
    const sealer = new FrameSealer(await keys());
    assert.equal(await channelCode(sealer.seal(new Uint8Array(MAX_FRAME_PLAINTEXT + 1), false)), "too-large");
    await sealer.seal(new Uint8Array(MAX_FRAME_PLAINTEXT), true);
    assert.equal(await channelCode(sealer.seal(new Uint8Array(1), false)), "closed");
  });

  test("sequence numbers cannot overflow: the sealer refuses frame 2^32, the opener expects nothing past it", async () => {
    const k = await keys();
    const sealer = new FrameSealer(k, MAX_SEQUENCE);
    const last = await sealer.seal(text("last"), false);
    assert.equal(await channelCode(sealer.seal(text("wrapped"), true)), "sequence-overflow");
    const opener = new FrameOpener(k, MAX_SEQUENCE);
    assert.deepEqual(
      (await opener.push(last)).map((f) => str(f.plaintext)),
      ["last"],
    );
    // A forged next frame claiming sequence 0 (the wrapped-around u32) is refused before anything else.
    const wrapped = new Uint8Array(FRAME_HEADER_SIZE + 16);
    new DataView(wrapped.buffer).setUint32(5, 16);
    assert.equal(await channelCode(opener.push(wrapped)), "sequence-overflow");
  });

  test("the opener copies its input: the caller may reuse its buffer", async () => {
    const k = await keys();
    const stream = concatBytes(...(await sealAll(k, ["abc", "def"])));
    const opener = new FrameOpener(k);
    const buffer = stream.slice(0, 5);
    await opener.push(buffer);
    buffer.fill(0);
    const out = await opener.push(stream.subarray(5));
    assert.deepEqual(
      out.map((f) => str(f.plaintext)),
      ["abc", "def"],
    );
  });

  test("fast-check: random bytes never open and yield only ChannelErrors", async () => {
    const k = await keys();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        await channelCode(openAll(k, bytes));
      }),
      { numRuns: 300 },
    );
  });
});
