/**
 * The wire encoders: stream chunks stay one SSE line whatever the text (a
 * newline in generated text must never end an event early) and decode to the
 * objects the openai package expects; base64 embeddings round-trip exactly.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ChunkEncoder, embeddingBase64, responseId } from "../../src/http/wire.js";

const head = { id: "chatcmpl-x", created: 1_700_000_000, model: "m" };

describe("wire encoders", () => {
  it("chunks are single-line JSON carrying the text exactly", () => {
    const chat = new ChunkEncoder("chat", head, true);
    const text = new ChunkEncoder("text", head, false);
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 64 }), (s) => {
        for (const line of [chat.text(s), text.text(s)]) {
          assert.equal(/[\r\n]/.test(line), false);
        }
        const c = JSON.parse(chat.text(s));
        assert.deepEqual(c, {
          id: "chatcmpl-x",
          object: "chat.completion.chunk",
          created: 1_700_000_000,
          model: "m",
          choices: [{ index: 0, delta: { content: s }, logprobs: null, finish_reason: null }],
          usage: null,
        });
        const t = JSON.parse(text.text(s));
        assert.equal(t.object, "text_completion");
        assert.equal(t.choices[0].text, s);
        assert.equal("usage" in t, false);
      }),
    );
  });

  it("the role, finish and usage chunks have OpenAI's shapes", () => {
    const chat = new ChunkEncoder("chat", head, true);
    assert.deepEqual(JSON.parse(chat.role()).choices, [
      { index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
    ]);
    assert.deepEqual(JSON.parse(chat.finish("stop")).choices, [
      { index: 0, delta: {}, logprobs: null, finish_reason: "stop" },
    ]);
    const usage = JSON.parse(chat.usage({ finishReason: "length", promptTokens: 3, completionTokens: 4 }));
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usage.usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it("base64 embeddings are little-endian float32 and round-trip bit for bit", () => {
    fc.assert(
      fc.property(fc.array(fc.float(), { maxLength: 32 }), fc.nat(3), (values, offset) => {
        // A view at an offset into a larger buffer, as engines may hand out.
        const backing = new Float32Array(values.length + offset);
        const vector = backing.subarray(offset);
        vector.set(values);
        const bytes = Buffer.from(embeddingBase64(vector), "base64");
        assert.equal(bytes.length, values.length * 4);
        for (let i = 0; i < values.length; i++) {
          assert.ok(Object.is(bytes.readFloatLE(i * 4), vector[i]));
        }
      }),
    );
  });

  it("response ids are unique and carry 128 random bits", () => {
    const ids = new Set(Array.from({ length: 2000 }, () => responseId("chatcmpl")));
    assert.equal(ids.size, 2000);
    for (const id of ids) assert.match(id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.match(responseId("cmpl"), /^cmpl-[0-9a-f]{32}$/);
  });
});
