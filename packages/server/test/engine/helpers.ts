/**
 * Shared helpers of the engine tests: the real model, parameter builders, and
 * an independent tokenizer (node-llama-cpp's, loaded vocabulary-only) to check
 * the engine's token counts against.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { sharedPath } from "@veritee/testkit";
import { getLlama, LlamaLogLevel, type LlamaModel } from "node-llama-cpp";
import { EngineError, type Generation, type GenerationParams, type GenerationResult } from "../../src/engine/types.js";

/** The real model every engine test runs. */
export const MODEL_PATH = sharedPath("models", "stories260K.gguf");
export const MODEL_ID = "stories260K";

/** Greedy, 40 tokens, no stop: override what a test needs. */
export function params(overrides: Partial<GenerationParams> = {}): GenerationParams {
  return { maxTokens: 40, temperature: 0, topP: 1, seed: undefined, stop: [], ...overrides };
}

/** A signal that never aborts. */
export function noAbort(): AbortSignal {
  return new AbortController().signal;
}

/** Drain a generation: its chunks, their concatenation and the result. */
export async function collect(
  generation: Generation,
): Promise<{ chunks: string[]; text: string; result: GenerationResult }> {
  const chunks: string[] = [];
  for await (const chunk of generation) chunks.push(chunk);
  return { chunks, text: chunks.join(""), result: await generation.result };
}

/** Assert that `p` rejects with an EngineError of `code`; returns the error. */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<EngineError> {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof EngineError, `expected EngineError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    return error;
  }
  assert.fail(`expected EngineError ${code}`);
}

/** The greedy continuation of "Once upon a time" that ../shared/models/README.md states. */
export async function referenceContinuation(): Promise<string> {
  const readme = await readFile(sharedPath("models", "README.md"), "utf8");
  const match = /"Once upon a time" continues "(.+?)…"/.exec(readme);
  assert.ok(match, "the models README states the reference continuation");
  return match[1]!;
}

let vocab: Promise<LlamaModel> | undefined;

/** The model's tokenizer, loaded on its own (vocabulary only): an independent count. */
export function tokenizerModel(): Promise<LlamaModel> {
  vocab ??= (async () => {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
    return llama.loadModel({ modelPath: MODEL_PATH, vocabOnly: true });
  })();
  return vocab;
}

/** Tokens of `text` as plain text (no BOS), by the independent tokenizer. */
export async function countTokens(text: string): Promise<number> {
  return (await tokenizerModel()).tokenize(text, false).length;
}

/** Poll `predicate` every 5 ms until it holds or `ms` pass. */
export async function eventually(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** No lone UTF-16 surrogate (String.prototype.isWellFormed is ES2024, beyond this project's lib). */
export function isWellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
