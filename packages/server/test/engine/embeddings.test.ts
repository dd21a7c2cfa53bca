/**
 * Embeddings from the embedded engine: one unit vector per input of the
 * model's width, deterministic, exact token counts, and the documented
 * handling of empty and over-long inputs.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createEmbeddedEngine, type EmbeddedEngine } from "../../src/engine/embedded.js";
import { countTokens, MODEL_ID, MODEL_PATH, noAbort, rejectsWith } from "./helpers.js";

let engine: EmbeddedEngine;
before(async () => {
  engine = await createEmbeddedEngine({ modelPath: MODEL_PATH, contextSize: 256, logLevel: "error" });
});
after(async () => {
  await engine?.close();
});

function embed(input: string[], signal = noAbort()) {
  return engine.embed({ model: MODEL_ID, input, signal });
}

function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

describe("embedded engine: embeddings", () => {
  test("one unit vector per input, in order, of the model's embedding width (64)", async () => {
    const inputs = ["The cat sat on the mat.", "A dog ran in the park.", "The cat sat on the mat."];
    const { vectors, promptTokens } = await embed(inputs);
    assert.equal(vectors.length, 3);
    for (const v of vectors) {
      assert.ok(v instanceof Float32Array);
      assert.equal(v.length, 64);
      assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    }
    assert.deepEqual(vectors[0], vectors[2]);
    assert.notDeepEqual(vectors[0], vectors[1]);
    // BOS + the tokenizer's count, per input.
    let expected = 0;
    for (const text of inputs) expected += 1 + (await countTokens(text));
    assert.equal(promptTokens, expected);
  });

  test("deterministic across requests", async () => {
    const a = await embed(["Lily liked the red ball."]);
    const b = await embed(["Lily liked the red ball."]);
    assert.deepEqual(a, b);
  });

  test("concurrent requests queue on the single embedding sequence and all succeed", async () => {
    const texts = ["one", "two words", "three little words", "four"];
    const alone = await Promise.all(texts.map((t) => embed([t])));
    const together = await Promise.all(texts.map((t) => embed([t])));
    assert.deepEqual(together, alone);
  });

  test("an empty string embeds as BOS alone (1 token)", async () => {
    const { vectors, promptTokens } = await embed([""]);
    assert.equal(promptTokens, 1);
    assert.equal(vectors[0]!.length, 64);
  });

  test("an input beyond the context: context-length-exceeded, and nothing is computed", async () => {
    const long = "the cat sat on the mat ".repeat(60);
    assert.ok((await countTokens(long)) > 256);
    const error = await rejectsWith(embed(["short", long]), "context-length-exceeded");
    assert.ok(!error.message.includes("cat"));
  });

  test("unknown model, aborted request", async () => {
    await rejectsWith(
      engine.embed({ model: "text-embedding-3-small", input: ["x"], signal: noAbort() }),
      "model-not-found",
    );
    await rejectsWith(embed(["x"], AbortSignal.abort()), "aborted");
  });
});
