/**
 * End of sequence. stories260K never samples its EOS (llama2.c models separate
 * stories with BOS), so this runs a copy whose EOS id is the "." token, which
 * greedy decoding of "Once upon a time" reaches after "Lily": generation must
 * end there with finish "stop", the EOS token counted but not shown.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createEmbeddedEngine, type EmbeddedEngine } from "../../src/engine/embedded.js";
import { withEosToken } from "./gguf.js";
import { collect, countTokens, noAbort, params, tokenizerModel } from "./helpers.js";

let dir: string;
let engine: EmbeddedEngine;
before(async () => {
  const tokenizer = await tokenizerModel();
  const dot = tokenizer.tokenize("Lily.", false).at(-1)!;
  assert.equal(tokenizer.detokenize([dot]), ".");
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-eos-"));
  engine = await createEmbeddedEngine({ modelPath: await withEosToken(dir, dot), contextSize: 256, logLevel: "error" });
});
after(async () => {
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("embedded engine: EOS", () => {
  test("EOS ends generation with stop; it is counted in completion tokens but not emitted", async () => {
    const prompt = "Once upon a time";
    const generation = await engine.complete({
      model: "stories260K-eos",
      prompt,
      params: params({ maxTokens: 40 }),
      signal: noAbort(),
    });
    const { text, result } = await collect(generation);
    assert.equal(text, ", there was a little girl named Lily");
    assert.equal(result.finishReason, "stop");
    // The text's tokens, plus the EOS token.
    assert.equal(result.completionTokens, (await countTokens(prompt + text)) - (await countTokens(prompt)) + 1);
  });

  test("a stop string that the text reaches before EOS still wins", async () => {
    const generation = await engine.complete({
      model: "stories260K-eos",
      prompt: "Once upon a time",
      params: params({ maxTokens: 40, stop: ["girl"] }),
      signal: noAbort(),
    });
    const { text, result } = await collect(generation);
    assert.equal(text, ", there was a little ");
    assert.equal(result.finishReason, "stop");
  });
});
