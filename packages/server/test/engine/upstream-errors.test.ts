/**
 * The upstream engine against a tiny scripted server (node:http on
 * 127.0.0.1): each path prefix plays one failure — status codes, malformed or
 * truncated streams, redirects, silence — and each must map to the right
 * EngineError without quoting the upstream's body (which may echo a prompt).
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { EngineError } from "../../src/engine/types.js";
import { createUpstreamEngine } from "../../src/engine/upstream.js";
import { collect, noAbort, params, rejectsWith } from "./helpers.js";

const CANARY = "CANARY-echoed-prompt-5f1d0c";
let server: Server;
let base: string;
const seen: { scenario: string; path: string; auth: string | undefined; body: string }[] = [];

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function sse(res: ServerResponse, events: readonly string[]): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  for (const e of events) res.write(`data: ${e}\n\n`);
  res.end();
}

const chunk = (text: string, finish: string | null = null) =>
  JSON.stringify({ choices: [{ index: 0, text, finish_reason: finish }] });
const usage = JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });

const scenarios: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  "404": (_q, res) => json(res, 404, { error: { message: `model ${CANARY} not found` } }),
  "429": (_q, res) => json(res, 429, { error: { message: CANARY } }, { "retry-after": "7" }),
  "429-date": (_q, res) =>
    json(res, 429, { error: { message: CANARY } }, { "retry-after": new Date(Date.now() + 30_000).toUTCString() }),
  "500": (_q, res) => json(res, 500, { error: { message: `internal: ${CANARY}` } }),
  "401": (_q, res) => json(res, 401, { error: { message: "bad key" } }),
  "400-openai": (_q, res) =>
    json(res, 400, {
      error: { message: `too long: ${CANARY}`, type: "invalid_request_error", code: "context_length_exceeded" },
    }),
  "400-vllm-prompt": (_q, res) =>
    json(res, 400, {
      error: {
        message: `This model's maximum context length is 2048 tokens. However, you requested 3100 tokens (3000 in the messages, 100 in the completion). ${CANARY}`,
        type: "BadRequestError",
        code: 400,
      },
    }),
  "400-vllm-max": (_q, res) =>
    json(res, 400, {
      error: {
        message:
          "This model's maximum context length is 2048 tokens. However, you requested 3005 tokens (5 in the messages, 3000 in the completion).",
        type: "BadRequestError",
        code: 400,
      },
    }),
  "400-llamacpp": (_q, res) =>
    json(res, 400, {
      error: {
        code: 400,
        message: "the request exceeds the available context size, try increasing it",
        type: "exceed_context_size_error",
      },
    }),
  "400-other": (_q, res) => json(res, 400, { error: { message: `bad field ${CANARY}` } }),
  "400-not-json": (_q, res) => {
    res.writeHead(400);
    res.end(`<html>${CANARY}</html>`);
  },
  // A 307 keeps method and body: followed, it would deliver the prompt to the target, which answers fine.
  redirect: (_q, res) => {
    res.writeHead(307, { location: `${base}/redirect-target/v1/completions` });
    res.end();
  },
  "redirect-target": (_q, res) => sse(res, [chunk("Hi", "stop"), usage, "[DONE]"]),
  ok: (_q, res) => sse(res, [chunk("Hel"), chunk("lo"), chunk("", "length"), usage, "[DONE]"]),
  "ok-no-done": (_q, res) => sse(res, [chunk("Hi", "stop"), usage]),
  "no-usage": (_q, res) => sse(res, [chunk("Hi"), chunk("", "stop"), "[DONE]"]),
  "bad-json": (_q, res) => sse(res, [chunk("Hi"), `{"choices": [${CANARY}`]),
  "ends-early": (_q, res) => sse(res, [chunk("Hi")]),
  "error-event": (_q, res) => sse(res, [chunk("Hi"), JSON.stringify({ error: { message: CANARY } })]),
  "odd-finish": (_q, res) => sse(res, [chunk("Hi", "tool_calls"), usage, "[DONE]"]),
  "bad-usage": (_q, res) =>
    sse(res, [
      chunk("Hi", "stop"),
      JSON.stringify({ choices: [], usage: { prompt_tokens: -1, completion_tokens: 2 } }),
      "[DONE]",
    ]),
  silent: () => {
    // Never answers: the engine's timeout must fire.
  },
  "stall-mid-stream": (_q, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(`data: ${chunk("Hi")}\n\n`);
  },
  models: (_q, res) =>
    json(res, 200, {
      object: "list",
      data: [{ id: "m1", object: "model", created: 1700000000, owned_by: "vllm", max_model_len: 8192 }, { id: "m2" }],
    }),
  "models-bad": (_q, res) => json(res, 200, { object: "list", data: [{ name: "m1" }] }),
  "models-empty": (_q, res) => json(res, 200, { object: "list", data: [] }),
  embeddings: (_q, res) =>
    json(res, 200, {
      data: [
        { index: 1, embedding: [0.5, -0.25] },
        { index: 0, embedding: [1, 0] },
      ],
      usage: { prompt_tokens: 4, total_tokens: 4 },
    }),
  "embeddings-short": (_q, res) =>
    json(res, 200, { data: [{ index: 0, embedding: [1, 0] }], usage: { prompt_tokens: 4 } }),
  "embeddings-ragged": (_q, res) =>
    json(res, 200, {
      data: [
        { index: 0, embedding: [1, 0] },
        { index: 1, embedding: [1] },
      ],
      usage: { prompt_tokens: 4 },
    }),
  "embeddings-dup": (_q, res) =>
    json(res, 200, {
      data: [
        { index: 0, embedding: [1, 0] },
        { index: 0, embedding: [1, 0] },
      ],
      usage: { prompt_tokens: 4 },
    }),
};

before(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const [, scenario, ...rest] = (req.url ?? "").split("/");
      seen.push({
        scenario: scenario ?? "",
        path: `/${rest.join("/")}`,
        auth: req.headers.authorization,
        body: Buffer.concat(parts).toString("utf8"),
      });
      const play = scenarios[scenario ?? ""];
      if (play === undefined) json(res, 418, {});
      else play(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function engineFor(scenario: string, timeoutMs = 5000) {
  return createUpstreamEngine({ baseURL: `${base}/${scenario}/v1`, models: ["m"], apiKey: "sk-test", timeoutMs });
}

async function completion(scenario: string, timeoutMs?: number) {
  const engine = await engineFor(scenario, timeoutMs);
  return engine.complete({ model: "m", prompt: CANARY, params: params({ stop: ["\n"] }), signal: noAbort() });
}

/** The failure's message and cause chain never quote the upstream body. */
function quotesNothing(error: EngineError): void {
  let e: unknown = error;
  while (e instanceof Error) {
    assert.ok(!e.message.includes(CANARY), e.message);
    e = e.cause;
  }
}

async function failsWith(p: Promise<unknown>, code: string): Promise<EngineError> {
  const error = await rejectsWith(p, code);
  quotesNothing(error);
  return error;
}

describe("upstream engine: request and stream format", () => {
  test("streams with include_usage, the request's parameters and the API key; reads text, usage, finish", async () => {
    const { text, chunks, result } = await collect(await completion("ok"));
    assert.deepEqual(chunks, ["Hel", "lo"]);
    assert.equal(text, "Hello");
    assert.deepEqual(result, { finishReason: "length", promptTokens: 3, completionTokens: 2 });
    const request = seen.at(-1)!;
    assert.equal(request.path, "v1/completions".replace(/^/, "/"));
    assert.equal(request.auth, "Bearer sk-test");
    assert.deepEqual(JSON.parse(request.body), {
      model: "m",
      prompt: CANARY,
      temperature: 0,
      top_p: 1,
      max_tokens: 40,
      stop: ["\n"],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  test("a stream that ends after usage without [DONE] is complete", async () => {
    assert.deepEqual((await collect(await completion("ok-no-done"))).result.finishReason, "stop");
  });
});

describe("upstream engine: failures before streaming", () => {
  test("404 → model-not-found", async () => {
    await failsWith(completion("404"), "model-not-found");
  });

  test("429 → busy with the upstream's Retry-After (seconds or HTTP-date)", async () => {
    const e = await failsWith(completion("429"), "busy");
    assert.equal(e.retryAfterSeconds, 7);
    const d = await failsWith(completion("429-date"), "busy");
    assert.ok(d.retryAfterSeconds! >= 28 && d.retryAfterSeconds! <= 30, String(d.retryAfterSeconds));
  });

  test("400 context overflows are recognised (OpenAI, vLLM, llama.cpp); other 400s are upstream errors", async () => {
    await failsWith(completion("400-openai"), "context-length-exceeded");
    await failsWith(completion("400-vllm-prompt"), "context-length-exceeded");
    await failsWith(completion("400-vllm-max"), "max-tokens-exceeded");
    await failsWith(completion("400-llamacpp"), "context-length-exceeded");
    await failsWith(completion("400-other"), "upstream-error");
    await failsWith(completion("400-not-json"), "upstream-error");
  });

  test("500, 401, a redirect, an unreachable host, silence → upstream-error", async () => {
    const e500 = await failsWith(completion("500"), "upstream-error");
    assert.match(e500.message, /500/);
    await failsWith(completion("401"), "upstream-error");
    await failsWith(completion("redirect"), "upstream-error");
    assert.equal(seen.filter((r) => r.scenario === "redirect-target").length, 0);
    const closed = await createUpstreamEngine({ baseURL: "http://127.0.0.1:9/v1", models: ["m"] });
    await failsWith(
      closed.complete({ model: "m", prompt: "x", params: params(), signal: noAbort() }),
      "upstream-error",
    );
    const silent = await failsWith(completion("silent", 300), "upstream-error");
    assert.match(silent.message, /timed out/);
  });

  test("an abort while waiting for the upstream → aborted", async () => {
    const engine = await engineFor("silent");
    const ac = new AbortController();
    const pending = engine.complete({ model: "m", prompt: "x", params: params(), signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await failsWith(pending, "aborted");
  });
});

describe("upstream engine: failures mid-stream", () => {
  for (const scenario of ["no-usage", "bad-json", "ends-early", "error-event", "odd-finish", "bad-usage"]) {
    test(`${scenario} → the iteration throws upstream-error`, async () => {
      const generation = await completion(scenario);
      const error = await failsWith(collect(generation), "upstream-error");
      await assert.rejects(generation.result, (e: unknown) => e === error);
    });
  }

  test("a stream that stalls → upstream-error after the inactivity timeout", async () => {
    const generation = await completion("stall-mid-stream", 300);
    const error = await failsWith(collect(generation), "upstream-error");
    assert.match(error.message, /timed out/);
  });
});

describe("upstream engine: models and embeddings", () => {
  test("GET /models: ids, owner, created, max_model_len", async () => {
    const engine = await createUpstreamEngine({ baseURL: `${base}/models` });
    assert.deepEqual(
      engine.models().map((m) => [m.id, m.ownedBy, m.created, m.contextSize]),
      [
        ["m1", "vllm", 1700000000, 8192],
        ["m2", "upstream", engine.models()[1]!.created, undefined],
      ],
    );
    await failsWith(createUpstreamEngine({ baseURL: `${base}/models-bad` }), "upstream-error");
    await failsWith(createUpstreamEngine({ baseURL: `${base}/models-empty` }), "upstream-error");
    await failsWith(createUpstreamEngine({ baseURL: `${base}/500` }), "upstream-error");
  });

  test("embeddings: reordered by index into Float32Arrays; malformed responses rejected", async () => {
    const embed = async (scenario: string) =>
      (await engineFor(scenario)).embed({ model: "m", input: ["a", "b"], signal: noAbort() });
    const { vectors, promptTokens } = await embed("embeddings");
    assert.deepEqual(vectors, [Float32Array.of(1, 0), Float32Array.of(0.5, -0.25)]);
    assert.equal(promptTokens, 4);
    assert.deepEqual(JSON.parse(seen.at(-1)!.body), { model: "m", input: ["a", "b"], encoding_format: "float" });
    await failsWith(embed("embeddings-short"), "upstream-error");
    await failsWith(embed("embeddings-ragged"), "upstream-error");
    await failsWith(embed("embeddings-dup"), "upstream-error");
    await failsWith(embed("429"), "busy");
  });
});

describe("upstream engine: configuration", () => {
  test("only http(s) base URLs without credentials, query or fragment", async () => {
    for (const bad of [
      "ftp://127.0.0.1/v1",
      "file:///tmp/x",
      "unix:/run/x.sock",
      "http://user:pw@127.0.0.1/v1",
      "http://127.0.0.1/v1?x=1",
      "not a url",
    ]) {
      await assert.rejects(createUpstreamEngine({ baseURL: bad, models: ["m"] }), RangeError, bad);
    }
    await assert.rejects(createUpstreamEngine({ baseURL: "http://127.0.0.1/v1", models: [] }), RangeError);
    const ok = await createUpstreamEngine({ baseURL: "https://127.0.0.1:8443/v1//", models: ["m"], contextSize: 4096 });
    assert.equal(ok.baseURL, "https://127.0.0.1:8443/v1");
    assert.deepEqual(
      ok.models().map((m) => m.contextSize),
      [4096],
    );
  });
});
