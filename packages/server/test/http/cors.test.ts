/**
 * CORS for configured origins only (no wildcard, no credentials), and
 * /metrics moved off the public handler onto an admin listener.
 */
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { parseCorsOrigin, withCors } from "../../src/http/cors.js";
import { createHttpHandler, metricsListener } from "../../src/http/handler.js";
import { type RunningHttpServer, startHttpServer } from "../../src/http/server.js";
import { WordEngine } from "./support/word-engine.js";

const APP = "https://app.example";

describe("CORS", () => {
  let running: RunningHttpServer;
  before(async () => {
    const inner = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json", "retry-after": "1" });
      res.end("{}");
    };
    running = await startHttpServer(withCors(inner, [APP, "http://127.0.0.1:3000"]), { port: 0 });
  });
  after(() => running.close());

  const request = (init: RequestInit & { headers?: Record<string, string> }) => fetch(`${running.url}/v1/models`, init);

  test("a configured origin may read responses; the inner handler's headers stay", async () => {
    const r = await request({ headers: { origin: APP } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("access-control-allow-origin"), APP);
    assert.equal(r.headers.get("access-control-expose-headers"), "*");
    assert.equal(r.headers.get("access-control-allow-credentials"), null);
    assert.equal(r.headers.get("vary"), "origin");
    assert.equal(r.headers.get("content-type"), "application/json");
  });

  test("any other origin, or none, gets no CORS headers (the browser refuses to show it the response)", async () => {
    for (const origin of ["https://evil.example", "https://app.example.evil.example", "null", "HTTPS://APP.EXAMPLE"]) {
      const r = await request({ headers: { origin } });
      assert.equal(r.headers.get("access-control-allow-origin"), null, origin);
      assert.equal(r.headers.get("vary"), "origin");
    }
    assert.equal((await request({})).headers.get("access-control-allow-origin"), null);
  });

  test("preflight: allowed for a configured origin, GET/POST and token header names; refused otherwise", async () => {
    const preflight = (origin: string, method: string, headers?: string) =>
      request({
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": method,
          ...(headers ? { "access-control-request-headers": headers } : {}),
        },
      });
    const ok = await preflight(APP, "POST", "content-type, authorization, x-stainless-os");
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get("access-control-allow-origin"), APP);
    assert.equal(ok.headers.get("access-control-allow-methods"), "GET, POST");
    assert.equal(ok.headers.get("access-control-allow-headers"), "content-type, authorization, x-stainless-os");
    for (const [origin, method, headers] of [
      ["https://evil.example", "POST", "content-type"],
      [APP, "PUT", undefined],
      [APP, "DELETE", undefined],
      [APP, "POST", "bad header"],
    ] as const) {
      const r = await preflight(origin, method, headers);
      assert.equal(r.status, 403, `${origin} ${method} ${headers}`);
      assert.equal(r.headers.get("access-control-allow-origin"), null);
    }
  });

  test("origins are checked when configured: scheme://host[:port] only, no wildcard", () => {
    assert.equal(parseCorsOrigin("https://app.example"), "https://app.example");
    assert.equal(parseCorsOrigin("http://127.0.0.1:3000/"), "http://127.0.0.1:3000");
    for (const bad of [
      "*",
      "app.example",
      "ftp://app.example",
      "https://app.example/path",
      "https://u:p@app.example",
      "https://app.example?x",
      "https://app.example:443",
    ]) {
      assert.throws(() => parseCorsOrigin(bad), RangeError, bad);
    }
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl()), (value) => {
        try {
          const origin = parseCorsOrigin(value);
          assert.equal(new URL(origin).origin, origin);
        } catch (error) {
          assert.ok(error instanceof RangeError);
        }
      }),
    );
  });
});

describe("metrics on an admin listener", () => {
  test("metricsRoute: false takes /metrics off the handler; metricsListener serves the same counters", async () => {
    const http = createHttpHandler({ engine: new WordEngine(), metricsRoute: false, logger: { log: () => {} } });
    const api = await startHttpServer(http, { port: 0 });
    const admin = await startHttpServer(metricsListener(http.metrics), { port: 0 });
    try {
      assert.equal((await fetch(`${api.url}/v1/models`)).status, 200);
      assert.equal((await fetch(`${api.url}/metrics`)).status, 404);
      const metrics = await fetch(`${admin.url}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain/);
      assert.match(await metrics.text(), /veritee_http_requests_total\{route="\/v1\/models",status="200"\} 1/);
      assert.equal((await fetch(`${admin.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${admin.url}/v1/models`)).status, 404);
      assert.equal((await fetch(`${admin.url}/metrics`, { method: "POST", body: "x" })).status, 404);
    } finally {
      await api.close();
      await admin.close();
    }
  });
});
