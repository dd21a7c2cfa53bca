/**
 * Graceful shutdown: in-flight streams finish within the grace period; past
 * it they end with a clean `server_shutting_down` error event; new requests
 * meanwhile get 503; every sequence is freed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APIError } from "openai";
import { startTestServer } from "./support/server.js";
import { WordEngine } from "./support/word-engine.js";

const MODEL = "word-model";
const ask = (maxTokens: number) => ({
  model: MODEL,
  messages: [{ role: "user" as const, content: "x" }],
  max_tokens: maxTokens,
});

describe("graceful shutdown", () => {
  it("an in-flight stream finishes within the grace period, then the server closes", async () => {
    const engine = new WordEngine({ delayMs: 15 });
    const t = await startTestServer(engine);
    const stream = await t.client.chat.completions.create({ ...ask(20), stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.value?.choices[0]?.delta.role, "assistant");
    const closed = t.running.close({ graceMs: 5_000 });
    let text = "";
    let finish: string | null = null;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      text += r.value.choices[0]?.delta.content ?? "";
      finish = r.value.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text.split(" ").length, 20);
    assert.equal(finish, "length");
    await closed;
    assert.equal(engine.active, 0);
    assert.equal(t.running.server.listening, false);
    await assert.rejects(fetch(`${t.url}/healthz`));
  });

  it("past the grace period a stream ends with a shutting-down error event, a pending answer with 503", async () => {
    const engine = new WordEngine({ delayMs: 20 });
    const t = await startTestServer(engine);
    const stream = await t.client.chat.completions.create({ ...ask(60), stream: true });
    const pending = t.client.chat.completions.create(ask(60)).then(
      () => assert.fail("expected 503"),
      (err: unknown) => err,
    );
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const closed = t.running.close({ graceMs: 150 });
    let text = "";
    let streamError: unknown;
    try {
      for (let r = await iterator.next(); !r.done; r = await iterator.next())
        text += r.value.choices[0]?.delta.content ?? "";
    } catch (err) {
      streamError = err;
    }
    assert.ok(streamError instanceof APIError);
    assert.equal(streamError.code, "server_shutting_down");
    assert.ok(text.length > 0);
    const error = await pending;
    assert.ok(error instanceof APIError);
    assert.equal(error.status, 503);
    assert.equal(error.code, "server_shutting_down");
    await closed;
    assert.ok(Date.now() - started < 2_000);
    assert.equal(engine.active, 0);
    assert.equal(engine.aborted, 2);
  });

  it("while draining, new requests get 503 and /healthz reports it", async () => {
    const engine = new WordEngine({ delayMs: 20 });
    const t = await startTestServer(engine);
    const inFlight = t.client.chat.completions.create(ask(10));
    while (engine.active === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // Drain the handler while the socket still listens (as during the server's own close).
    const drained = t.http.close({ graceMs: 5_000 });
    const health = await fetch(`${t.url}/healthz`);
    assert.equal(health.status, 503);
    assert.equal(health.headers.get("connection"), "close");
    await health.body?.cancel();
    const refused = await t.client.chat.completions.create(ask(1)).catch((err: unknown) => err);
    assert.ok(refused instanceof APIError);
    assert.equal(refused.status, 503);
    const done = await inFlight;
    assert.equal(done.choices[0]!.finish_reason, "length");
    await drained;
    await t.close();
  });
});
