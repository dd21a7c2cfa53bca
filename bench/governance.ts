/**
 * Usage governance (issue 12), ratios measured side by side in one run:
 *
 * 1. serving throughput with metering and leases on (a sealed deployment:
 *    each request admitted against its consumer's block, settled, reported
 *    with the renewals) vs off (the same model in plaintext with the same API
 *    key checked), 8 concurrent clients, `max_tokens: 1`, alternating rounds.
 *    Goal ≥ 0.95;
 * 2. the kill switch: from the revocation (the admin API's answer) to the last
 *    served token and to the first refused request, under load, with the
 *    default 10 s lease. Goal ≤ lease + 1 s;
 * 3. the custodian: lease renewals (each a signed usage report, verified,
 *    recorded, answered with a signed lease) per second on SQLite and on
 *    PostgreSQL, 8 servers renewing at once, against `GET /v1/health` on the
 *    same service (the floor of one request to it).
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { AdminClient, LeaseClient } from "@veritee/custody";
import {
  type CustodianStore,
  Ledger,
  openPostgresStore,
  openSqliteStore,
  startCustodianService,
} from "@veritee/custody/custodian";
import { freePort, startVeritee, type VeriteeProcess } from "@veritee/e2e/support/process";
import { postgresUnavailable, startPostgres } from "@veritee/testkit/postgres";
import { fmt } from "./harness.js";
import { ADMIN_TOKEN, MODEL, MODEL_ID, type SealedDeployment, setUpSealedDeployment } from "./sealed-setup.js";

const CLIENTS = 8;
const ROUND_MS = 2000;
const ROUNDS = 5;

async function completion(base: string, apiKey: string): Promise<number> {
  const res = await fetch(`${base}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ model: MODEL_ID, prompt: "Once", max_tokens: 1 }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Requests per second of `CLIENTS` clients for `ms`. */
async function throughput(base: string, apiKey: string, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        if ((await completion(base, apiKey)) !== 200) throw new Error("a request failed");
        done++;
      }
    }),
  );
  return (done * 1000) / ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function servingBenches(d: SealedDeployment): Promise<void> {
  let plain: VeriteeProcess | undefined;
  let sealed: VeriteeProcess | undefined;
  try {
    plain = await startVeritee(
      [
        ...["serve", "--dev", "--port", String(await freePort()), "--model", MODEL, "--context-size", "2048"],
        ...["--api-key-file", d.keyList],
      ],
      { ready: /listening on (http:\/\/\S+)/, timeoutMs: 120_000 },
    );
    await d.rebootTpm();
    sealed = await startVeritee(["serve", ...d.tpm, "--port", String(d.port), ...d.sealedFlags], {
      ready: /listening on (http:\/\/\S+)/,
      timeoutMs: 120_000,
    });
    const bases = { plain: plain.ready[1]!.replace(/\/v1\/?$/, ""), sealed: sealed.ready[1]!.replace(/\/v1\/?$/, "") };
    await throughput(bases.plain, d.apiKey, 500);
    await throughput(bases.sealed, d.apiKey, 500);
    const ratios: number[] = [];
    const rates = { plain: [] as number[], sealed: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      const off = await throughput(bases.plain, d.apiKey, ROUND_MS);
      const on = await throughput(bases.sealed, d.apiKey, ROUND_MS);
      rates.plain.push(off);
      rates.sealed.push(on);
      ratios.push(on / off);
    }
    console.log(
      `metering + leases off: ${fmt(median(rates.plain))} req/s; on: ${fmt(median(rates.sealed))} req/s (${CLIENTS} clients, max_tokens 1)`,
    );
    console.log(`on / off: ${median(ratios).toFixed(2)} (median of ${ROUNDS} alternating rounds; goal ≥ 0.95)`);

    // The kill switch under load.
    console.log("\n## kill switch: revoke → last served token, first refused request (default 10 s lease)");
    let stop = false;
    let lastServed = 0;
    let firstRefused = 0;
    const load = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (!stop) {
          const status = await completion(bases.sealed, d.apiKey);
          const now = performance.now();
          if (status === 200) lastServed = Math.max(lastServed, now);
          else if (status === 503 && firstRefused === 0) firstRefused = now;
          if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // The admin API called in process: the instant the revocation is committed, without a CLI's start-up.
    await new AdminClient(d.url, ADMIN_TOKEN).revoke("bench");
    const revokedAt = performance.now();
    while (firstRefused === 0 && performance.now() - revokedAt < 20_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop = true;
    await load;
    console.log(
      `revoke → last served: ${fmt(lastServed - revokedAt)} ms; → first refused: ${fmt(firstRefused - revokedAt)} ms (goal ≤ 11 000 ms: lease + 1 s)`,
    );
  } finally {
    await plain?.stop();
    await sealed?.stop();
  }
}

/** Renewals per second against `store`, with `GET /v1/health` on the same service as the floor. */
async function renewalRate(name: string, store: CustodianStore): Promise<void> {
  await store.addModel({
    id: "m",
    plaintextSha256: "ab".repeat(32),
    sealedSha256: null,
    threshold: 1,
    shareIndex: null,
    secret: new Uint8Array(randomBytes(32)),
  });
  await store.addDeployment({ id: "d", modelId: "m", policies: [] });
  await store.addConsumer("d", "c", "cd".repeat(32));
  const service = await startCustodianService({ store, adminToken: "t".repeat(32) });
  try {
    const ledger = new Ledger(store);
    await ledger.supply("d", "c", { inferences: Number.MAX_SAFE_INTEGER >> 1 });
    const { spki } = await ledger.leaseKey();
    const clients: { client: LeaseClient; used: number }[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const release = randomBytes(16).toString("hex");
      await store.recordRelease(
        release,
        { type: "release", deployment: "d", model: "m" },
        {
          tlsSpki: publicKey.export({ format: "der", type: "spki" }).toString("base64"),
          expiresAtMs: Date.now() + 1e9,
        },
      );
      clients.push({
        used: 0,
        client: new LeaseClient({
          grant: { custodian: service.url, release, leaseKey: spki },
          deployment: "d",
          sign: async (data) => new Uint8Array(sign("sha256", data, { key: privateKey, dsaEncoding: "der" })),
        }),
      });
    }
    const rate = async (op: (i: number) => Promise<unknown>) => {
      const end = performance.now() + ROUND_MS;
      let done = 0;
      await Promise.all(
        clients.map(async (_, i) => {
          while (performance.now() < end) {
            await op(i);
            done++;
          }
        }),
      );
      return (done * 1000) / ROUND_MS;
    };
    const renew = (i: number) => {
      const c = clients[i]!;
      c.used += 1;
      return c.client.renew(
        [{ consumer: "c", requests: c.used, promptTokens: c.used, completionTokens: c.used }],
        [{ consumer: "c", inferences: 16, tokens: 0 }],
      );
    };
    const health = async () => (await fetch(`${service.url}/v1/health`)).arrayBuffer();
    const ratios: number[] = [];
    const renewals: number[] = [];
    const floor: number[] = [];
    for (let r = 0; r < 3; r++) {
      const a = await rate(renew);
      const b = await rate(health);
      renewals.push(a);
      floor.push(b);
      ratios.push(a / b);
    }
    console.log(
      `${name}: ${fmt(median(renewals))} renewals/s vs ${fmt(median(floor))} health requests/s: ${median(ratios).toFixed(2)} (${CLIENTS} servers at once)`,
    );
  } finally {
    await service.close();
  }
}

export async function benchGovernance(): Promise<void> {
  console.log("\n## governance: serving throughput, metering and leases on vs off");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-bench-governance-"));
  let d: SealedDeployment | undefined;
  try {
    d = await setUpSealedDeployment(tmp);
    await servingBenches(d);
    console.log("\n## custodian: lease renewals (signed usage report + signed lease) per second");
    await renewalRate("SQLite", openSqliteStore(path.join(tmp, "renewals-sqlite")));
    const unavailable = postgresUnavailable();
    if (unavailable) console.log(`PostgreSQL: skipped (${unavailable})`);
    else {
      const cluster = await startPostgres();
      try {
        await renewalRate("PostgreSQL", await openPostgresStore(await cluster.createDatabase()));
      } finally {
        await cluster.stop();
      }
    }
  } finally {
    await d?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
