/**
 * Every endpoint through the official `openai` client against the handler
 * over a deterministic word engine: shapes, streaming rules, usage and
 * finish reasons.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "./support/server.js";
import { WordEngine } from "./support/word-engine.js";

const MODEL = "word-model";

describe("OpenAI endpoints via the openai client (word engine)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(new WordEngine());
  });
  after(() => t.close());

  it("lists and retrieves models", async () => {
    const page = await t.client.models.list();
    assert.deepEqual(
      page.data.map((m) => ({ ...m })),
      [{ id: MODEL, object: "model", created: 1_700_000_000, owned_by: "veritee-test", max_model_len: 64 }],
    );
    const model = await t.client.models.retrieve(MODEL);
    assert.equal(model.id, MODEL);
    assert.equal(model.object, "model");
  });

  it("answers a chat completion", async () => {
    const before = Math.floor(Date.now() / 1000);
    const completion = await t.client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: "developer", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "hello there" }] },
      ],
      max_tokens: 3,
      temperature: 0,
    });
    assert.match(completion.id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.equal(completion.object, "chat.completion");
    assert.ok(completion.created >= before && completion.created <= before + 5);
    assert.equal(completion.model, MODEL);
    assert.equal(completion.choices.length, 1);
    const choice = completion.choices[0]!;
    assert.equal(choice.index, 0);
    assert.equal(choice.finish_reason, "length");
    assert.equal(choice.message.role, "assistant");
    assert.equal(choice.message.content, "alpha beta gamma");
    // "system: be brief\nuser: hello there" = 6 words + BOS
    assert.deepEqual(completion.usage, { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
  });

  it("stops on a stop string and reports finish_reason stop", async () => {
    const completion = await t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_completion_tokens: 10,
      stop: [" delta", "zzz"],
    });
    assert.equal(completion.choices[0]!.message.content, "alpha beta gamma");
    assert.equal(completion.choices[0]!.finish_reason, "stop");
    assert.equal(completion.usage!.completion_tokens, 4);
  });

  it("streams a chat completion: role first, content deltas, finish, usage, [DONE]", async () => {
    const stream = await t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hello" }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const first = chunks[0]!;
    assert.equal(first.object, "chat.completion.chunk");
    assert.match(first.id, /^chatcmpl-/);
    assert.equal(first.choices[0]!.delta.role, "assistant");
    assert.ok(chunks.every((c) => c.id === first.id && c.created === first.created && c.model === MODEL));
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
    const finish = chunks.at(-2)!;
    assert.equal(finish.choices[0]!.finish_reason, "length");
    assert.deepEqual(finish.choices[0]!.delta, {});
    const middle = chunks.slice(0, -2);
    assert.ok(middle.every((c) => c.choices[0]!.finish_reason === null && c.usage === null));
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    assert.equal(text, "alpha beta gamma delta epsilon");
  });

  it("streams without usage when include_usage is not asked for", async () => {
    const stream = await t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hello" }],
      max_tokens: 2,
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.usage === undefined && c.choices.length === 1));
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, "length");
  });

  it("streaming and non-streaming agree, also when a stop string spans chunks", async () => {
    const request = {
      model: MODEL,
      messages: [{ role: "user" as const, content: "x" }],
      max_tokens: 12,
      stop: "ta io",
    };
    const whole = await t.client.chat.completions.create(request);
    const stream = await t.client.chat.completions.create({ ...request, stream: true });
    let text = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, whole.choices[0]!.message.content);
    assert.equal(text, "alpha beta gamma delta epsilon zeta eta the");
    assert.equal(finish, "stop");
  });

  it("answers a legacy completion (max_tokens defaults to 16)", async () => {
    const completion = await t.client.completions.create({ model: MODEL, prompt: "Once upon a time" });
    assert.match(completion.id, /^cmpl-/);
    assert.equal(completion.object, "text_completion");
    assert.equal(completion.choices[0]!.finish_reason, "length");
    assert.equal(completion.choices[0]!.index, 0);
    assert.equal(completion.choices[0]!.logprobs, null);
    assert.equal(completion.usage!.completion_tokens, 16);
    assert.equal(completion.usage!.prompt_tokens, 5);
    const one = await t.client.completions.create({ model: MODEL, prompt: ["Once"], max_tokens: 2 });
    assert.equal(one.choices[0]!.text, "alpha beta");
  });

  it("streams a legacy completion", async () => {
    const stream = await t.client.completions.create({
      model: MODEL,
      prompt: "Once",
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.object === "text_completion"));
    assert.deepEqual(chunks.at(-1)!.choices, []);
    assert.equal(chunks.at(-1)!.usage!.completion_tokens, 4);
    assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, "length");
    assert.equal(chunks.map((c) => c.choices[0]?.text ?? "").join(""), "alpha beta gamma delta");
  });

  it("embeds with the client's default (base64) and with floats, identically", async () => {
    const input = ["the quick brown fox", "jumps"];
    const viaBase64 = await t.client.embeddings.create({ model: MODEL, input });
    const viaFloat = await t.client.embeddings.create({ model: MODEL, input, encoding_format: "float" });
    assert.equal(viaBase64.object, "list");
    assert.equal(viaBase64.model, MODEL);
    assert.deepEqual(viaBase64.usage, { prompt_tokens: 5, total_tokens: 5 });
    assert.equal(viaBase64.data.length, 2);
    for (const [i, item] of viaBase64.data.entries()) {
      assert.equal(item.object, "embedding");
      assert.equal(item.index, i);
      assert.equal(item.embedding.length, 8);
      assert.deepEqual(item.embedding, viaFloat.data[i]!.embedding);
    }
    assert.ok(viaFloat.data[0]!.embedding.some((x) => x !== 0));
    const single = await t.client.embeddings.create({ model: MODEL, input: "jumps", encoding_format: "base64" });
    const raw = single.data[0]!.embedding as unknown as string;
    assert.equal(typeof raw, "string");
    const bytes = Buffer.from(raw, "base64");
    assert.equal(bytes.length, 32);
    assert.equal(bytes.readFloatLE(0), viaFloat.data[1]!.embedding[0]);
  });

  it("answers /healthz", async () => {
    const response = await fetch(`${t.url}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok" });
    assert.equal(response.headers.get("cache-control"), "no-store");
  });
});
