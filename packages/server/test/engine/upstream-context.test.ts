/**
 * The upstream's context size, asked the way each engine answers it: fake
 * loopback upstreams that answer like llama.cpp server (`/props`), Ollama
 * (`/api/show`), vLLM (`max_model_len`) and one that answers none. An
 * unknown size never becomes 0: a request with max_tokens then goes to the
 * upstream, which decides (before the fix: "exceeds the model's context
 * window of 0 tokens" for every such request).
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { createUpstreamEngine } from "../../src/engine/upstream.js";
import {
  contextFromLlamaCppProps,
  contextFromModelEntry,
  contextFromOllamaShow,
} from "../../src/engine/upstream-context.js";
import { startTestServer } from "../http/support/server.js";

let server: Server;
let base: string;
const requests: { path: string; body: string }[] = [];

/** Answer with a JSON body; true: handled. */
function json(res: ServerResponse, body: unknown): true {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
  return true;
}

const models = (entry: Record<string, unknown> = {}) => ({
  object: "list",
  data: [{ id: "m", object: "model", created: 1, owned_by: "x", ...entry }],
});

/** Each flavour answers its own endpoints and 404s the others, as the real servers do. */
const flavours: Record<string, (path: string, body: string, res: ServerResponse) => boolean> = {
  vllm: (path, _b, res) => path === "/v1/models" && json(res, models({ max_model_len: 32768 })),
  llamacpp: (path, _b, res) => {
    if (path === "/v1/models") return json(res, models({ meta: { n_ctx_train: 131072 } }));
    if (path === "/props") return json(res, { default_generation_settings: { n_ctx: 4096 }, total_slots: 1 });
    return false;
  },
  ollama: (path, body, res) => {
    if (path === "/v1/models") return json(res, models());
    if (path === "/api/show" && JSON.parse(body).model === "m") {
      return json(res, {
        parameters: 'stop "<|eot_id|>"',
        model_info: { "general.architecture": "llama", "llama.context_length": 8192 },
      });
    }
    return false;
  },
  "ollama-num-ctx": (path, _b, res) => {
    if (path === "/v1/models") return json(res, models());
    if (path === "/api/show") {
      return json(res, {
        parameters: 'num_ctx                        2048\nstop                           "x"',
        model_info: { "general.architecture": "qwen2", "qwen2.context_length": 32768 },
      });
    }
    return false;
  },
  none: (path, body, res) => {
    if (path === "/v1/models") return json(res, models());
    if (path === "/v1/completions") {
      // Accepts any max_tokens: the decision is the upstream's.
      assert.equal(JSON.parse(body).max_tokens, 100_000);
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, text: "Hi", finish_reason: "stop" }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } })}\n\n`);
      res.end("data: [DONE]\n\n");
      return true;
    }
    return false;
  },
};

before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const [, flavour, ...rest] = (req.url ?? "").split("/");
      const path = `/${rest.join("/")}`;
      const body = Buffer.concat(parts).toString();
      requests.push({ path: `/${flavour}${path}`, body });
      if (!flavours[flavour!]?.(path, body, res)) {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const contextOf = async (flavour: string, extra: { contextSize?: number; models?: string[] } = {}) =>
  (await createUpstreamEngine({ baseURL: `${base}/${flavour}/v1`, ...extra })).models()[0]!.contextSize;

describe("upstream context size", () => {
  test("vLLM: max_model_len from /v1/models", async () => {
    assert.equal(await contextOf("vllm"), 32768);
  });

  test("llama.cpp server: default_generation_settings.n_ctx from /props (not the training context)", async () => {
    assert.equal(await contextOf("llamacpp"), 4096);
  });

  test("Ollama: model_info[<arch>.context_length] from /api/show, or the model's num_ctx when it sets one", async () => {
    assert.equal(await contextOf("ollama"), 8192);
    assert.equal(await contextOf("ollama-num-ctx"), 2048);
    const show = requests.find((r) => r.path === "/ollama/api/show");
    assert.deepEqual(JSON.parse(show!.body), { model: "m" });
  });

  test("an upstream that says nothing: unknown (undefined), never 0", async () => {
    assert.equal(await contextOf("none"), undefined);
    assert.equal(await contextOf("none", { models: ["m"] }), undefined);
  });

  test("--upstream-model: the context still comes from the upstream", async () => {
    assert.equal(await contextOf("vllm", { models: ["m"] }), 32768);
    assert.equal(await contextOf("llamacpp", { models: ["m"] }), 4096);
  });

  test("contextSize (--context-size) wins over what the upstream says, and is not probed", async () => {
    const before = requests.length;
    assert.equal(await contextOf("llamacpp", { models: ["m"], contextSize: 1000 }), 1000);
    assert.equal(requests.length, before, "no request to the upstream when everything is given");
    assert.equal(await contextOf("vllm", { contextSize: 512 }), 512);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(contextOf("vllm", { contextSize: bad }), RangeError);
    }
  });

  test("unknown context: a request with max_tokens reaches the upstream instead of a 400 for 'context window of 0'", async () => {
    const engine = await createUpstreamEngine({ baseURL: `${base}/none/v1` });
    const test = await startTestServer(engine);
    try {
      const completion = await test.client.completions.create({ model: "m", prompt: "x", max_tokens: 100_000 });
      assert.equal(completion.choices[0]!.text, "Hi");
      // The served model list says nothing about a size it does not know.
      const listed = (await (await fetch(`${test.url}/v1/models`)).json()) as { data: Record<string, unknown>[] };
      assert.equal("max_model_len" in listed.data[0]!, false);
    } finally {
      await test.close();
    }
  });

  test("known context: max_tokens above it is refused here, and /v1/models publishes it as max_model_len", async () => {
    const engine = await createUpstreamEngine({ baseURL: `${base}/llamacpp/v1` });
    const test = await startTestServer(engine);
    try {
      const r = await fetch(`${test.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", prompt: "x", max_tokens: 5000 }),
      });
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { error: { message: string } }).error.message, /4096 tokens/);
      const listed = (await (await fetch(`${test.url}/v1/models`)).json()) as { data: Record<string, unknown>[] };
      assert.equal(listed.data[0]!.max_model_len, 4096);
    } finally {
      await test.close();
    }
  });

  test("the answer readers take any JSON and give a positive integer or undefined", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const read of [contextFromModelEntry, contextFromLlamaCppProps, contextFromOllamaShow]) {
          const n = read(value);
          assert.ok(n === undefined || (Number.isSafeInteger(n) && n > 0));
        }
      }),
      { numRuns: 500 },
    );
    assert.equal(contextFromLlamaCppProps({ default_generation_settings: { n_ctx: 0 } }), undefined);
    assert.equal(contextFromModelEntry({ max_model_len: "4096" }), undefined);
    assert.equal(
      contextFromOllamaShow({ model_info: { "general.architecture": "x", "x.context_length": -5 } }),
      undefined,
    );
  });
});
