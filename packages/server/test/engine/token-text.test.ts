/**
 * TokenTextDecoder with the real model's tokenizer: text that SentencePiece
 * splits into byte-fallback tokens (3- and 4-byte characters in this 512-token
 * vocabulary) comes out only in whole characters, and the chunks add up to the
 * detokenization of the whole sequence.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import fc from "fast-check";
import type { LlamaModel, Token } from "node-llama-cpp";
import { TokenTextDecoder } from "../../src/engine/token-text.js";
import { isWellFormed, tokenizerModel } from "./helpers.js";

let model: LlamaModel;
before(async () => {
  model = await tokenizerModel();
});

/** The definition: the text `tokens` add to the detokenization of `prompt`. */
function continuation(prompt: readonly Token[], tokens: readonly Token[]): string {
  if (prompt.length === 0) return model.detokenize(tokens);
  return model.detokenize([...prompt, ...tokens]).slice(model.detokenize(prompt).length);
}

function decodeAll(prompt: readonly Token[], tokens: readonly Token[]): string[] {
  const decoder = new TokenTextDecoder<Token>((t) => model.detokenize(t), prompt);
  const chunks = tokens.map((t) => decoder.push(t));
  chunks.push(decoder.flush());
  return chunks;
}

describe("TokenTextDecoder (stories260K tokenizer)", () => {
  test("byte-fallback characters are held until complete", () => {
    const tokens = model.tokenize("a 日本 😀 b", false);
    // 日 and 😀 are not in the vocabulary: 3 and 4 byte tokens each.
    assert.ok(tokens.length >= 10);
    const chunks = decodeAll([], tokens);
    for (const c of chunks) assert.ok(!c.includes("\uFFFD") && isWellFormed(c), JSON.stringify(c));
    assert.equal(chunks.join(""), model.detokenize(tokens));
    assert.ok(chunks.includes("😀") || chunks.some((c) => c.endsWith("😀")));
  });

  test("a continuation keeps its leading space (SentencePiece ▁ after the prompt)", () => {
    const prompt = model.tokenize("Once upon a time", false);
    const rest = model.tokenize("Once upon a time there was", false).slice(prompt.length);
    assert.equal(decodeAll(prompt, rest).join(""), " there was");
  });

  test("a space token after a space token is a space (context that renders as empty text)", () => {
    const [space] = model.tokenize(" ", false);
    assert.equal(model.detokenize([space!]), "");
    assert.deepEqual(decodeAll([space!], [space!, space!]), [" ", " ", ""]);
  });

  test("a genuinely invalid byte is released (as U+FFFD) after a bounded hold", () => {
    const [byte] = model.tokenize("日", false).filter((t) => model.detokenize([t]) === "\uFFFD");
    const letters = model.tokenize("abcdefghij", false);
    const chunks = decodeAll([], [byte!, ...letters]);
    assert.equal(chunks.join(""), model.detokenize([byte!, ...letters]));
    // The lone lead byte cannot complete; the decoder gives up within 8 tokens, not at the end.
    assert.ok(chunks.slice(0, 8).join("").length > 0);
  });

  test("property: any text, token by token, gives whole characters adding up to the full decode", () => {
    const unit = fc.constantFrom("a", " ", "e", "é", "ü", "ñ", "日", "本", "😀", "🦙", "\n", "’", "ß", "Ω");
    fc.assert(
      // Up to ~100 characters: well past the decoder's 64-token context window, so its trimming runs too.
      fc.property(fc.string({ unit, maxLength: 20 }), fc.string({ unit, maxLength: 100 }), (head, tail) => {
        const prompt = model.tokenize(head, false);
        const tokens = model.tokenize(head + tail, false).slice(prompt.length);
        const chunks = decodeAll(prompt, tokens);
        for (const c of chunks) assert.ok(isWellFormed(c) && !c.includes("\uFFFD"), JSON.stringify(c));
        assert.equal(chunks.join(""), continuation(prompt, tokens));
      }),
      { numRuns: 500 },
    );
  });
});
