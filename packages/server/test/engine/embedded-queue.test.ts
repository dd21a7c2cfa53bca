/**
 * Scheduling on the embedded engine with one sequence and a one-place queue:
 * busy when full, abort and break free the sequence for the next request
 * (whose output proves the KV state was cleared), close drains.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createEmbeddedEngine, type EmbeddedEngine } from "../../src/engine/embedded.js";
import type { Generation } from "../../src/engine/types.js";
import { collect, eventually, MODEL_ID, MODEL_PATH, noAbort, params, rejectsWith } from "./helpers.js";

let engine: EmbeddedEngine;
let reference: string;
const PROMPT = "Once upon a time";

before(async () => {
  engine = await createEmbeddedEngine({ modelPath: MODEL_PATH, parallelSequences: 1, maxQueue: 1, logLevel: "error" });
  reference = (await collect(await start(PROMPT, 30))).text;
});
after(async () => {
  await engine?.close();
});

/** A generation; `maxTokens` undefined runs to the full 2048-token context (seconds on this model). */
function start(prompt: string, maxTokens: number | undefined, signal: AbortSignal = noAbort()): Promise<Generation> {
  return engine.complete({ model: MODEL_ID, prompt, params: params({ maxTokens }), signal });
}

describe("embedded engine: queue", () => {
  test("every sequence busy and the queue full: busy with Retry-After; the queued one runs next", async () => {
    const running = start(PROMPT, 30);
    const queued = start(PROMPT, 30);
    const refused = await rejectsWith(start(PROMPT, 30), "busy");
    assert.equal(refused.retryAfterSeconds, 1);
    const [a, b] = await Promise.all([running.then(collect), queued.then(collect)]);
    assert.equal(a.text, reference);
    assert.equal(b.text, reference);
    assert.deepEqual(engine.load(), { running: 0, queued: 0 });
  });

  test("abort mid-stream: iteration throws aborted, the sequence is freed within a step, the next request is clean", async () => {
    const ac = new AbortController();
    const long = await start("The dog", undefined, ac.signal);
    const next = start(PROMPT, 30); // queued behind the long one
    assert.deepEqual(engine.load(), { running: 1, queued: 1 });
    const it = long[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    ac.abort();
    await rejectsWith(it.next(), "aborted");
    // Unaborted, the long generation would hold the sequence for ~2,000 more tokens (seconds);
    // aborted, it stops within one decode step and the queued request takes the sequence.
    await eventually(() => engine.load().queued === 0, 1000, "the queued request gets the sequence");
    await rejectsWith(long.result, "aborted");
    const after = await collect(await next);
    assert.equal(after.text, reference);
    await eventually(() => engine.load().running === 0, 1000, "the sequence is released");
  });

  test("abort while queued: rejected with aborted, never runs", async () => {
    const running = start(PROMPT, 30);
    const ac = new AbortController();
    const queued = start(PROMPT, 30, ac.signal);
    ac.abort();
    await rejectsWith(queued, "aborted");
    assert.equal((await collect(await running)).text, reference);
  });

  test("breaking out of the iteration frees the sequence too", async () => {
    const long = await start("The dog", undefined);
    const next = start(PROMPT, 30);
    for await (const _ of long) break;
    await eventually(() => engine.load().queued === 0, 1000, "the queued request gets the sequence after break");
    await rejectsWith(long.result, "aborted");
    assert.equal((await collect(await next)).text, reference);
  });

  test("a generation nobody reads still completes and frees its sequence", async () => {
    const unread = await start(PROMPT, 30);
    await eventually(() => engine.load().running === 0, 5000, "an unread generation finishes");
    assert.deepEqual((await unread.result).completionTokens, 30);
    assert.equal((await collect(unread)).text, reference);
  });

  test("close: queued requests get closed, the running one finishes, new ones get closed", async () => {
    const own = await createEmbeddedEngine({
      modelPath: MODEL_PATH,
      parallelSequences: 1,
      maxQueue: 2,
      logLevel: "error",
    });
    const running = await own.complete({
      model: MODEL_ID,
      prompt: PROMPT,
      params: params({ maxTokens: 200 }),
      signal: noAbort(),
    });
    const queued = own.complete({ model: MODEL_ID, prompt: PROMPT, params: params(), signal: noAbort() });
    const closing = own.close();
    await rejectsWith(queued, "closed");
    await rejectsWith(own.complete({ model: MODEL_ID, prompt: PROMPT, params: params(), signal: noAbort() }), "closed");
    await rejectsWith(own.embed({ model: MODEL_ID, input: ["x"], signal: noAbort() }), "closed");
    const { result } = await collect(running);
    assert.deepEqual([result.finishReason, result.completionTokens], ["length", 200]);
    await closing;
    assert.equal(own.close(), closing); // idempotent
  });
});
