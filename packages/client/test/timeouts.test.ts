/**
 * Time limits against loopback servers that misbehave on purpose: one that
 * accepts connections and never answers, one that sends the headers of its
 * answer and then stalls. Every limit fails with `ClientError("timeout")`
 * naming its phase, quickly (short limits), and cancels the exchange on the
 * wire; a caller's own abort still comes through as the caller's reason.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { VerifiedAttestation } from "@veritee/evidence";
import type { Appraisal } from "@veritee/policy";
import { ClientError, connect, DEFAULT_TIMEOUTS, type TimeoutPhase } from "../src/index.js";
import type { OutgoingRequest } from "../src/request.js";
import { type AcceptedAttestation, ClientSession, type KeySetChannel } from "../src/session.js";
import { resolveServerAddress } from "../src/url.js";

const POLICY = readFileSync("docs/examples/policy-production.json", "utf8");

let server: Server;
let base: string;
const sockets = new Set<Socket>();
/** Requests whose connection closed before the server finished them (the client cancelled). */
let cancelled = 0;
const stalled = new Set<ServerResponse>();

before(async () => {
  server = createServer((req, res) => {
    req.once("close", () => {
      if (!res.writableFinished) cancelled++;
    });
    const path = req.url ?? "";
    if (path.startsWith("/silent/")) return; // accepted, never answered
    if (path.startsWith("/stall/")) {
      // Headers and a first chunk, then nothing.
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{");
      stalled.add(res);
      return;
    }
    if (path.startsWith("/slow-ok/")) {
      res.writeHead(200, { "content-type": "text/plain" });
      let n = 0;
      const tick = setInterval(() => {
        res.write("x");
        if (++n === 8) {
          clearInterval(tick);
          res.end();
        }
      }, 100);
      return;
    }
    res.writeHead(404).end();
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

function timedOut(phase: TimeoutPhase) {
  return (e: unknown) => e instanceof ClientError && e.code === "timeout" && e.phase === phase;
}

async function elapsed<T>(fn: () => Promise<T>): Promise<number> {
  const start = performance.now();
  await fn().catch(() => undefined);
  return performance.now() - start;
}

describe("connect timeouts", () => {
  test("defaults: 10 s connect, 30 s attestation, 120 s request", () => {
    assert.deepEqual({ ...DEFAULT_TIMEOUTS }, { connectMs: 10_000, attestationMs: 30_000, requestMs: 120_000 });
  });

  test("a server that accepts and never answers: timeout, phase connect", async () => {
    const run = () => connect({ baseURL: `${base}/silent/v1`, policy: POLICY, timeouts: { connectMs: 150 } });
    await assert.rejects(run(), timedOut("connect"));
    assert.ok((await elapsed(run)) < 2000);
  });

  test("the whole attestation is limited too: headers then a stalled body is timeout, phase attestation", async () => {
    const before = cancelled;
    await assert.rejects(
      connect({ baseURL: `${base}/stall/v1`, policy: POLICY, timeouts: { connectMs: 1000, attestationMs: 200 } }),
      timedOut("attestation"),
    );
    // The stalled exchange was cancelled on the wire, not left open.
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(cancelled > before, "the client closed the stalled request");
  });

  test("the caller's abort still wins, with the caller's reason", async () => {
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(
      connect({ baseURL: `${base}/silent/v1`, policy: POLICY, signal: controller.signal }),
      (e: unknown) => e === reason,
    );
  });

  test("bad limits are refused before any network use: invalid-options", async () => {
    for (const timeouts of [{ connectMs: 0 }, { attestationMs: -1 }, { requestMs: 1.5 }, { requestMs: 2 ** 31 }]) {
      await assert.rejects(
        connect({ baseURL: `${base}/silent/v1`, policy: POLICY, timeouts }),
        (e: unknown) => e instanceof ClientError && e.code === "invalid-options",
      );
    }
  });
});

/** A session whose channel is plain fetch to the loopback server (the request limit is the session's). */
function sessionOver(requestTimeoutMs: number, seen: AbortSignal[] = []): ClientSession {
  const address = resolveServerAddress(`${base}/v1`);
  const accepted: AcceptedAttestation = {
    attestation: {} as VerifiedAttestation,
    appraisal: { verdict: "pass", claims: [] } as unknown as Appraisal,
    keySetDigest: "k",
    verifiedAt: Date.now(),
  };
  const channel: KeySetChannel = {
    info: { sealed: false, attestedTls: true },
    exchange: async (request: OutgoingRequest) => {
      if (request.signal) seen.push(request.signal);
      const path = request.url.pathname.replace(/^\/v1/, "");
      return fetch(`${base}${path}`, { ...(request.signal ? { signal: request.signal } : {}) });
    },
    close: async () => undefined,
  };
  return new ClientSession({
    address,
    driver: {
      attest: async () => accepted,
      openChannel: async () => channel,
    },
    now: () => new Date(),
    maxAgeSeconds: 3600,
    requestTimeoutMs,
    first: accepted,
    channel,
  });
}

describe("request timeouts (session.fetch)", () => {
  test("no response: timeout, phase request, and the exchange's signal is aborted", async () => {
    const seen: AbortSignal[] = [];
    const session = sessionOver(150, seen);
    await assert.rejects(session.fetch(`${base}/v1/silent/x`), timedOut("request"));
    assert.equal(seen.length, 1);
    assert.ok(seen[0]!.aborted);
    await session.close();
  });

  test("headers then a stalled body: reading the body fails with timeout, phase request, and is cancelled", async () => {
    const before = cancelled;
    const session = sessionOver(200);
    const response = await session.fetch(`${base}/v1/stall/x`);
    assert.equal(response.status, 200);
    await assert.rejects(response.text(), timedOut("request"));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(cancelled > before, "the client closed the stalled response");
    await session.close();
  });

  test("an idle limit, not a total one: a body that keeps coming may take longer than the limit", async () => {
    const session = sessionOver(500);
    // Eight chunks 100 ms apart: 800 ms in all, never 500 ms without a byte.
    const response = await session.fetch(`${base}/v1/slow-ok/x`);
    assert.equal(await response.text(), "xxxxxxxx");
    await session.close();
  });

  test("the caller's abort of a request passes through with its reason", async () => {
    const session = sessionOver(5000);
    const controller = new AbortController();
    const reason = new Error("stop");
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(
      session.fetch(`${base}/v1/silent/y`, { signal: controller.signal }),
      (e: unknown) => e === reason,
    );
    await session.close();
  });
});
