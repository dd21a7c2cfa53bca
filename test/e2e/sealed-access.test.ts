/**
 * API keys through the sealed channel, end to end: a real development server
 * started with `apiKeys` (and a small body limit), the client SDK's
 * `session.fetch` inside the official `openai` package, and a relay on
 * 127.0.0.1 recording every byte. The relay never sees the real path, the
 * key or the prompt — only `POST /v1/sealed`. A wrong or missing key is a
 * 401 the SDK raises as `AuthenticationError`; a sealed request larger than
 * the server accepts is a 413 the SDK raises without retrying; plaintext
 * with the key over attested TLS (pinned, not sealed) works too.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SEALED_PATH } from "@veritee/channel";
import { connect } from "@veritee/client/node";
import { type Policy, parsePolicy, policyFromReferenceValues } from "@veritee/policy";
import type { RunningVeriteeServer } from "@veritee/server";
import OpenAI from "openai";
import { startDevServer } from "./support/dev-server.js";
import { Relay } from "./support/relay.js";

const API_KEY = `sk-${randomBytes(16).toString("hex")}`;
const MAX_BODY = 16 * 1024;

let server: RunningVeriteeServer;
let policy: Policy;
const relays: Relay[] = [];

before(async () => {
  server = await startDevServer({ apiKeys: [API_KEY], limits: { maxBodyBytes: MAX_BODY } });
  policy = policyFromReferenceValues(server.referenceValues);
});

after(async () => {
  await Promise.all(relays.map((r) => r.close()));
  await server?.close();
});

async function relay(): Promise<Relay> {
  const r = await Relay.start(server.url);
  relays.push(r);
  return r;
}

function canary(): string {
  return `CANARY-${randomBytes(12).toString("hex")}`;
}

describe("API keys inside the sealed request", () => {
  test("the openai package with a key through session.fetch: the relay sees neither the path, the key nor the prompt", async () => {
    const r = await relay();
    const session = await connect({ baseURL: r.url, policy });
    try {
      const openai = new OpenAI({ baseURL: session.baseURL, apiKey: API_KEY, fetch: session.fetch, maxRetries: 0 });
      const secret = canary();
      const completion = await openai.chat.completions.create({
        model: "stories260K",
        messages: [{ role: "user", content: `${secret} Once upon a time` }],
        max_tokens: 8,
        temperature: 0,
      });
      assert.ok((completion.choices[0]?.message.content ?? "").length > 0);
      assert.equal((await openai.models.list()).data[0]?.id, "stories260K");
      for (const hidden of [API_KEY, secret, "/v1/chat/completions", "/v1/models", "authorization", "Bearer"]) {
        assert.ok(!r.saw(hidden), `the relay saw ${hidden === API_KEY ? "the key" : hidden}`);
      }
      const paths = new Set(r.requests.map((q) => `${q.method} ${q.path.replace(/\?.*/, "")}`));
      assert.deepEqual([...paths].sort(), [
        "GET /v1/attestation",
        "POST /v1/attestation/activate",
        `POST ${SEALED_PATH}`,
      ]);
    } finally {
      await session.close();
    }
  });

  test("a wrong key and no key: 401, raised by the SDK as AuthenticationError; the relay sees only a 200", async () => {
    const r = await relay();
    const session = await connect({ baseURL: r.url, policy });
    try {
      const wrong = new OpenAI({
        baseURL: session.baseURL,
        apiKey: `sk-${randomBytes(16).toString("hex")}`,
        fetch: session.fetch,
        maxRetries: 0,
      });
      await assert.rejects(
        wrong.models.list(),
        (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === "invalid_api_key",
      );
      const none = await session.fetch(`${session.baseURL}/models`);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get("www-authenticate"), "Bearer");
      assert.ok(!r.saw("HTTP/1.1 401") && !r.saw("invalid_api_key"), "the refusal is sealed");
    } finally {
      await session.close();
    }
  });

  test("a sealed request larger than the server accepts: a 413 the SDK does not retry", async () => {
    const r = await relay();
    const session = await connect({ baseURL: r.url, policy });
    try {
      const openai = new OpenAI({ baseURL: session.baseURL, apiKey: API_KEY, fetch: session.fetch, maxRetries: 2 });
      // Just over the body limit (the server opens it and answers 413 sealed), and far over it (413 in the clear).
      for (const size of [MAX_BODY + 1, 8 * MAX_BODY]) {
        const before = r.requestsTo(SEALED_PATH).length;
        await assert.rejects(
          openai.chat.completions.create({
            model: "stories260K",
            messages: [{ role: "user", content: "x".repeat(size) }],
            max_tokens: 1,
          }),
          (e: unknown) => e instanceof OpenAI.APIError && e.status === 413 && e.code === "request_too_large",
          String(size),
        );
        assert.equal(r.requestsTo(SEALED_PATH).length - before, 1, "sent once, not retried");
      }
    } finally {
      await session.close();
    }
  });

  test("attested TLS without sealing: the key travels inside the pinned connection and works", async () => {
    const pinOnly = parsePolicy({ ...JSON.parse(JSON.stringify(policy)), channel: { modes: ["attested-tls"] } });
    const session = await connect({ baseURL: server.tlsUrl!, policy: pinOnly });
    try {
      assert.deepEqual(session.channel, { sealed: false, attestedTls: true });
      const openai = new OpenAI({ baseURL: session.baseURL, apiKey: API_KEY, fetch: session.fetch, maxRetries: 0 });
      assert.equal((await openai.models.list()).data[0]?.id, "stories260K");
      const wrong = new OpenAI({
        baseURL: session.baseURL,
        apiKey: "sk-0000000000000000",
        fetch: session.fetch,
        maxRetries: 0,
      });
      await assert.rejects(wrong.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
    } finally {
      await session.close();
    }
  });
});
