/**
 * Bad input and failure paths: each gives OpenAI's error shape with the right
 * status, names the field without echoing values, and leaves the server
 * healthy.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { apiError, errorBody, postJson, postRaw, startTestServer, type TestServer, until } from "./support/server.js";
import { WordEngine } from "./support/word-engine.js";

const MODEL = "word-model";

describe("request validation errors", () => {
  let t: TestServer;
  let chatUrl: string;
  before(async () => {
    t = await startTestServer(new WordEngine());
    chatUrl = `${t.url}/v1/chat/completions`;
  });
  after(() => t.close());

  it("malformed JSON → 400 invalid_json", async () => {
    for (const body of ['{"model": "word-model", ', "", "nul", "[1,2]", '"just a string"', "42"]) {
      const response = await postRaw(chatUrl, body);
      assert.equal(response.status, 400);
      const error = await errorBody(response);
      assert.equal(error.type, "invalid_request_error");
      assert.equal(error.code, "invalid_json");
      assert.equal(error.param, null);
    }
  });

  it("a body not declared as JSON → 415", async () => {
    const response = await postRaw(chatUrl, JSON.stringify({ model: MODEL }), { "content-type": "text/plain" });
    assert.equal(response.status, 415);
    assert.equal((await errorBody(response)).code, "unsupported_media_type");
  });

  it("wrong types name the field", async () => {
    const base = { model: MODEL, messages: [{ role: "user", content: "hi" }] };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, model: 7 }, "model"],
      [{ messages: base.messages }, "model"],
      [{ ...base, messages: "hi" }, "messages"],
      [{ ...base, messages: [{ role: "user" }] }, "messages[0].content"],
      [{ ...base, messages: [{ role: "wizard", content: "x" }] }, "messages[0].role"],
      [{ ...base, messages: [{ role: "user", content: 5 }] }, "messages[0].content"],
      [{ ...base, messages: [{ role: "user", content: [{ type: "text" }] }] }, "messages[0].content[0].text"],
      [{ ...base, temperature: "hot" }, "temperature"],
      [{ ...base, temperature: 2.5 }, "temperature"],
      [{ ...base, top_p: 0 }, "top_p"],
      [{ ...base, max_tokens: 0 }, "max_tokens"],
      [{ ...base, max_tokens: 1.5 }, "max_tokens"],
      [{ ...base, max_completion_tokens: -3 }, "max_completion_tokens"],
      [{ ...base, seed: 0.5 }, "seed"],
      [{ ...base, stop: ["a", "b", "c", "d", "e"] }, "stop"],
      [{ ...base, stop: [1] }, "stop[0]"],
      [{ ...base, stream: "yes" }, "stream"],
      [{ ...base, stream_options: { include_usage: true } }, "stream_options"],
      [{ ...base, stream: true, stream_options: { include_usage: 1 } }, "stream_options.include_usage"],
    ];
    for (const [body, param] of cases) {
      const error = await apiError(t.client.chat.completions.create(body as never));
      assert.equal(error.status, 400, param);
      assert.equal(error.param, param);
      assert.equal(error.type, "invalid_request_error");
      assert.equal(error.code, "invalid_value");
      assert.ok(error.message.includes(`'${param}'`), param);
    }
  });

  it("unsupported features → 400 unsupported_parameter", async () => {
    const base = { model: MODEL, messages: [{ role: "user", content: "hi" }] };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, n: 2 }, "n"],
      [{ ...base, tools: [{ type: "function", function: { name: "f" } }] }, "tools"],
      [{ ...base, logprobs: true }, "logprobs"],
      [{ ...base, response_format: { type: "json_object" } }, "response_format"],
      [{ ...base, presence_penalty: 0.5 }, "presence_penalty"],
      [{ ...base, messages: [{ role: "tool", content: "x", tool_call_id: "1" }] }, "messages[0].role"],
      [
        { ...base, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
        "messages[0].content[0].type",
      ],
    ];
    for (const [body, param] of cases) {
      const error = await apiError(t.client.chat.completions.create(body as never));
      assert.equal(error.status, 400, param);
      assert.equal(error.param, param);
      assert.equal(error.code, "unsupported_parameter");
    }
    const tokens = await apiError(t.client.completions.create({ model: MODEL, prompt: [1, 2, 3] }));
    assert.equal(tokens.status, 400);
    assert.equal(tokens.code, "unsupported_parameter");
    const embedTokens = await apiError(t.client.embeddings.create({ model: MODEL, input: [[1, 2]] }));
    assert.equal(embedTokens.status, 400);
    assert.equal(embedTokens.param, "input");
  });

  it("unknown fields are ignored", async () => {
    const completion = await t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi", name: "bob" }],
      max_tokens: 1,
      user: "someone",
      metadata: { a: "b" },
      frequency_penalty: 0,
      whatever: { nested: true },
    } as never);
    assert.equal(completion.choices[0]!.message.content, "alpha");
  });

  it("unknown model → 404 model_not_found on every endpoint", async () => {
    const errors = [
      await apiError(t.client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] })),
      await apiError(t.client.completions.create({ model: "nope", prompt: "x" })),
      await apiError(t.client.embeddings.create({ model: "nope", input: "x" })),
      await apiError(t.client.models.retrieve("nope")),
    ];
    for (const error of errors) {
      assert.equal(error.status, 404);
      assert.equal(error.code, "model_not_found");
      assert.equal(error.param, "model");
      assert.ok(!error.message.includes("nope"));
    }
  });

  it("empty messages, empty embedding input → 400", async () => {
    const empty = await apiError(t.client.chat.completions.create({ model: MODEL, messages: [] }));
    assert.equal(empty.status, 400);
    assert.equal(empty.param, "messages");
    const emptyInput = await apiError(t.client.embeddings.create({ model: MODEL, input: [] }));
    assert.equal(emptyInput.status, 400);
    assert.equal(emptyInput.param, "input");
  });

  it("max_tokens beyond the context → 400 context_length_exceeded", async () => {
    const messages = [{ role: "user" as const, content: "hi" }];
    const beyond = await apiError(t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 65 }));
    assert.equal(beyond.status, 400);
    assert.equal(beyond.code, "context_length_exceeded");
    assert.equal(beyond.param, "max_tokens");
    // Fits the context alone, not with the prompt: the engine refuses.
    const withPrompt = await apiError(
      t.client.chat.completions.create({ model: MODEL, messages, max_completion_tokens: 63 }),
    );
    assert.equal(withPrompt.status, 400);
    assert.equal(withPrompt.code, "context_length_exceeded");
    assert.equal(withPrompt.param, "max_completion_tokens");
  });

  it("a prompt longer than the context → 400 context_length_exceeded", async () => {
    const long = "word ".repeat(100);
    const chat = await apiError(
      t.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: long }] }),
    );
    assert.equal(chat.status, 400);
    assert.equal(chat.code, "context_length_exceeded");
    assert.equal(chat.param, "messages");
    const text = await apiError(t.client.completions.create({ model: MODEL, prompt: long, max_tokens: 1 }));
    assert.equal(text.code, "context_length_exceeded");
    assert.equal(text.param, "prompt");
  });

  it("an oversize body → 413, and the server keeps serving", async () => {
    const huge = "x".repeat(2 << 20);
    const error = await apiError(
      t.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: huge }] }),
    );
    assert.equal(error.status, 413);
    assert.equal(error.code, "request_too_large");
    // Without Content-Length (chunked upload), the limit applies while reading.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write('{"model":"word-model","messages":[{"role":"user","content":"');
      req.write("y".repeat((1 << 20) + 10));
      req.end('"}]}');
    });
    assert.equal(chunked, 413);
    const ok = await t.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 1,
    });
    assert.equal(ok.choices[0]!.message.content, "alpha");
  });

  it("unknown URL → 404, wrong method → 405 with Allow", async () => {
    const missing = await fetch(`${t.url}/v1/nothing-here`);
    assert.equal(missing.status, 404);
    assert.equal((await errorBody(missing)).code, "unknown_url");
    const wrong = await fetch(`${t.url}/v1/chat/completions`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "POST");
    assert.equal((await errorBody(wrong)).code, "method_not_allowed");
    const models = await postJson(`${t.url}/v1/models`, {});
    assert.equal(models.status, 405);
    await models.body?.cancel();
  });
});

describe("engine failures, limits and aborts", () => {
  it("more concurrent requests than allowed → 429 with Retry-After", async () => {
    const engine = new WordEngine({ delayMs: 20 });
    const t = await startTestServer(engine, { limits: { maxConcurrentRequests: 1 } });
    try {
      const stream = await t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 10,
        stream: true,
      });
      const error = await apiError(
        t.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] }),
      );
      assert.equal(error.status, 429);
      assert.equal(error.code, "rate_limit_exceeded");
      assert.equal(error.type, "rate_limit_error");
      assert.equal(error.headers?.get("retry-after"), "1");
      // Non-inference routes are not limited.
      assert.equal((await t.client.models.list()).data.length, 1);
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      assert.equal(text.split(" ").length, 10);
      const after = await t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 1,
      });
      assert.equal(after.choices[0]!.message.content, "alpha");
    } finally {
      await t.close();
    }
  });

  it("engine busy → 429 with the engine's Retry-After", async () => {
    const t = await startTestServer(new WordEngine({ failWith: "busy" }));
    try {
      const error = await apiError(
        t.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] }),
      );
      assert.equal(error.status, 429);
      assert.equal(error.code, "engine_overloaded");
      assert.equal(error.headers?.get("retry-after"), "3");
    } finally {
      await t.close();
    }
  });

  it("upstream failure → 502, before and during a stream", async () => {
    const before = await startTestServer(new WordEngine({ failWith: "upstream-error" }));
    try {
      const error = await apiError(before.client.completions.create({ model: MODEL, prompt: "x" }));
      assert.equal(error.status, 502);
      assert.equal(error.code, "upstream_error");
      const embed = await apiError(before.client.embeddings.create({ model: MODEL, input: "x" }));
      assert.equal(embed.status, 502);
    } finally {
      await before.close();
    }
    const during = await startTestServer(new WordEngine({ failWith: "upstream-error", failAfter: 2 }));
    try {
      const stream = await during.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "x" }],
        stream: true,
        max_tokens: 5,
      });
      let text = "";
      const error = await apiError(
        (async () => {
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
        })(),
      );
      assert.equal(text, "alpha beta");
      assert.equal(error.code, "upstream_error");
      assert.equal(error.type, "server_error");
      const whole = await apiError(
        during.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }] }),
      );
      assert.equal(whole.status, 502);
      const lines = during.logger.requests();
      assert.equal(lines.at(-1)!.status, 502);
      assert.equal(lines.at(-1)!.code, "upstream-error");
    } finally {
      await during.close();
    }
  });

  it("an engine crash → 500 with a generic message; the log has the class only", async () => {
    const t = await startTestServer(new WordEngine({ crashWith: "secret detail 5f1e" }));
    try {
      const error = await apiError(
        t.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }] }),
      );
      assert.equal(error.status, 500);
      assert.equal(error.code, "internal_error");
      assert.equal(error.message, "500 The server had an error while processing the request.");
      const line = t.logger.requests().at(-1)!;
      assert.equal(line.status, 500);
      assert.equal(line.error, "Error");
      assert.ok(!t.logger.text().includes("5f1e"));
    } finally {
      await t.close();
    }
  });

  it("a request timeout → 504, or a stream ending with a timeout event; the generation is aborted", async () => {
    const engine = new WordEngine({ delayMs: 30 });
    const t = await startTestServer(engine, { limits: { requestTimeoutMs: 200 } });
    try {
      const error = await apiError(
        t.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }], max_tokens: 40 }),
      );
      assert.equal(error.status, 504);
      assert.equal(error.code, "timeout");
      const stream = await t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "x" }],
        max_tokens: 40,
        stream: true,
      });
      let text = "";
      const streamError = await apiError(
        (async () => {
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
        })(),
      );
      assert.equal(streamError.code, "timeout");
      assert.ok(text.length > 0);
      await until(() => engine.active === 0);
      assert.equal(engine.aborted, 2);
    } finally {
      await t.close();
    }
  });

  it("a stalled upload times out with 504, the connection is closed and the request slot freed", async () => {
    const t = await startTestServer(new WordEngine(), { limits: { requestTimeoutMs: 200, maxConcurrentRequests: 1 } });
    try {
      const answer = await new Promise<{ status: number; connection: string | undefined; ended: Promise<void> }>(
        (resolve, reject) => {
          const req = request(`${t.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json", "content-length": "1000" },
          });
          req.on("response", (res) => {
            const ended = new Promise<void>((done) => res.socket.once("close", () => done()));
            res.resume();
            resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, ended });
          });
          req.on("error", reject);
          req.write('{"model":"word-model","messages":[');
        },
      );
      assert.equal(answer.status, 504);
      assert.equal(answer.connection, "close");
      await answer.ended;
      // The only inference slot is free again.
      const next = await t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "x" }],
        max_tokens: 1,
      });
      assert.equal(next.choices[0]!.message.content, "alpha");
    } finally {
      await t.close();
    }
  });

  it("a client that disconnects mid-stream aborts the generation; the server stays healthy", async () => {
    const engine = new WordEngine({ delayMs: 15, slots: 1 });
    const t = await startTestServer(engine);
    try {
      const stream = await t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "x" }],
        max_tokens: 60,
        stream: true,
      });
      let chunks = 0;
      for await (const _ of stream) {
        if (++chunks === 3) break; // the openai client aborts the request on break
      }
      await until(() => engine.active === 0);
      assert.equal(engine.aborted, 1);
      await until(() => t.logger.requests().length === 1);
      assert.equal(t.logger.requests()[0]!.status, 499);
      // The only sequence is free again.
      const next = await t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "x" }],
        max_tokens: 2,
      });
      assert.equal(next.choices[0]!.message.content, "alpha beta");
      assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
    } finally {
      await t.close();
    }
  });

  it("a client that disconnects while a non-streamed generation runs aborts it", async () => {
    const engine = new WordEngine({ delayMs: 15 });
    const t = await startTestServer(engine);
    try {
      const controller = new AbortController();
      const pending = t.client.chat.completions.create(
        { model: MODEL, messages: [{ role: "user", content: "x" }], max_tokens: 60 },
        { signal: controller.signal },
      );
      await until(() => engine.active === 1);
      controller.abort();
      await assert.rejects(pending);
      await until(() => engine.active === 0);
      assert.equal(engine.aborted, 1);
    } finally {
      await t.close();
    }
  });
});
