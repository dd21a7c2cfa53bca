/**
 * Every endpoint through the official `openai` client against the handler
 * over the real embedded engine (llama.cpp, stories260K): greedy output is
 * deterministic, streaming concatenates to the non-streamed output, usage and
 * finish reasons are right, bad input and disconnects leave the server and
 * the engine healthy, and no canary reaches any output.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { sharedPath } from "@veritee/testkit";
import { createEmbeddedEngine, type EmbeddedEngine } from "../../src/engine/embedded.js";
import { createJsonLogger } from "../../src/http/index.js";
import { captureOutput } from "./support/capture.js";
import { apiError, startTestServer, type TestServer, until } from "./support/server.js";

const MODEL = "stories260K";
const CONTEXT = 256;
/** The llama2.c reference continuation of "Once upon a time" (../shared/models/README.md). */
const REFERENCE = ", there was a little girl named Lily. She loved to play outside in the park.";

describe("OpenAI endpoints over the embedded engine (stories260K)", () => {
  let engine: EmbeddedEngine;
  let t: TestServer;
  before(async () => {
    engine = await createEmbeddedEngine({
      modelPath: sharedPath("models", "stories260K.gguf"),
      contextSize: CONTEXT,
      parallelSequences: 2,
      maxQueue: 0,
    });
    t = await startTestServer(engine);
  });
  after(async () => {
    await t.close();
    await engine.close();
  });

  it("lists the model", async () => {
    const page = await t.client.models.list();
    assert.equal(page.data.length, 1);
    assert.equal(page.data[0]!.id, MODEL);
    assert.equal((await t.client.models.retrieve(MODEL)).object, "model");
  });

  it("greedy completions are deterministic and match the reference; streaming concatenates to them", async () => {
    const request = { model: MODEL, prompt: "Once upon a time", max_tokens: 24, temperature: 0 };
    const first = await t.client.completions.create(request);
    const second = await t.client.completions.create(request);
    const text = first.choices[0]!.text;
    assert.ok(REFERENCE.startsWith(text.slice(0, 40)) && text.startsWith(", there was a little girl named Lily."));
    assert.equal(second.choices[0]!.text, text);
    assert.equal(first.choices[0]!.finish_reason, "length");
    assert.equal(first.usage!.completion_tokens, 24);
    assert.ok(first.usage!.prompt_tokens >= 4);
    assert.equal(first.usage!.total_tokens, first.usage!.prompt_tokens + 24);

    const stream = await t.client.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed = "";
    let finish: string | null = null;
    let usage: unknown;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.text ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(streamed, text);
    assert.equal(finish, "length");
    assert.deepEqual(usage, first.usage);
  });

  it("stops on a stop string: finish_reason stop, the stop string not returned", async () => {
    const completion = await t.client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: 60,
      temperature: 0,
      stop: [" Lily"],
    });
    assert.equal(completion.choices[0]!.text, ", there was a little girl named");
    assert.equal(completion.choices[0]!.finish_reason, "stop");
    assert.ok(completion.usage!.completion_tokens < 60);
  });

  it("greedy chat completions are deterministic; streaming concatenates to them", async () => {
    const request = {
      model: MODEL,
      messages: [{ role: "user" as const, content: "Tell me a story about a cat." }],
      max_tokens: 20,
      temperature: 0,
    };
    const first = await t.client.chat.completions.create(request);
    const second = await t.client.chat.completions.create(request);
    const content = first.choices[0]!.message.content!;
    assert.ok(content.length > 0);
    assert.equal(second.choices[0]!.message.content, content);
    assert.equal(first.object, "chat.completion");
    assert.ok(["length", "stop"].includes(first.choices[0]!.finish_reason));
    if (first.choices[0]!.finish_reason === "length") assert.equal(first.usage!.completion_tokens, 20);

    const stream = await t.client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks[0]!.choices[0]!.delta.role, "assistant");
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), content);
    assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, first.choices[0]!.finish_reason);
    assert.deepEqual(chunks.at(-1)!.usage, first.usage);
  });

  it("embeds, identically as base64 (the client's default) and as floats", async () => {
    const input = ["Once upon a time", "a big red ball"];
    const viaBase64 = await t.client.embeddings.create({ model: MODEL, input });
    const viaFloat = await t.client.embeddings.create({ model: MODEL, input, encoding_format: "float" });
    assert.equal(viaBase64.data.length, 2);
    assert.ok(viaBase64.usage.prompt_tokens > 0);
    for (const [i, item] of viaBase64.data.entries()) {
      assert.equal(item.index, i);
      assert.ok(item.embedding.length > 0);
      assert.ok(item.embedding.every(Number.isFinite));
      assert.deepEqual(item.embedding, viaFloat.data[i]!.embedding);
    }
    assert.notDeepEqual(viaFloat.data[0]!.embedding, viaFloat.data[1]!.embedding);
  });

  it("bad input gives OpenAI errors, and the server stays healthy", async () => {
    const unknown = await apiError(t.client.completions.create({ model: "gpt-4", prompt: "x" }));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.code, "model_not_found");
    const tooMany = await apiError(t.client.completions.create({ model: MODEL, prompt: "x", max_tokens: CONTEXT + 1 }));
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.code, "context_length_exceeded");
    // Fits alone, not with the prompt: the engine refuses.
    const withPrompt = await apiError(
      t.client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: CONTEXT }),
    );
    assert.equal(withPrompt.status, 400);
    assert.equal(withPrompt.code, "context_length_exceeded");
    assert.equal(withPrompt.param, "max_tokens");
    const longPrompt = await apiError(
      t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "Once upon a time there was a cat. ".repeat(60) }],
        max_tokens: 1,
      }),
    );
    assert.equal(longPrompt.status, 400);
    assert.equal(longPrompt.code, "context_length_exceeded");
    assert.equal(longPrompt.param, "messages");
    const empty = await apiError(t.client.chat.completions.create({ model: MODEL, messages: [] }));
    assert.equal(empty.status, 400);
    const wrong = await apiError(
      t.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }], top_p: 2 }),
    );
    assert.equal(wrong.param, "top_p");
    const ok = await t.client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: 3,
      temperature: 0,
    });
    assert.equal(ok.choices[0]!.text, ", there was");
  });

  it("busy engine → 429 with Retry-After; disconnecting clients free their sequences", async () => {
    const long = {
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: CONTEXT - 10,
      temperature: 0,
      stream: true as const,
    };
    const a = await t.client.completions.create(long);
    const b = await t.client.completions.create(long);
    const busy = await apiError(t.client.completions.create({ model: MODEL, prompt: "x", max_tokens: 2 }));
    assert.equal(busy.status, 429);
    assert.equal(busy.code, "engine_overloaded");
    assert.ok(Number(busy.headers?.get("retry-after")) >= 1);
    for (const stream of [a, b]) {
      let n = 0;
      for await (const _ of stream) if (++n === 2) break;
    }
    await until(() => engine.load().running === 0, 5000);
    const next = await t.client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: 3,
      temperature: 0,
    });
    assert.equal(next.choices[0]!.text, ", there was");
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
  });
});

describe("embedded engine: privacy and shutdown", () => {
  it("canaries through every endpoint never reach logs, stdout/stderr or metrics", async () => {
    const tag = randomUUID().replaceAll("-", "");
    const canary = (n: number) => `Once upon a time zq${n}x${tag}`;
    const capture = captureOutput();
    const lines: string[] = [];
    try {
      const engine = await createEmbeddedEngine({
        modelPath: sharedPath("models", "stories260K.gguf"),
        contextSize: CONTEXT,
        parallelSequences: 1,
        logLevel: "debug",
        logger: (level, message) => lines.push(`${level} ${message}\n`),
      });
      const logger = createJsonLogger({ level: "debug", write: (line) => lines.push(line) });
      const t = await startTestServer(engine, { logger });
      const c = t.client;
      await c.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: canary(1) }],
        max_tokens: 8,
      });
      const stream = await c.chat.completions.create({
        model: MODEL,
        messages: [
          { role: "system", content: canary(2) },
          { role: "user", content: canary(3) },
        ],
        max_tokens: 8,
        stream: true,
        stop: [canary(4)],
      });
      for await (const _ of stream);
      await c.completions.create({ model: MODEL, prompt: canary(5), max_tokens: 8, stop: canary(6) });
      await c.embeddings.create({ model: MODEL, input: [canary(7), canary(8)] });
      const failures = [
        c.completions.create({ model: canary(9), prompt: canary(10) }),
        c.completions.create({ model: MODEL, prompt: `${canary(11)} `.repeat(40), max_tokens: 1 }),
        c.chat.completions.create({
          model: MODEL,
          messages: [{ role: "user", content: canary(12) }],
          top_p: canary(13),
        } as never),
      ];
      for (const failure of failures) await failure.catch(() => {});
      const aborted = await c.completions.create({ model: MODEL, prompt: canary(14), max_tokens: 200, stream: true });
      let n = 0;
      for await (const _ of aborted) if (++n === 2) break;
      await until(() => engine.load().running === 0, 5000);
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      await t.close();
      await engine.close();
      capture.stop();
      assert.ok(lines.length > 10, "the engine and the handler logged at debug level");
      assert.ok(metrics.includes("veritee_completion_tokens_total"));
      assert.equal(lines.join("").includes(tag), false, "a canary leaked into a log");
      assert.equal(capture.text().includes(tag), false, "a canary leaked into stdout/stderr");
      assert.equal(metrics.includes(tag), false, "a canary leaked into /metrics");
    } finally {
      capture.stop();
    }
  });

  it("an in-flight stream ends cleanly at shutdown", async () => {
    const engine = await createEmbeddedEngine({
      modelPath: sharedPath("models", "stories260K.gguf"),
      contextSize: CONTEXT,
      parallelSequences: 1,
    });
    const t = await startTestServer(engine);
    const stream = await t.client.completions.create({
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: CONTEXT - 10,
      temperature: 0,
      stream: true,
    });
    const iterator = stream[Symbol.asyncIterator]();
    let text = (await iterator.next()).value?.choices[0]?.text ?? "";
    const closed = t.running.close({ graceMs: 10_000 });
    let finish: string | null = null;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      text += r.value.choices[0]?.text ?? "";
      finish = r.value.choices[0]?.finish_reason ?? finish;
    }
    await closed;
    assert.equal(finish, "length");
    assert.ok(text.startsWith(", there was a little girl named Lily."));
    assert.equal(engine.load().running, 0);
    await engine.close();
  });
});
