/**
 * API keys and the sealed-only rule (http/access.ts) on the real handler and
 * sealed layer, over a word engine: missing, wrong, truncated and extended
 * keys refused with 401; every configured key accepted; public routes open;
 * `requireSealed` refusing plaintext with 403 while sealed requests — whose
 * `Authorization` travels inside the seal — pass; refusals of a sealed
 * request sealed themselves; sealed requests too large answered with 413
 * (sealed when the server could open them, in the clear otherwise, and
 * always as an answer rather than a reset connection).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { openResponse, type SealTarget, sealRequest } from "@veritee/channel";
import { nodeBackend, nodeRecipientKey } from "@veritee/channel/node";
import { generateX25519 } from "@veritee/core";
import fc from "fast-check";
import { wasSealed, withSealedChannel } from "../../src/channel/sealed-http.js";
import { checkApiKeys, createAccessCheck } from "../../src/http/access.js";
import { createHttpHandler } from "../../src/http/handler.js";
import { type RunningHttpServer, startHttpServer } from "../../src/http/server.js";
import { MemoryLogger } from "./support/server.js";
import { WordEngine } from "./support/word-engine.js";

const KEY_A = "sk-access-test-key-aaaaaaaaaaaa";
const KEY_B = "sk-access-test-key-bbbbbbbbbbbb";
const MAX_BODY = 4096;
const TEXT = new TextEncoder();

interface Started {
  running: RunningHttpServer;
  target: SealTarget;
  logger: MemoryLogger;
}

async function start(requireSealed: boolean): Promise<Started> {
  const { privateKey, publicKey } = generateX25519();
  const keyConfig = { keyId: 1, kemId: 0x0020, publicKey, cipherSuites: [{ kdfId: 1, aeadId: 1 }] };
  const keySetDigest = new Uint8Array(32).fill(5);
  const logger = new MemoryLogger();
  const http = createHttpHandler({
    engine: new WordEngine(),
    logger,
    limits: { maxBodyBytes: MAX_BODY },
    access: { apiKeys: [KEY_A, KEY_B], requireSealed, isSealed: wasSealed },
  });
  const recipient = nodeRecipientKey({ keyConfig, keySetDigest, privateKey });
  const handler = withSealedChannel(http.handler, { recipient, maxBodyBytes: MAX_BODY, logger });
  const running = await startHttpServer({ ...http, handler }, { port: 0 });
  return { running, target: { keySet: { hpke: keyConfig }, keySetDigest }, logger };
}

async function code(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

/** Send a sealed request (headers inside the seal) and open the answer. */
async function sealed(
  s: Started,
  request: { method: string; path: string; headers?: [string, string][]; body?: Uint8Array },
) {
  const out = await sealRequest(s.target, request, { backend: nodeBackend });
  const response = await fetch(`${s.running.url}${out.path}`, { method: "POST", headers: out.headers, body: out.body });
  assert.equal(response.status, 200, "the outer status is always 200");
  assert.equal(response.headers.get("www-authenticate"), null, "the challenge is sealed, not shown to the relay");
  const opened = await openResponse(out.context, new Uint8Array(await response.arrayBuffer()));
  return { status: opened.status, headers: opened.headers, json: JSON.parse(new TextDecoder().decode(opened.body)) };
}

const chat = (content: string) =>
  TEXT.encode(JSON.stringify({ model: "word-model", messages: [{ role: "user", content }], max_tokens: 2 }));

describe("API keys", () => {
  let s: Started;
  before(async () => {
    s = await start(false);
  });
  after(() => s.running.close({ graceMs: 100 }));

  test("plaintext: a missing, wrong, truncated, extended or differently-cased key is 401; each configured key works", async () => {
    const models = (authorization?: string) =>
      fetch(`${s.running.url}/v1/models`, authorization === undefined ? {} : { headers: { authorization } });
    for (const bad of [
      undefined,
      "",
      "Bearer",
      `Bearer ${KEY_A.slice(0, -1)}`,
      `Bearer ${KEY_A}x`,
      `Bearer ${KEY_A.toUpperCase()}`,
      `Basic ${KEY_A}`,
      KEY_A,
      `Bearer ${KEY_A} ${KEY_B}`,
    ]) {
      const response = await models(bad);
      assert.equal(response.status, 401, String(bad));
      assert.equal(response.headers.get("www-authenticate"), "Bearer");
      assert.equal(await code(response), "invalid_api_key");
    }
    for (const good of [`Bearer ${KEY_A}`, `Bearer ${KEY_B}`, `bearer ${KEY_A}`]) {
      assert.equal((await models(good)).status, 200, good);
    }
    // The routes behind the key include inference; the error names no key.
    const response = await fetch(`${s.running.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer sk-wrong-key-0000000000", "content-type": "application/json" },
      body: chat("hello"),
    });
    assert.equal(response.status, 401);
    assert.ok(!(await response.text()).includes("sk-"));
    assert.ok(!s.logger.text().includes("sk-"), "no key in the logs");
  });

  test("health, metrics (public routes) need no key", async () => {
    assert.equal((await fetch(`${s.running.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${s.running.url}/metrics`)).status, 200);
  });

  test("sealed: the key inside the sealed request is checked; a refusal is itself sealed", async () => {
    const ok = await sealed(s, {
      method: "POST",
      path: "/v1/chat/completions",
      headers: [
        ["authorization", `Bearer ${KEY_B}`],
        ["content-type", "application/json"],
      ],
      body: chat("hello"),
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.object, "chat.completion");
    const missing = await sealed(s, { method: "GET", path: "/v1/models" });
    assert.equal(missing.status, 401);
    assert.equal(missing.headers["www-authenticate"], "Bearer");
    assert.equal(missing.json.error.code, "invalid_api_key");
  });
});

describe("the sealed request alone decides", () => {
  let s: Started;
  before(async () => {
    s = await start(true);
  });
  after(() => s.running.close({ graceMs: 100 }));

  test("headers a relay adds to the outer request never reach the route: a valid key outside does not authorize", async () => {
    const out = await sealRequest(s.target, { method: "GET", path: "/v1/models" }, { backend: nodeBackend });
    const response = await fetch(`${s.running.url}${out.path}`, {
      method: "POST",
      headers: { ...out.headers, authorization: `Bearer ${KEY_A}` },
      body: out.body,
    });
    const opened = await openResponse(out.context, new Uint8Array(await response.arrayBuffer()));
    assert.equal(opened.status, 401);
  });

  test("fast-check: random bytes or a mutated sealed request to /v1/sealed get a 4xx OpenAI error, never a 5xx", async () => {
    const good = await sealRequest(
      s.target,
      { method: "GET", path: "/v1/models", headers: [["authorization", `Bearer ${KEY_A}`]] },
      { backend: nodeBackend },
    );
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
            const bad = good.body.slice();
            bad[at % bad.length]! ^= x;
            return bad;
          }),
        ),
        async (body) => {
          const response = await fetch(`${s.running.url}/v1/sealed`, { method: "POST", headers: good.headers, body });
          statuses.add(response.status);
          assert.ok(response.status >= 400 && response.status < 500, String(response.status));
          const error = ((await response.json()) as { error: { code: string } }).error;
          assert.ok(["sealed_request_invalid", "sealed_key_unknown"].includes(error.code), error.code);
        },
      ),
      { numRuns: 150 },
    );
    assert.ok(statuses.has(400));
  });
});

describe("requireSealed", () => {
  let s: Started;
  before(async () => {
    s = await start(true);
  });
  after(() => s.running.close({ graceMs: 100 }));

  test("plaintext requests to protected routes are refused with 403, even with a valid key; public ones are served", async () => {
    for (const [method, path] of [
      ["GET", "/v1/models"],
      ["POST", "/v1/chat/completions"],
      ["POST", "/v1/embeddings"],
    ] as const) {
      const response = await fetch(`${s.running.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${KEY_A}`, "content-type": "application/json" },
        ...(method === "POST" ? { body: chat("x") } : {}),
      });
      assert.equal(response.status, 403, path);
      assert.equal(await code(response), "sealed_request_required");
    }
    assert.equal((await fetch(`${s.running.url}/healthz`)).status, 200);
  });

  test("sealed requests with the key are served", async () => {
    const answer = await sealed(s, {
      method: "GET",
      path: "/v1/models",
      headers: [["authorization", `Bearer ${KEY_A}`]],
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.json.data[0].id, "word-model");
  });

  test("a sealed body past the limit that still opens is answered 413, sealed", async () => {
    const answer = await sealed(s, {
      method: "POST",
      path: "/v1/chat/completions",
      headers: [
        ["authorization", `Bearer ${KEY_A}`],
        ["content-type", "application/json"],
      ],
      body: chat("x".repeat(MAX_BODY)),
    });
    assert.equal(answer.status, 413);
    assert.equal(answer.json.error.code, "request_too_large");
  });

  test("a sealed request far past the limit is read, dropped and answered 413 in the clear, not reset", async () => {
    const out = await sealRequest(
      s.target,
      { method: "POST", path: "/v1/chat/completions", body: new Uint8Array(1 << 20) },
      { backend: nodeBackend },
    );
    const response = await fetch(`${s.running.url}${out.path}`, {
      method: "POST",
      headers: out.headers,
      body: out.body,
    });
    assert.equal(response.status, 413);
    assert.equal(await code(response), "request_too_large");
  });
});

describe("configuration", () => {
  test("short or malformed keys are refused at start, by position, never echoed", () => {
    for (const bad of ["short", "has space in it 0123", "sk-é-0123456789abcdef", ""]) {
      assert.throws(
        () => checkApiKeys([KEY_A, bad]),
        (e: unknown) =>
          e instanceof RangeError && e.message.includes("API key 2") && (bad === "" || !e.message.includes(bad)),
      );
    }
    assert.throws(() => createAccessCheck({ requireSealed: true }), RangeError);
    assert.equal(createAccessCheck({}), undefined, "no keys and no sealed-only rule: no check at all");
  });
});
