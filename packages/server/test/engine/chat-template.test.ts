/**
 * Chat templates: the documented default for models without one, and the
 * model's own template when its GGUF carries `tokenizer.chat_template`
 * (checked on a copy of stories260K with a ChatML template added).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { resolveChatWrapper } from "node-llama-cpp";
import { defaultChatTemplate } from "../../src/engine/chat-template.js";
import { createEmbeddedEngine, type EmbeddedEngine } from "../../src/engine/embedded.js";
import type { ChatMessage } from "../../src/engine/types.js";
import { withChatTemplate } from "./gguf.js";
import { collect, countTokens, MODEL_PATH, noAbort, params } from "./helpers.js";

const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const MESSAGES: readonly ChatMessage[] = [
  { role: "system", content: "You tell short stories." },
  { role: "user", content: "Tell me about a cat." },
  { role: "assistant", content: "The cat was fluffy." },
  { role: "system", content: "Keep it kind." },
  { role: "user", content: "And a dog?" },
];

describe("defaultChatTemplate", () => {
  test("system messages first, then User/Assistant turns, ending with the assistant prefix", () => {
    const rendered = defaultChatTemplate(MESSAGES);
    assert.equal(
      rendered.text,
      "You tell short stories.\n\nKeep it kind.\n\n" +
        "User: Tell me about a cat.\nAssistant: The cat was fluffy.\nUser: And a dog?\nAssistant:",
    );
    assert.deepEqual(rendered.stop, ["\nUser:"]);
    assert.equal(rendered.trimLeadingSpace, true);
  });

  test("no messages and only-system conversations still end with the assistant prefix", () => {
    assert.equal(defaultChatTemplate([]).text, "Assistant:");
    assert.equal(defaultChatTemplate([{ role: "system", content: "S" }]).text, "S\n\nAssistant:");
  });
});

describe("a model with its own chat template", () => {
  let dir: string;
  let engine: EmbeddedEngine;
  let plain: EmbeddedEngine;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "veritee-chatml-"));
    engine = await createEmbeddedEngine({
      modelPath: await withChatTemplate(dir, CHATML),
      contextSize: 512,
      logLevel: "error",
    });
    plain = await createEmbeddedEngine({ modelPath: MODEL_PATH, contextSize: 512, logLevel: "error" });
  });
  after(async () => {
    await engine?.close();
    await plain?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("the GGUF's template is used, as node-llama-cpp's resolved wrapper renders it", async () => {
    assert.equal(engine.settings.chatTemplate, "model");
    assert.equal(engine.settings.modelId, "stories260K-chatml");
    const generation = await engine.chat({
      model: "stories260K-chatml",
      messages: MESSAGES,
      params: params({ maxTokens: 8 }),
      signal: noAbort(),
    });
    const { result } = await collect(generation);
    // The same rendering, computed independently of the engine, through node-llama-cpp's public API.
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: path.join(dir, "stories260K-chatml.gguf"), vocabOnly: true });
    const wrapper = resolveChatWrapper(model);
    const state = wrapper.generateContextState({
      chatHistory: [
        { type: "system", text: "You tell short stories." },
        { type: "user", text: "Tell me about a cat." },
        { type: "model", response: ["The cat was fluffy."] },
        { type: "system", text: "Keep it kind." },
        { type: "user", text: "And a dog?" },
        { type: "model", response: [] },
      ],
    });
    assert.match(
      state.contextText.toString(),
      /<\|im_start\|>user\nAnd a dog\?<\|im_end\|>\n<\|im_start\|>assistant\n$/,
    );
    assert.equal(result.promptTokens, state.contextText.tokenize(model.tokenizer).length);
    await llama.dispose();
    // ... and it is not the default template's count.
    assert.notEqual(result.promptTokens, 1 + (await countTokens(defaultChatTemplate(MESSAGES).text)));
  });

  test("completions are unaffected by the template (same text and usage as the plain model)", async () => {
    const run = (e: EmbeddedEngine, model: string) =>
      e
        .complete({ model, prompt: "Once upon a time", params: params({ maxTokens: 20 }), signal: noAbort() })
        .then(collect);
    const [a, b] = await Promise.all([run(engine, "stories260K-chatml"), run(plain, "stories260K")]);
    assert.equal(a.text, b.text);
    assert.deepEqual(a.result, b.result);
  });
});
