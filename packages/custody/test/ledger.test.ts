/**
 * The governance ledger on every engine: quotas granted in blocks that never
 * add up to more than was supplied, usage as running totals counted once,
 * and the attacks on renewals — forged, replayed, reordered, for another
 * deployment, from another key set, naming another deployment's consumer —
 * each refused with a typed error naming the claim. The lease client is
 * tested against the real custodian service: forged, foreign and stale
 * leases are refused.
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Ledger, startCustodianService } from "../src/custodian/index.js";
import { CustodyError } from "../src/errors.js";
import {
  type ConsumerUsage,
  decodeLeasePayload,
  decodeRenewalPayload,
  type RenewalPayload,
  renewalSigningBytes,
} from "../src/protocol/index.js";
import { LeaseClient } from "../src/release/lease-client.js";
import { ENGINES } from "./support/engines.js";

const refusal = (code: string, claim?: string) => (error: unknown) => {
  assert.ok(error instanceof CustodyError, String(error));
  assert.equal(error.code, code, error.message);
  if (claim) assert.equal(error.claim, claim);
  return true;
};

interface ServerKey {
  readonly privateKey: KeyObject;
  readonly spki: string;
}

function serverKey(): ServerKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey, spki: publicKey.export({ format: "der", type: "spki" }).toString("base64") };
}

function signed(payload: RenewalPayload, key: ServerKey) {
  return {
    payload,
    signature: new Uint8Array(
      sign("sha256", renewalSigningBytes(payload), { key: key.privateKey, dsaEncoding: "der" }),
    ),
  };
}

const digest = (text: string) => createHash("sha256").update(text).digest("hex");

for (const engine of ENGINES) {
  describe(`governance ledger (${engine.name})`, { skip: engine.skip }, () => {
    /** A deployment `d` with consumers alice and bob, and `releases` releases of it. */
    async function setup(releases = 2, now = () => Date.now()) {
      const opened = await engine.open();
      const { store } = opened;
      await store.addModel({
        id: "m",
        plaintextSha256: "ab".repeat(32),
        sealedSha256: null,
        threshold: 1,
        shareIndex: null,
        secret: new Uint8Array(randomBytes(32)),
      });
      await store.addDeployment({ id: "d", modelId: "m", policies: [] });
      await store.addDeployment({ id: "other", modelId: "m", policies: [] });
      await store.addConsumer("d", "alice", digest("alice-key"));
      await store.addConsumer("d", "bob", digest("bob-key"));
      await store.addConsumer("other", "carol", digest("carol-key"));
      const ledger = new Ledger(store, { now });
      const servers = [];
      for (let i = 0; i < releases; i++) {
        const key = serverKey();
        const release = randomBytes(16).toString("hex");
        await store.recordRelease(
          release,
          { type: "release", deployment: "d", model: "m" },
          { tlsSpki: key.spki, expiresAtMs: now() + 10_000 },
        );
        let seq = 0;
        const renew = (usage: ConsumerUsage[] = [], want: RenewalPayload["want"] = [], final = false) =>
          ledger.renew(signed({ release, deployment: "d", seq: ++seq, usage, want, final }, key));
        servers.push({ key, release, renew });
      }
      return { ...opened, ledger, servers };
    }

    test("blocks from two leases never add up to more than the quota; unused blocks come back when a lease ends", async () => {
      const { store, ledger, servers } = await setup();
      const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
      await ledger.supply("d", "alice", { inferences: 10 });
      const want = [{ consumer: "alice", inferences: 6, tokens: 0 }];
      const first = (await a.renew([], want)).payload.consumers.find((c) => c.id === "alice")!;
      assert.equal(first.inferences, 6);
      assert.equal(first.tokens, null, "no token quota: unlimited");
      const second = (await b.renew([], want)).payload.consumers.find((c) => c.id === "alice")!;
      assert.equal(second.inferences, 4, "only what a's block does not hold");
      // b used its 4 and asks again: nothing is free while a holds 6.
      const again = await b.renew([{ consumer: "alice", requests: 4, promptTokens: 40, completionTokens: 8 }], want);
      assert.equal(again.payload.consumers.find((c) => c.id === "alice")!.inferences, 0);
      // a used 2 and ends its lease: its 4 unused come back, and b gets them.
      const ended = await a.renew([{ consumer: "alice", requests: 2, promptTokens: 0, completionTokens: 0 }], [], true);
      assert.equal(ended.payload.status, "ended");
      assert.deepEqual(ended.payload.consumers, []);
      const back = await b.renew([{ consumer: "alice", requests: 4, promptTokens: 40, completionTokens: 8 }], want);
      assert.equal(back.payload.consumers.find((c) => c.id === "alice")!.inferences, 4);
      const [usage] = await ledger.usage({ deployment: "d", consumer: "alice" });
      assert.equal(usage!.requests, 6);
      assert.equal(usage!.inferencesRemaining, 4);
      assert.equal(usage!.promptTokens, 40);
      // Bob was supplied nothing: nothing to serve (a quota must be supplied first).
      const bob = back.payload.consumers.find((c) => c.id === "bob")!;
      assert.deepEqual([bob.inferences, bob.tokens, bob.remainingInferences], [0, 0, 0]);
      await store.close();
    });

    test("any interleaving of two servers' renewals grants at most the quota", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              server: fc.integer({ min: 0, max: 1 }),
              use: fc.nat(8),
              want: fc.integer({ min: 1, max: 12 }),
            }),
            {
              minLength: 1,
              maxLength: 12,
            },
          ),
          fc.integer({ min: 1, max: 30 }),
          async (steps, quota) => {
            const { store, ledger, servers } = await setup();
            await ledger.supply("d", "alice", { inferences: quota });
            const state = servers.map(() => ({ used: 0, left: 0 }));
            for (const step of steps) {
              const s = state[step.server]!;
              const use = Math.min(step.use, s.left);
              s.used += use;
              s.left -= use;
              const lease = await servers[step.server]!.renew(
                [{ consumer: "alice", requests: s.used, promptTokens: 0, completionTokens: 0 }],
                [{ consumer: "alice", inferences: step.want, tokens: 0 }],
              );
              s.left = lease.payload.consumers.find((c) => c.id === "alice")!.inferences!;
              const held = state.reduce((sum, x) => sum + x.used + x.left, 0);
              assert.ok(held <= quota, `granted ${held} of ${quota}`);
            }
            await store.close();
          },
        ),
        { numRuns: engine.name === "postgres" ? 5 : 25 },
      );
    });

    test("usage is running totals: a re-sent report adds nothing, lower totals are refused", async () => {
      const { store, ledger, servers } = await setup(1);
      const a = servers[0]!;
      await ledger.supply("d", "alice", { inferences: 100, tokens: 1000 });
      const totals = { consumer: "alice", requests: 3, promptTokens: 30, completionTokens: 12 };
      await a.renew([totals]);
      await a.renew([totals]);
      await a.renew([totals]);
      const [u] = await ledger.usage({ consumer: "alice" });
      assert.equal(u!.requests, 3);
      assert.equal(u!.tokensRemaining, 1000 - 42);
      await assert.rejects(a.renew([{ ...totals, requests: 2 }]), refusal("refused", "lease.usage"));
      await store.close();
    });

    test("forged, replayed, reordered and foreign renewals are refused, each with its claim", async () => {
      const { store, ledger, servers } = await setup(2);
      const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
      const base = { release: a.release, deployment: "d", usage: [], want: [], final: false };
      await ledger.renew(signed({ ...base, seq: 5 }, a.key));
      // Replayed (the same seq) and reordered (a lower one).
      await assert.rejects(ledger.renew(signed({ ...base, seq: 5 }, a.key)), refusal("replayed", "lease.seq"));
      await assert.rejects(ledger.renew(signed({ ...base, seq: 4 }, a.key)), refusal("replayed", "lease.seq"));
      // Signed by another key set (b's) for a's release; a fresh key; a mutated payload; a truncated signature.
      await assert.rejects(ledger.renew(signed({ ...base, seq: 6 }, b.key)), refusal("refused", "lease.signature"));
      await assert.rejects(
        ledger.renew(signed({ ...base, seq: 6 }, serverKey())),
        refusal("refused", "lease.signature"),
      );
      const good = signed({ ...base, seq: 6 }, a.key);
      await assert.rejects(
        ledger.renew({ ...good, payload: { ...good.payload, final: true } }),
        refusal("refused", "lease.signature"),
      );
      await assert.rejects(
        ledger.renew({ ...good, signature: good.signature.subarray(0, 20) }),
        refusal("refused", "lease.signature"),
      );
      // A renewal naming another deployment; a consumer of another deployment.
      await assert.rejects(
        ledger.renew(signed({ ...base, deployment: "other", seq: 7 }, a.key)),
        refusal("refused", "lease.deployment"),
      );
      await assert.rejects(
        ledger.renew(
          signed(
            { ...base, seq: 8, usage: [{ consumer: "carol", requests: 1, promptTokens: 0, completionTokens: 0 }] },
            a.key,
          ),
        ),
        refusal("refused", "lease.usage.consumer"),
      );
      // An unknown release.
      await assert.rejects(
        ledger.renew(signed({ ...base, release: "ee".repeat(16), seq: 1 }, a.key)),
        refusal("not-found"),
      );
      // None of them counted: the good one still goes through after them.
      assert.equal((await ledger.renew(good)).payload.status, "active");
      await store.close();
    });

    test("a revoked deployment, an expired lease and a revoked consumer end what they should", async () => {
      let clock = Date.now();
      const { store, ledger, servers } = await setup(2, () => clock);
      const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
      await ledger.supply("d", "alice", { inferences: 10 });
      await a.renew([], [{ consumer: "alice", inferences: 10, tokens: 0 }]);
      clock += 8_000;
      assert.equal(
        (await b.renew([], [{ consumer: "alice", inferences: 10, tokens: 0 }])).payload.consumers[0]!.inferences,
        0,
      );
      // a's lease expires unrenewed: past the grace its block is free again for b.
      clock += 2_000 + 1_500;
      const expired = await a.renew();
      assert.equal(expired.payload.status, "expired");
      const lease = await b.renew([], [{ consumer: "alice", inferences: 10, tokens: 0 }]);
      assert.equal(lease.payload.consumers.find((c) => c.id === "alice")!.inferences, 10);
      await store.revokeConsumer("d", "bob");
      assert.equal(
        (await b.renew()).payload.consumers.find((c) => c.id === "bob"),
        undefined,
      );
      const settings = await ledger.setThrottle("d", { tokensPerSecond: 5, requestsPerMinute: 30 });
      assert.deepEqual(settings, { tokensPerSecond: 5, requestsPerMinute: 30, leaseMs: 10_000 });
      assert.deepEqual((await b.renew()).payload.throttle, { tokensPerSecond: 5, requestsPerMinute: 30 });
      await store.revokeDeployment("d");
      const revoked = await b.renew();
      assert.equal(revoked.payload.status, "revoked");
      assert.deepEqual(revoked.payload.consumers, []);
      const types = (await store.listAudit(0, 100)).map((e) => e.type);
      assert.ok(types.includes("supply") && types.includes("throttle"));
      await store.close();
    });

    test("the lease client takes only leases signed by the custodian, for its deployment and its renewal", async () => {
      const { store, ledger, servers } = await setup(4);
      const custodian = await startCustodianService({ store, adminToken: "t".repeat(32) });
      let next = 0;
      try {
        const { spki } = await ledger.leaseKey();
        // Each client its own release: a client's seq starts at 1.
        const client = (leaseKey: Uint8Array, deployment = "d", fetchImpl?: typeof fetch) => {
          const a = servers[next++]!;
          return new LeaseClient({
            grant: { custodian: custodian.url, release: a.release, leaseKey },
            deployment,
            sign: async (data) => new Uint8Array(sign("sha256", data, { key: a.key.privateKey, dsaEncoding: "der" })),
            ...(fetchImpl ? { fetch: fetchImpl } : {}),
          });
        };
        const held = await client(spki).renew([], []);
        assert.equal(held.payload.status, "active");
        const otherKey = new Uint8Array(
          generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }),
        );
        await assert.rejects(client(otherKey).renew([], []), refusal("bad-response", "lease.signature"));
        // The custodian refuses a renewal for another deployment than the release's.
        await assert.rejects(client(spki, "other").renew([], []), refusal("refused", "lease.deployment"));
        // A replayed lease (an earlier answer sent again by someone in between) answers another renewal.
        let saved: string | undefined;
        const replaying: typeof fetch = async (input, init) => {
          const response = await fetch(input, init);
          const text = await response.text();
          saved ??= text;
          return new Response(saved, { status: response.status, headers: response.headers });
        };
        const c = client(spki, "d", replaying);
        await c.renew([], []);
        await assert.rejects(c.renew([], []), refusal("bad-response", "lease.seq"));
        // Refused renewals are audited with their claim.
        const claims = (await store.listAudit(0, 100)).filter((e) => e.type === "refusal").map((e) => e.claim);
        assert.ok(claims.includes("lease.deployment"), String(claims));
      } finally {
        await custodian.close();
      }
    });
  });
}

test("renewal and lease payloads decode strictly: every valid one round-trips, unknown members are refused", () => {
  const id = fc.stringMatching(/^[A-Za-z0-9._-]{1,16}$/);
  const count = fc.nat();
  fc.assert(
    fc.property(
      fc.record({
        release: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString("hex")),
        deployment: id,
        seq: fc.integer({ min: 1 }),
        usage: fc.uniqueArray(
          fc.record({ consumer: id, requests: count, promptTokens: count, completionTokens: count }),
          { selector: (u) => u.consumer, maxLength: 4 },
        ),
        want: fc.uniqueArray(fc.record({ consumer: id, inferences: count, tokens: count }), {
          selector: (u) => u.consumer,
          maxLength: 4,
        }),
        final: fc.boolean(),
      }),
      fc.string({ minLength: 1, maxLength: 8 }),
      (payload, extra) => {
        const json = JSON.parse(JSON.stringify(payload));
        assert.deepEqual(JSON.parse(JSON.stringify(decodeRenewalPayload(json))), json);
        fc.pre(!Object.hasOwn(payload, extra));
        assert.throws(() => decodeRenewalPayload({ ...payload, [extra]: 1 }));
        assert.throws(() => decodeRenewalPayload({ ...payload, seq: 0 }));
        if (payload.usage.length > 0) {
          assert.throws(() => decodeRenewalPayload({ ...payload, usage: [...payload.usage, payload.usage[0]] }));
          assert.throws(() => decodeRenewalPayload({ ...payload, usage: [{ ...payload.usage[0], requests: -1 }] }));
        }
      },
    ),
  );
  const lease = {
    deployment: "d",
    release: "ab".repeat(16),
    seq: 1,
    status: "active",
    durationMs: 10_000,
    consumers: [
      {
        id: "alice",
        keySha256: "cd".repeat(32),
        inferences: 3,
        tokens: null,
        remainingInferences: 7,
        remainingTokens: null,
      },
    ],
    throttle: { tokensPerSecond: null, requestsPerMinute: 60 },
  };
  assert.deepEqual(decodeLeasePayload(lease), lease);
  for (const bad of [
    { ...lease, status: "paused" },
    { ...lease, durationMs: 10 },
    { ...lease, throttle: { tokensPerSecond: 0, requestsPerMinute: null } },
    { ...lease, consumers: [{ ...lease.consumers[0], keySha256: "CD".repeat(32) }] },
  ]) {
    assert.throws(() => decodeLeasePayload(bad));
  }
});
