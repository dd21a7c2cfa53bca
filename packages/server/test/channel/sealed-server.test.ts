/**
 * The sealed channel through the real attested server (development TPM,
 * embedded stories260K): chat completions sealed end to end, streaming and
 * not, through a TCP relay that records every byte it forwards — the canary
 * prompt and the completions never appear on the wire nor in any log — and
 * over attested TLS, where a man in the middle with its own certificate gets
 * no request byte at all.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, createServer as createNetServer, connect as netConnect, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { fileURLToPath } from "node:url";
import {
  ChannelError,
  type HpkeBackend,
  KEY_SET_HEADER,
  openResponseStream,
  SEALED_REQUEST_TYPE,
  SEALED_RESPONSE_TYPE,
  type SealTarget,
  sealRequest,
} from "@veritee/channel";
import { createAttestedCertificate, createPinnedFetch, nodeBackend } from "@veritee/channel/node";
import { sharedPath } from "@veritee/testkit";
import OpenAI, { APIError } from "openai";
import { type RunningVeriteeServer, startVeriteeServer } from "../../src/serve.js";
import { MemoryLogger } from "../http/support/server.js";

const CODE_ROOT = fileURLToPath(new URL("../../../../../", import.meta.url));
const CANARY = "canary-e4c1b2-sealed-prompt-never-on-the-wire";

/** A test-only sealing `fetch` (the client SDK has the real one): seal every request, open every response. */
function sealedFetch(target: SealTarget, base: typeof fetch, backend: HpkeBackend = nodeBackend): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const get = request.method === "GET" || request.method === "HEAD";
    const body = get ? undefined : new Uint8Array(await request.arrayBuffer());
    // Every header the SDK set (authorization included) goes inside the seal, with the method and the target.
    const headers: [string, string][] = [];
    for (const [name, value] of request.headers)
      if (name !== "content-length" && name !== "host") headers.push([name, value]);
    const sealed = await sealRequest(
      target,
      { method: request.method, path: url.pathname + url.search, headers, ...(body ? { body } : {}) },
      { backend },
    );
    const response = await base(new URL(sealed.path, url), {
      method: "POST",
      headers: sealed.headers,
      body: sealed.body,
      signal: request.signal,
    });
    if (response.headers.get("content-type") !== SEALED_RESPONSE_TYPE || response.body === null) {
      throw new ChannelError("not-sealed", `the server answered ${response.status} without sealing`);
    }
    const opened = await openResponseStream(sealed.context, response.body);
    return new Response(opened.body, { status: opened.status, headers: opened.headers });
  };
}

/** A TCP relay in front of `port` that keeps every byte it forwards, both ways. */
async function relay(port: number): Promise<{ url: string; wire: () => Buffer; close: () => void }> {
  const seen: Buffer[] = [];
  const server: Server = createNetServer((client) => {
    const upstream = netConnect(port, "127.0.0.1");
    client.on("data", (d: Buffer) => seen.push(d));
    upstream.on("data", (d: Buffer) => seen.push(d));
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const p = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${p}`, wire: () => Buffer.concat(seen), close: () => server.close() };
}

function client(baseURL: string, fetch: typeof globalThis.fetch): OpenAI {
  return new OpenAI({
    baseURL: `${baseURL}/v1`,
    apiKey: "sk-test-not-a-secret",
    fetch,
    maxRetries: 0,
    timeout: 30_000,
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe("the sealed channel on the real server", () => {
  let server: RunningVeriteeServer;
  let target: SealTarget;
  let model: string;
  const logger = new MemoryLogger();

  before(async () => {
    server = await startVeriteeServer({
      // The test runner's own flags and variables are not the server's: record a clean launch.
      launchEnvironment: { execArgv: [], env: {} },
      host: "127.0.0.1",
      port: 0,
      tls: { port: 0 },
      engine: { kind: "embedded", model: sharedPath("models", "stories260K.gguf"), contextSize: 256 },
      tpm: { kind: "dev" },
      codeRoot: CODE_ROOT,
      logger,
    });
    target = { keySet: server.launch.keys.keySet, keySetDigest: server.launch.keys.keySetDigest };
    model = server.engine.models()[0]!.id;
  });

  after(async () => {
    await server?.close();
  });

  test("a sealed chat completion: the relay sees neither the prompt nor the completion", async () => {
    const r = await relay(portOf(server.url));
    try {
      const openai = client(r.url, sealedFetch(target, fetch));
      const completion = await openai.chat.completions.create({
        model,
        messages: [{ role: "user", content: `Once upon a time ${CANARY}` }],
        max_tokens: 24,
        temperature: 0,
      });
      const content = completion.choices[0]!.message.content ?? "";
      assert.ok(content.length > 20, "the model answered");
      const wire = r.wire();
      assert.ok(wire.includes(SEALED_REQUEST_TYPE), "the request went through the relay, sealed");
      assert.ok(wire.includes(SEALED_RESPONSE_TYPE));
      assert.ok(!wire.includes(CANARY), "the prompt is not on the wire");
      assert.ok(!wire.includes(content.slice(0, 20)), "the completion is not on the wire");
      assert.ok(!wire.includes("chat.completion"), "no response JSON on the wire");
    } finally {
      r.close();
    }
  });

  test("a sealed streaming chat completion: SSE events arrive as sealed frames", async () => {
    const r = await relay(portOf(server.url));
    try {
      const openai = client(r.url, sealedFetch(target, fetch));
      const stream = await openai.chat.completions.create({
        model,
        messages: [{ role: "user", content: `Once upon a time ${CANARY}` }],
        max_tokens: 24,
        temperature: 0,
        stream: true,
      });
      let content = "";
      let chunks = 0;
      for await (const chunk of stream) {
        chunks++;
        content += chunk.choices[0]?.delta.content ?? "";
      }
      assert.ok(chunks > 5, "many events");
      assert.ok(content.length > 20);
      const wire = r.wire();
      assert.ok(!wire.includes(CANARY));
      assert.ok(!wire.includes(content.slice(0, 20)));
      assert.ok(!wire.includes("data:"), "no SSE framing on the wire");
      assert.ok(!wire.includes("text/event-stream"), "the inner content type is sealed");
    } finally {
      r.close();
    }
  });

  test("sealed GET (inside an outer POST), sealed errors with their real status, plain requests still work", async () => {
    const r = await relay(portOf(server.url));
    try {
      const openai = client(r.url, sealedFetch(target, fetch));
      const models = await openai.models.list();
      assert.deepEqual(
        models.data.map((m) => m.id),
        [model],
      );
      await assert.rejects(
        openai.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: CANARY }] }),
        (e: unknown) => e instanceof APIError && e.status === 404,
      );
      const plain = client(server.url, fetch);
      assert.equal((await plain.models.list()).data[0]!.id, model);
      const wire = r.wire();
      assert.ok(!wire.includes(CANARY));
      assert.ok(!wire.includes(`"${model}"`), "the model list is sealed");
      assert.ok(!wire.includes("HTTP/1.1 404"), "the real status is sealed");
    } finally {
      r.close();
    }
  });

  test("refusals before opening: another key set (421), a tampered body (400), unsealed answers", async () => {
    const sealed = await sealRequest(
      target,
      {
        method: "POST",
        path: "/v1/chat/completions",
        contentType: "application/json",
        body: new TextEncoder().encode("{}"),
      },
      { backend: nodeBackend },
    );
    const wrongSet = await fetch(`${server.url}${sealed.path}`, {
      method: "POST",
      headers: { ...sealed.headers, [KEY_SET_HEADER]: "00".repeat(32) },
      body: sealed.body,
    });
    assert.equal(wrongSet.status, 421);
    assert.equal(((await wrongSet.json()) as { error: { code: string } }).error.code, "sealed_key_unknown");
    const bad = sealed.body.slice();
    bad[bad.length - 1]! ^= 1;
    const tampered = await fetch(`${server.url}${sealed.path}`, {
      method: "POST",
      headers: sealed.headers,
      body: bad,
    });
    assert.equal(tampered.status, 400);
    assert.equal(((await tampered.json()) as { error: { code: string } }).error.code, "sealed_request_invalid");
    // Version 1 sent the sealed body to the real path (or, for GET, in a header): refused by name.
    for (const v1 of [
      { path: "/v1/chat/completions", headers: { ...sealed.headers, "veritee-content-type": "application/json" } },
      { path: "/v1/completions", headers: sealed.headers },
      { path: "/v1/models", headers: { "veritee-sealed-request": "AAAA", [KEY_SET_HEADER]: "00".repeat(32) } },
    ]) {
      const get = "veritee-sealed-request" in v1.headers;
      const answer = await fetch(`${server.url}${v1.path}`, {
        method: get ? "GET" : "POST",
        headers: v1.headers,
        ...(get ? {} : { body: sealed.body }),
      });
      assert.equal(answer.status, 400, v1.path);
      const error = ((await answer.json()) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, "sealed_version_unsupported");
      assert.match(error.message, /version 2/);
    }
    const getSealed = await fetch(`${server.url}${sealed.path}`, {
      method: "PUT",
      headers: sealed.headers,
      body: sealed.body,
    });
    assert.equal(getSealed.status, 400, "sealed requests are POSTs");
  });

  test("nothing sealed reaches the logs; the log line has the real route and status", () => {
    const text = logger.text();
    assert.ok(!text.includes(CANARY));
    const requests = logger.requests();
    assert.ok(requests.some((f) => f.route === "/v1/chat/completions" && f.status === 200 && f.stream === true));
    assert.ok(requests.some((f) => f.route === "/v1/chat/completions" && f.status === 404));
    assert.ok(
      logger.events.some((e) => e.event === "sealed-request-refused" && e.fields.code === "sealed_key_unknown"),
    );
  });

  test("attested TLS: a pinned, sealed streaming completion over HTTPS", async () => {
    assert.ok(server.tlsUrl?.startsWith("https://"));
    const pinned = createPinnedFetch({ origin: server.tlsUrl!, spki: server.launch.keys.keySet.tlsSpki });
    const openai = client(server.tlsUrl!, sealedFetch(target, pinned));
    const stream = await openai.chat.completions.create({
      model,
      messages: [{ role: "user", content: `Once upon a time ${CANARY}` }],
      max_tokens: 8,
      stream: true,
    });
    let content = "";
    for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? "";
    assert.ok(content.length > 0);
  });

  test("attested TLS: a man in the middle with its own certificate receives no request byte", async () => {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = new Uint8Array(pair.publicKey.export({ format: "der", type: "spki" }));
    const cert = createAttestedCertificate({ privateKey: pair.privateKey, spki });
    let applicationBytes = 0;
    let connections = 0;
    // It would forward to the genuine server; it never gets anything to forward.
    const mitm = createTlsServer(
      { key: pair.privateKey.export({ format: "pem", type: "pkcs8" }), cert: cert.pem },
      (socket: TLSSocket) => {
        socket.on("data", (d: Buffer) => {
          applicationBytes += d.length;
        });
        socket.on("error", () => undefined);
      },
    );
    mitm.on("connection", () => connections++);
    mitm.listen(0, "127.0.0.1");
    await once(mitm, "listening");
    const origin = `https://127.0.0.1:${(mitm.address() as AddressInfo).port}`;
    try {
      const pinned = createPinnedFetch({ origin, spki: server.launch.keys.keySet.tlsSpki });
      const openai = client(origin, sealedFetch(target, pinned));
      await assert.rejects(
        openai.chat.completions.create({ model, messages: [{ role: "user", content: CANARY }] }),
        (e: unknown) => {
          const cause = (e as { cause?: unknown }).cause;
          return (
            (e instanceof ChannelError && e.code === "pin-mismatch") ||
            (cause instanceof ChannelError && cause.code === "pin-mismatch")
          );
        },
      );
      assert.ok(connections >= 1);
      assert.equal(applicationBytes, 0);
    } finally {
      mitm.close();
    }
  });
});
