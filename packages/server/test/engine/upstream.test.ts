/**
 * The upstream engine against a real OpenAI-compatible server process (the
 * fixture in ./fixtures/openai-server.ts, serving stories260K through the
 * embedded engine): streamed text, usage and finish reasons equal the
 * embedded engine's for the same requests, and aborts reach the server.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createEmbeddedEngine, type EmbeddedEngine } from "../../src/engine/embedded.js";
import type { ChatMessage, Engine, GenerationParams } from "../../src/engine/types.js";
import { createUpstreamEngine, type UpstreamEngine } from "../../src/engine/upstream.js";
import { collect, eventually, MODEL_ID, MODEL_PATH, noAbort, params, rejectsWith } from "./helpers.js";

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "openai-server.js");

let child: ChildProcess;
const events: Record<string, unknown>[] = [];
let upstream: UpstreamEngine;
let local: EmbeddedEngine;
let serverPort: number;

before(async () => {
  child = spawn(process.execPath, [FIXTURE], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the test server exited (${code})`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      if (typeof message.port === "number") resolve(message.port);
      else events.push(message);
    });
  });
  serverPort = port;
  upstream = await createUpstreamEngine({ baseURL: `http://127.0.0.1:${port}/v1/`, timeoutMs: 20_000 });
  local = await createEmbeddedEngine({ modelPath: MODEL_PATH, logLevel: "error" });
});

after(async () => {
  await upstream?.close();
  await local?.close();
  child?.kill("SIGTERM");
});

async function both(run: (e: Engine) => Promise<Awaited<ReturnType<typeof collect>>>) {
  const [viaUpstream, direct] = await Promise.all([run(upstream), run(local)]);
  return { viaUpstream, direct };
}

const complete = (prompt: string, p: GenerationParams) => (e: Engine) =>
  e.complete({ model: MODEL_ID, prompt, params: p, signal: noAbort() }).then(collect);
const chat = (messages: ChatMessage[], p: GenerationParams) => (e: Engine) =>
  e.chat({ model: MODEL_ID, messages, params: p, signal: noAbort() }).then(collect);

describe("upstream engine over a real OpenAI-compatible server", () => {
  test("models come from GET /models (id, owner, context length)", () => {
    assert.equal(upstream.kind, "upstream");
    assert.equal(upstream.baseURL, `http://127.0.0.1:${serverPort}/v1`);
    assert.deepEqual(
      upstream.models().map((m) => [m.id, m.ownedBy, m.contextSize]),
      [[MODEL_ID, "veritee", 2048]],
    );
  });

  test("completion: streamed deltas, text, usage and finish equal the embedded engine's", async () => {
    const { viaUpstream, direct } = await both(complete("Once upon a time", params({ maxTokens: 50 })));
    assert.ok(viaUpstream.chunks.length > 10, "text arrives as many deltas");
    assert.equal(viaUpstream.text, direct.text);
    assert.deepEqual(viaUpstream.result, direct.result);
    assert.deepEqual(viaUpstream.result, { finishReason: "length", promptTokens: 5, completionTokens: 50 });
  });

  test("chat: same text, usage and finish reason", async () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "Stories for children." },
      { role: "user", content: "Tell me about a bird." },
    ];
    const { viaUpstream, direct } = await both(chat(messages, params({ maxTokens: 40 })));
    assert.equal(viaUpstream.text, direct.text);
    assert.deepEqual(viaUpstream.result, direct.result);
  });

  test("stop strings and seeds pass through: finish stop, sampled text equal", async () => {
    const stopped = await both(complete("Once upon a time", params({ maxTokens: 40, stop: ["Lily", "zebra"] })));
    assert.equal(stopped.viaUpstream.text, ", there was a little girl named ");
    assert.deepEqual(stopped.viaUpstream.result, stopped.direct.result);
    assert.equal(stopped.viaUpstream.result.finishReason, "stop");
    const sampled = await both(complete("The cat", params({ maxTokens: 40, temperature: 0.9, topP: 0.9, seed: 7 })));
    assert.equal(sampled.viaUpstream.text, sampled.direct.text);
  });

  test("upstream errors before streaming map to engine codes", async () => {
    const long = "Once upon a time there was a cat. ".repeat(300);
    await rejectsWith(
      upstream.complete({ model: MODEL_ID, prompt: long, params: params(), signal: noAbort() }),
      "context-length-exceeded",
    );
    await rejectsWith(
      upstream.complete({ model: MODEL_ID, prompt: "Once", params: params({ maxTokens: 2047 }), signal: noAbort() }),
      "max-tokens-exceeded",
    );
    // An unknown model is refused locally, without a request.
    const before = events.length;
    await rejectsWith(
      upstream.complete({ model: "nope", prompt: "x", params: params(), signal: noAbort() }),
      "model-not-found",
    );
    assert.equal(events.length, before);
  });

  test("abort mid-stream: iteration throws aborted and the server sees the request closed", async () => {
    const ac = new AbortController();
    const generation = await upstream.complete({
      model: MODEL_ID,
      prompt: "The dog",
      params: params({ maxTokens: undefined }),
      signal: ac.signal,
    });
    const it = generation[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    const closedBefore = events.filter((e) => e.event === "client-closed").length;
    ac.abort();
    await rejectsWith(it.next(), "aborted");
    await rejectsWith(generation.result, "aborted");
    await eventually(
      () => events.filter((e) => e.event === "client-closed").length > closedBefore,
      3000,
      "the server sees the close",
    );
  });

  test("breaking out of the iteration closes the upstream request too", async () => {
    const generation = await upstream.chat({
      model: MODEL_ID,
      messages: [{ role: "user", content: "Tell me a long story." }],
      params: params({ maxTokens: undefined }),
      signal: noAbort(),
    });
    const closedBefore = events.filter((e) => e.event === "client-closed").length;
    for await (const _ of generation) break;
    await rejectsWith(generation.result, "aborted");
    await eventually(
      () => events.filter((e) => e.event === "client-closed").length > closedBefore,
      3000,
      "the server sees the close",
    );
  });

  test("embeddings: same vectors and token count as the embedded engine", async () => {
    const input = ["The cat sat.", "", "A dog ran in the park."];
    const [viaUpstream, direct] = await Promise.all([
      upstream.embed({ model: MODEL_ID, input, signal: noAbort() }),
      local.embed({ model: MODEL_ID, input, signal: noAbort() }),
    ]);
    assert.deepEqual(viaUpstream, direct);
  });

  test("close waits for in-flight work and then refuses new work", async () => {
    const own = await createUpstreamEngine({ baseURL: upstream.baseURL, models: [MODEL_ID] });
    const generation = await own.complete({
      model: MODEL_ID,
      prompt: "Once upon a time",
      params: params({ maxTokens: 100 }),
      signal: noAbort(),
    });
    await own.close();
    // The stream was fully read before close resolved.
    assert.equal((await generation.result).completionTokens, 100);
    assert.ok((await collect(generation)).text.length > 0);
    await rejectsWith(own.complete({ model: MODEL_ID, prompt: "x", params: params(), signal: noAbort() }), "closed");
  });
});
