/**
 * Routes added by the embedding application (e.g. GET /v1/attestation): they
 * get parameters, the query, JSON bodies, event streams, and the same error
 * mapping, limits, logging and metrics as the built-in routes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HttpError, type Route } from "../../src/http/index.js";
import { errorBody, postJson, startTestServer, type TestServer } from "./support/server.js";
import { WordEngine } from "./support/word-engine.js";

const routes: Route[] = [
  {
    method: "GET",
    path: "/v1/attestation",
    handler: (_req, _res, ctx) => {
      const nonce = new URLSearchParams(ctx.query).get("nonce");
      if (nonce === null) throw new HttpError("invalid-request", "'nonce' is required.", { param: "nonce" });
      ctx.sendJson(200, { nonceLength: nonce.length }, { "x-extra": "1" });
    },
  },
  {
    method: "GET",
    path: "/v1/things/{a}/parts/{b}",
    handler: (_req, _res, ctx) => ctx.sendJson(200, { ...ctx.params }),
  },
  {
    method: "POST",
    path: "/v1/echo-size",
    limited: true,
    handler: async (_req, _res, ctx) => {
      const body = await ctx.readJson();
      ctx.note({ model: "word-model", promptTokens: Object.keys(body).length });
      ctx.sendJson(201, { keys: Object.keys(body).length });
    },
  },
  {
    method: "GET",
    path: "/v1/ticks",
    handler: async (_req, _res, ctx) => {
      const stream = ctx.startEventStream();
      for (let i = 0; i < 3; i++) await stream.send(JSON.stringify({ i }));
      stream.done();
    },
  },
  {
    method: "GET",
    path: "/v1/broken",
    handler: async () => {
      throw new TypeError("bug with details");
    },
  },
  {
    method: "GET",
    path: "/v1/silent",
    handler: () => {},
  },
  {
    method: "GET",
    path: "/v1/hang",
    // Ignores its signal (and finishes late): the timeout still answers the client on time.
    handler: () => new Promise((resolve) => setTimeout(resolve, 600)),
  },
];

describe("extra routes", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(new WordEngine(), { extraRoutes: routes, limits: { requestTimeoutMs: 300 } });
  });
  after(() => t.close());

  it("passes the query and sends JSON with extra headers", async () => {
    const ok = await fetch(`${t.url}/v1/attestation?nonce=abcd`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("x-extra"), "1");
    assert.deepEqual(await ok.json(), { nonceLength: 4 });
    const missing = await fetch(`${t.url}/v1/attestation`);
    assert.equal(missing.status, 400);
    assert.deepEqual(await errorBody(missing), {
      message: "'nonce' is required.",
      type: "invalid_request_error",
      param: "nonce",
      code: "invalid_value",
    });
  });

  it("passes decoded path parameters", async () => {
    const response = await fetch(`${t.url}/v1/things/x%20y/parts/z`);
    assert.deepEqual(await response.json(), { a: "x y", b: "z" });
  });

  it("reads JSON bodies and logs the noted facts", async () => {
    const response = await postJson(`${t.url}/v1/echo-size`, { a: 1, b: 2 });
    assert.equal(response.status, 201);
    assert.deepEqual(await response.json(), { keys: 2 });
    const line = t.logger.requests().at(-1)!;
    assert.equal(line.route, "/v1/echo-size");
    assert.equal(line.prompt_tokens, 2);
  });

  it("streams events", async () => {
    const response = await fetch(`${t.url}/v1/ticks`);
    assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("transfer-encoding"), "chunked");
    assert.equal(await response.text(), 'data: {"i":0}\n\ndata: {"i":1}\n\ndata: {"i":2}\n\ndata: [DONE]\n\n');
  });

  it("turns a thrown bug into a generic 500, and a silent route into one too", async () => {
    for (const path of ["/v1/broken", "/v1/silent"]) {
      const response = await fetch(`${t.url}${path}`);
      assert.equal(response.status, 500);
      const error = await errorBody(response);
      assert.equal(error.message, "The server had an error while processing the request.");
      assert.equal(error.type, "server_error");
    }
    assert.ok(!t.logger.text().includes("details"));
    assert.ok(t.logger.requests().some((l) => l.route === "/v1/broken" && l.error === "TypeError"));
  });

  it("answers a route that ignores its signal with 504 at the timeout", async () => {
    const started = Date.now();
    const response = await fetch(`${t.url}/v1/hang`);
    assert.equal(response.status, 504);
    assert.equal((await errorBody(response)).code, "timeout");
    assert.ok(Date.now() - started < 2_000);
  });

  it("refuses a duplicate of a built-in route", async () => {
    await assert.rejects(
      startTestServer(new WordEngine(), { extraRoutes: [{ method: "GET", path: "/healthz", handler: () => {} }] }),
      /duplicate route/,
    );
  });
});
