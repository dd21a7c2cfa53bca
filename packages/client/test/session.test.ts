/**
 * The session's re-attestation rules, with a scripted driver in place of a
 * server: fresh attestation past the freshness limit, re-attestation when
 * the server does not hold the key set, channels cached per key set, one
 * shared attestation for concurrent requests, and nothing sent when
 * re-attestation fails.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { VerifiedAttestation } from "@veritee/evidence";
import type { Appraisal } from "@veritee/policy";
import { ClientError } from "../src/errors.js";
import type { OutgoingRequest } from "../src/request.js";
import {
  type AcceptedAttestation,
  ClientSession,
  type KeySetChannel,
  MAX_KEY_SET_RETRIES,
  type SessionDriver,
} from "../src/session.js";
import { resolveServerAddress } from "../src/url.js";

const ADDRESS = resolveServerAddress("http://127.0.0.1:9/v1");

class Script implements SessionDriver {
  clock = 1_000_000;
  attestations = 0;
  opened: string[] = [];
  closed: string[] = [];
  /** The key sets successive attestations report. */
  keySets: string[] = ["k1"];
  /** Key sets the "server" holds: others answer unknown-key. */
  held = new Set(["k1"]);
  sent: { keySet: string; body: string; url: string; method: string }[] = [];
  failNext: Error | undefined;
  attestDelay = 0;

  now = () => new Date(this.clock);

  async attest(): Promise<AcceptedAttestation> {
    if (this.attestDelay > 0) await new Promise((r) => setTimeout(r, this.attestDelay));
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    const n = this.attestations++;
    const keySetDigest = this.keySets[Math.min(n, this.keySets.length - 1)]!;
    return {
      attestation: { n } as unknown as VerifiedAttestation,
      appraisal: { verdict: "pass", claims: [], n } as unknown as Appraisal,
      keySetDigest,
      verifiedAt: this.clock,
    };
  }

  async openChannel(accepted: AcceptedAttestation): Promise<KeySetChannel> {
    const keySet = accepted.keySetDigest;
    this.opened.push(keySet);
    return {
      info: { sealed: true, attestedTls: false },
      exchange: async (request: OutgoingRequest) => {
        this.sent.push({
          keySet,
          body: request.body === null ? "" : new TextDecoder().decode(request.body),
          url: request.url.href,
          method: request.method,
        });
        if (!this.held.has(keySet)) return "unknown-key";
        return new Response(`ok from ${keySet}`, { status: 200 });
      },
      close: async () => {
        this.closed.push(keySet);
      },
    };
  }
}

async function start(script: Script, maxAgeSeconds = 60): Promise<ClientSession> {
  const first = await script.attest();
  return new ClientSession({
    address: ADDRESS,
    driver: script,
    now: script.now,
    maxAgeSeconds,
    first,
    channel: await script.openChannel(first),
  });
}

test("requests go over the current channel with their whole body; the appraisal is the current one", async () => {
  const s = new Script();
  const session = await start(s);
  const r = await session.fetch(`${ADDRESS.apiRoot}/chat/completions`, { method: "POST", body: '{"a":1}' });
  assert.equal(await r.text(), "ok from k1");
  assert.deepEqual(s.sent, [
    { keySet: "k1", body: '{"a":1}', url: `${ADDRESS.apiRoot}/chat/completions`, method: "POST" },
  ]);
  assert.equal(session.baseURL, ADDRESS.apiRoot);
  assert.equal((session.appraisal as unknown as { n: number }).n, 0);
  assert.deepEqual(session.channel, { sealed: true, attestedTls: false });
  // A Request object works as input too.
  await session.fetch(new Request(`${ADDRESS.apiRoot}/models`));
  assert.equal(s.sent[1]!.method, "GET");
  assert.equal(s.attestations, 1);
});

test("past the freshness limit the server is attested again (fresh nonce) before the request is sent", async () => {
  const s = new Script();
  const session = await start(s, 60);
  s.clock += 59_999;
  await session.fetch(`${ADDRESS.apiRoot}/models`);
  assert.equal(s.attestations, 1);
  s.clock += 1;
  await session.fetch(`${ADDRESS.apiRoot}/models`);
  assert.equal(s.attestations, 2, "re-attested at the limit");
  assert.equal((session.attestation as unknown as { n: number }).n, 1);
  assert.deepEqual(s.opened, ["k1"], "the same key set reuses its channel");
  // A clock that went backwards is no evidence of freshness either.
  s.clock -= 10_000;
  await session.fetch(`${ADDRESS.apiRoot}/models`);
  assert.equal(s.attestations, 3);
});

test("a server that no longer holds the key set: attest again, resend to the new key set, cache both channels", async () => {
  const s = new Script();
  s.keySets = ["k1", "k2", "k1"];
  const session = await start(s);
  s.held = new Set(["k2"]); // the server restarted with new keys
  const r = await session.fetch(`${ADDRESS.apiRoot}/completions`, { method: "POST", body: "x" });
  assert.equal(await r.text(), "ok from k2");
  assert.deepEqual(
    s.sent.map((m) => [m.keySet, m.body]),
    [
      ["k1", "x"],
      ["k2", "x"],
    ],
  );
  assert.deepEqual(s.opened, ["k1", "k2"]);
  // Back to k1 (another replica): its cached channel is reused.
  s.held = new Set(["k1"]);
  assert.equal(await (await session.fetch(`${ADDRESS.apiRoot}/models`)).text(), "ok from k1");
  assert.deepEqual(s.opened, ["k1", "k2"]);
  assert.equal(s.attestations, 3);
});

test("a server that never holds what it attests: bounded retries, then reattestation-exhausted", async () => {
  const s = new Script();
  s.keySets = ["k1", "k2", "k3", "k4", "k5"];
  const session = await start(s);
  s.held = new Set();
  await assert.rejects(
    session.fetch(`${ADDRESS.apiRoot}/models`),
    (e: unknown) => e instanceof ClientError && e.code === "reattestation-exhausted",
  );
  assert.equal(s.sent.length, MAX_KEY_SET_RETRIES + 1);
  assert.equal(s.attestations, 1 + MAX_KEY_SET_RETRIES);
});

test("concurrent requests share one re-attestation", async () => {
  const s = new Script();
  const session = await start(s, 1);
  s.clock += 5000;
  s.attestDelay = 20;
  const results = await Promise.all(
    Array.from({ length: 8 }, () => session.fetch(`${ADDRESS.apiRoot}/models`).then((r) => r.text())),
  );
  assert.deepEqual(new Set(results), new Set(["ok from k1"]));
  assert.equal(s.attestations, 2);
});

test("when re-attestation fails, the request is not sent and fetch rejects with the attestation's error", async () => {
  const s = new Script();
  const session = await start(s, 1);
  s.clock += 5000;
  const refusal = new ClientError("attestation-unavailable", "HTTP 503");
  s.failNext = refusal;
  await assert.rejects(
    session.fetch(`${ADDRESS.apiRoot}/chat/completions`, { method: "POST", body: "CANARY" }),
    (e) => e === refusal,
  );
  assert.equal(s.sent.length, 0, "nothing sent");
  // The next request attests again and goes through.
  assert.equal(await (await session.fetch(`${ADDRESS.apiRoot}/models`)).text(), "ok from k1");
});

test("an abort while waiting for re-attestation rejects with the signal's reason and sends nothing", async () => {
  const s = new Script();
  const session = await start(s, 1);
  s.clock += 5000;
  s.attestDelay = 50;
  const controller = new AbortController();
  const pending = session.fetch(`${ADDRESS.apiRoot}/models`, { signal: controller.signal });
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(pending, (e) => e === reason);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(s.sent.length, 0);
});

test("URLs outside the API root are refused; after close() nothing is sent and channels are closed", async () => {
  const s = new Script();
  const session = await start(s);
  for (const url of [
    "http://127.0.0.1:9/metrics",
    "http://evil.example/v1/chat/completions",
    "https://127.0.0.1:9/v1/models",
  ]) {
    await assert.rejects(
      session.fetch(url, { method: "POST", body: "CANARY" }),
      (e: unknown) => e instanceof ClientError && e.code === "foreign-url",
    );
  }
  await session.close();
  await session.close();
  assert.deepEqual(s.closed, ["k1"]);
  await assert.rejects(
    session.fetch(`${ADDRESS.apiRoot}/models`),
    (e: unknown) => e instanceof ClientError && e.code === "session-closed",
  );
  assert.equal(s.sent.length, 0);
});

test("channels of key sets not attested within the freshness limit are closed", async () => {
  const s = new Script();
  s.keySets = ["k1", "k2"];
  const session = await start(s, 10);
  s.held = new Set(["k2"]);
  await session.fetch(`${ADDRESS.apiRoot}/models`); // k1 → unknown → k2
  assert.deepEqual(s.closed, []);
  s.clock += 11_000; // k2 is stale now too: re-attest (k2 again); k1 was last attested 11 s ago
  await session.fetch(`${ADDRESS.apiRoot}/models`);
  assert.deepEqual(s.closed, ["k1"]);
});
