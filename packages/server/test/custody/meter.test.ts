/**
 * The server's meter (custody/meter.ts) against leases made by hand: who is
 * let in, how reservations and settlements keep a block exact under
 * concurrency, how a renewal caps the server at its ask, the throttle's
 * pacing and the per-consumer rate limit.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import type { HeldLease, LeaseConsumer } from "@veritee/custody";
import { Meter } from "../../src/custody/meter.js";
import { HttpError } from "../../src/http/errors.js";

const digest = (key: string) => createHash("sha256").update(key).digest("hex");
const signal = new AbortController().signal;
const want = { maxTokens: 8, contextSize: 2048 };

function lease(consumers: Partial<LeaseConsumer>[], throttle = { tokensPerSecond: null, requestsPerMinute: null }) {
  return {
    payload: {
      deployment: "d",
      release: "ab".repeat(16),
      seq: 1,
      status: "active",
      durationMs: 10_000,
      consumers: consumers.map((c) => ({
        id: "alice",
        keySha256: digest("alice-key"),
        inferences: null,
        tokens: null,
        remainingInferences: null,
        remainingTokens: null,
        ...c,
      })),
      throttle,
    },
    validUntil: performance.now() + 10_000,
  } as HeldLease;
}

const refusedWith = (code: string) => (error: unknown) => error instanceof HttpError && error.code === code;

test("only a lease's consumers get in; without a lease nobody does", async () => {
  const meter = new Meter("d", { topUp: async () => {}, renewSoon: () => {} });
  meter.startEpoch("ab".repeat(16));
  await assert.rejects(meter.admit("alice-key", want, signal), refusedWith("model-unavailable"));
  meter.applyLease(lease([{ inferences: 5, remainingInferences: 5 }]), []);
  assert.equal(meter.knows("alice-key"), true);
  assert.equal(meter.knows("mallory-key"), false);
  await assert.rejects(meter.admit("mallory-key", want, signal), refusedWith("unauthorized"));
  const a = await meter.admit("alice-key", want, signal);
  assert.equal(a.headers["x-veritee-quota-remaining"], "inferences=4");
  a.settle({ promptTokens: 3, completionTokens: 2 });
  assert.deepEqual(meter.quota("alice-key"), { deployment: "d", consumer: "alice", inferences: 4, tokens: null });
  meter.stop();
  await assert.rejects(meter.admit("alice-key", want, signal), refusedWith("model-unavailable"));
});

test("a block of 3 under 10 concurrent requests: 3 served, 7 refused after a top-up that brings nothing", async () => {
  let topUps = 0;
  const meter = new Meter("d", {
    topUp: async () => {
      topUps++;
    },
    renewSoon: () => {},
  });
  meter.startEpoch("ab".repeat(16));
  meter.applyLease(lease([{ inferences: 3 }]), []);
  const results = await Promise.allSettled(
    Array.from({ length: 10 }, async () => {
      const a = await meter.admit("alice-key", want, signal);
      await new Promise((resolve) => setTimeout(resolve, 20));
      a.settle({ promptTokens: 1, completionTokens: 1 });
    }),
  );
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 3);
  const refused = results.filter((r) => r.status === "rejected");
  assert.equal(refused.length, 7);
  for (const r of refused) assert.ok(refusedWith("insufficient-quota")((r as PromiseRejectedResult).reason));
  assert.ok(topUps >= 1);
  assert.deepEqual(meter.epoch!.usage(), [{ consumer: "alice", requests: 3, promptTokens: 3, completionTokens: 3 }]);
});

test("a request not served gives its reservation back; one waiting gets it", async () => {
  const meter = new Meter("d", { topUp: async () => {}, renewSoon: () => {} });
  meter.startEpoch("ab".repeat(16));
  meter.applyLease(lease([{ inferences: 1 }]), []);
  const first = await meter.admit("alice-key", want, signal);
  const second = meter.admit("alice-key", want, signal);
  setTimeout(() => first.settle(undefined), 20);
  const got = await second;
  got.settle({ promptTokens: 1, completionTokens: 1 });
  assert.equal(meter.epoch!.usage()[0]!.requests, 1);
});

test("a token block caps max_tokens; a renewal asks for what is in flight and holds the server to it", async () => {
  const meter = new Meter("d", { topUp: async () => {}, renewSoon: () => {} });
  meter.startEpoch("ab".repeat(16));
  meter.applyLease(lease([{ tokens: 20, remainingTokens: 20 }]), []);
  const a = await meter.admit("alice-key", { maxTokens: 64, contextSize: 2048 }, signal);
  assert.equal(a.maxTokens, 20, "capped by the tokens left");
  const { want: asked } = meter.prepareRenewal();
  assert.deepEqual(asked, [{ consumer: "alice", inferences: 1 + 16, tokens: 20 + 4096 }]);
  a.settle({ promptTokens: 5, completionTokens: 15 });
  // Idle since: the next renewal asks for nothing, and the server holds nothing beyond its use.
  const idle = meter.prepareRenewal();
  assert.deepEqual(idle.want, []);
  assert.deepEqual(idle.usage, [{ consumer: "alice", requests: 1, promptTokens: 5, completionTokens: 15 }]);
  await assert.rejects(meter.admit("alice-key", want, signal), refusedWith("insufficient-quota"));
});

test("requests per minute per consumer: beyond the bucket, 429 with Retry-After", async () => {
  const meter = new Meter("d", { topUp: async () => {}, renewSoon: () => {} });
  meter.startEpoch("ab".repeat(16));
  meter.applyLease(lease([{}], { tokensPerSecond: null, requestsPerMinute: 2 } as never), []);
  (await meter.admit("alice-key", want, signal)).settle(undefined);
  (await meter.admit("alice-key", want, signal)).settle(undefined);
  await assert.rejects(meter.admit("alice-key", want, signal), (error: unknown) => {
    assert.ok(error instanceof HttpError && error.code === "too-many-requests");
    assert.ok((error.retryAfterSeconds ?? 0) >= 1);
    return true;
  });
});

test("tokens per second: streams take turns at the deployment's rate", async () => {
  const meter = new Meter("d", { topUp: async () => {}, renewSoon: () => {} });
  meter.startEpoch("ab".repeat(16));
  meter.applyLease(lease([{}], { tokensPerSecond: 50, requestsPerMinute: null } as never), []);
  const a = await meter.admit("alice-key", want, signal);
  const b = await meter.admit("alice-key", want, signal);
  const started = performance.now();
  const order: string[] = [];
  await Promise.all(
    [
      ["a", a],
      ["b", b],
    ].map(async ([name, admission]) => {
      for (let i = 0; i < 5; i++) {
        await (admission as typeof a).pace();
        order.push(name as string);
      }
    }),
  );
  const ms = performance.now() - started;
  // 10 tokens at 50/s: the first at once, then one per 20 ms.
  assert.ok(ms >= 9 * 20 * 0.8, `${ms} ms`);
  assert.deepEqual(order.slice(0, 4), ["a", "b", "a", "b"], "fair: in turn");
});
