/**
 * The Generation channel: chunks in order, result after the end, cancellation
 * by abort or by leaving the loop, and no unhandled rejections.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createGeneration } from "../../src/engine/generation.js";
import { EngineError } from "../../src/engine/types.js";

const RESULT = { finishReason: "stop", promptTokens: 3, completionTokens: 2 } as const;

describe("createGeneration", () => {
  test("yields pushed chunks in order (empty ones dropped), then resolves result", async () => {
    const { generation, sink } = createGeneration(new AbortController().signal);
    sink.push("a");
    sink.push("");
    setImmediate(() => {
      sink.push("b");
      sink.end(RESULT);
      sink.push("late"); // after end: ignored
    });
    const chunks: string[] = [];
    for await (const c of generation) chunks.push(c);
    assert.deepEqual(chunks, ["a", "b"]);
    assert.deepEqual(await generation.result, RESULT);
    assert.equal(sink.cancelled.aborted, false);
  });

  test("can be iterated only once", () => {
    const { generation } = createGeneration(new AbortController().signal);
    generation[Symbol.asyncIterator]();
    assert.throws(() => generation[Symbol.asyncIterator](), TypeError);
  });

  test("abort: a waiting iteration throws aborted, the producer is cancelled, result rejects", async () => {
    const ac = new AbortController();
    const { generation, sink } = createGeneration(ac.signal);
    sink.push("a");
    const it = generation[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { done: false, value: "a" });
    const waiting = it.next();
    ac.abort();
    await assert.rejects(waiting, (e: unknown) => e instanceof EngineError && e.code === "aborted");
    assert.equal(sink.cancelled.aborted, true);
    await assert.rejects(generation.result, (e: unknown) => e instanceof EngineError && e.code === "aborted");
  });

  test("leaving the loop early cancels the producer and rejects result with aborted", async () => {
    const { generation, sink } = createGeneration(new AbortController().signal);
    sink.push("a");
    sink.push("b");
    for await (const _ of generation) break;
    assert.equal(sink.cancelled.aborted, true);
    await assert.rejects(generation.result, (e: unknown) => e instanceof EngineError && e.code === "aborted");
  });

  test("a failure is thrown after the chunks before it; result rejects without an unhandled rejection", async () => {
    const { generation, sink } = createGeneration(new AbortController().signal);
    sink.push("a");
    sink.fail(new EngineError("upstream-error", "boom"));
    const chunks: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of generation) chunks.push(c);
      })(),
      (e: unknown) => e instanceof EngineError && e.code === "upstream-error",
    );
    assert.deepEqual(chunks, ["a"]);
    // result is never awaited here: the pre-attached handler keeps node from reporting it.
  });

  test("an already aborted signal fails at once", async () => {
    const { generation, sink } = createGeneration(AbortSignal.abort());
    assert.equal(sink.cancelled.aborted, true);
    await assert.rejects(generation.result, (e: unknown) => e instanceof EngineError && e.code === "aborted");
  });
});
