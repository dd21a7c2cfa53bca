/**
 * Usage governance end to end (issue 12), with real processes on loopback:
 * one custodian (`veritee custodian serve`, SQLite, then PostgreSQL), two
 * attested replicas of one deployment (`veritee serve --sealed-model`, each
 * on its own development TPM), consumers with API keys and quotas:
 *
 * - exactness: 200 concurrent requests against a quota of 100 inferences,
 *   spread over both replicas, serve exactly 100 and refuse exactly 100 with
 *   `insufficient_quota`, and the ledger says 100 — on both engines, and on
 *   PostgreSQL with each replica renewing at its own custodian process;
 * - a token quota: the last answer is cut (`finish_reason: "length"`), the
 *   next refused, the ledger equals what the answers reported;
 * - what consumers see: `x-veritee-quota-remaining`, `GET /v1/quota`, the
 *   CLI's chat; 401 without a key or with another deployment's;
 * - the slow-down switch (tokens per second, requests per minute);
 * - the custodian stopped: serving stops at lease expiry (measured) and
 *   resumes by itself once it is back;
 * - the kill switch: both replicas stop within the lease + 1 s (measured);
 * - canaries: no prompt or API key in the custodian's database or output.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { sharedPath } from "@veritee/testkit";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@veritee/testkit/postgres";
import { runCli } from "./support/cli.js";
import { freePort, runVeritee, startVeritee, type VeriteeProcess } from "./support/process.js";

const MODEL = sharedPath("models", "stories260K.gguf");
const MODEL_ID = "stories260K";
const TOKEN = `admin-token-${Math.random().toString(36).slice(2)}-0123456789`;
const ADMIN = { VERITEE_ADMIN_TOKEN: TOKEN };
/** The lease these tests run with (the default is 10 s; shorter keeps the switches' tests short). */
const LEASE_SECONDS = 3;
const CANARY = "CANARY-governance-7f3a9c";

const pgSkip = process.getuid?.() === 0 ? undefined : postgresUnavailable();
let cluster: Promise<PostgresCluster> | undefined;

let tmp: string;
const processes: VeriteeProcess[] = [];
/** Two development TPMs, one per replica. */
const sims: { port: number; dir: string }[] = [];

const simArgs = (i: number) => ["--state-dir", sims[i]!.dir, "--json"];

async function rebootTpm(i: number): Promise<void> {
  await runVeritee(["tpm", "sim", "stop", ...simArgs(i)]);
  const r = await runVeritee(["tpm", "sim", "start", "--port", String(sims[i]!.port), ...simArgs(i)]);
  assert.equal(r.code, 0, r.stderr);
}

const tpmFlag = (i: number) => ["--tpm", `swtpm:host=127.0.0.1,port=${sims[i]!.port}`];

async function admin(...args: string[]): Promise<string> {
  const r = await runVeritee(["custodian", ...args], ADMIN);
  assert.equal(r.code, 0, `custodian ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function startCustodian(data: string, port: number, env: Record<string, string>) {
  const proc = await startVeritee(["custodian", "serve", "--data", data, "--port", String(port)], {
    ready: /(http:\/\/127\.0\.0\.1:\d+)/,
    env: { ...ADMIN, ...env },
  });
  processes.push(proc);
  return proc;
}

/** One OpenAI request in clear (the policy allows plain HTTP), with the consumer's key. */
async function call(base: string, key: string | undefined, route: string, body?: unknown) {
  const response = await fetch(`${base}${route}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: { error?: { code?: string }; [k: string]: unknown } = {};
  try {
    json = JSON.parse(text);
  } catch {
    // a stream
  }
  return { status: response.status, headers: response.headers, json, text };
}

const complete = (base: string, key: string, extra: Record<string, unknown> = {}) =>
  call(base, key, "/v1/completions", { model: MODEL_ID, prompt: `${CANARY} Once`, max_tokens: 1, ...extra });

/** Poll `fn` every 100 ms until it is true; the ms it took. */
async function until(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await fn()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-governance-e2e-"));
  mkdirSync(path.join(tmp, "server-tmp"));
  for (const name of ["a", "b"]) {
    const sim = { port: await freePort(true), dir: path.join(tmp, `swtpm-${name}`) };
    sims.push(sim);
    const r = await runVeritee(["tpm", "sim", "start", "--port", String(sim.port), ...simArgs(sims.length - 1)]);
    assert.equal(r.code, 0, r.stderr);
  }
  const r = await runVeritee(["model", "seal", "--in", MODEL, "--out", sealedFile(), "--key-out", keyFile()]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await Promise.all(processes.map((p) => p.stop("SIGKILL")));
  for (let i = 0; i < sims.length; i++) await runVeritee(["tpm", "sim", "stop", ...simArgs(i)]);
  if (cluster) await (await cluster).stop();
  rmSync(tmp, { recursive: true, force: true });
});

const sealedFile = () => path.join(tmp, "gov.sealed");
const keyFile = () => path.join(tmp, "gov.key");

/** A custodian with deployment `gov` served by two replicas, and its consumers. */
interface Setup {
  custodian: VeriteeProcess;
  custodianUrl: string;
  restartCustodian(): Promise<void>;
  replicas: { proc: VeriteeProcess; base: string; policy: string; restart(): Promise<void> }[];
  keys: Record<string, string>;
}

async function setUp(engine: "sqlite" | "postgres"): Promise<Setup> {
  if (engine === "postgres") cluster ??= startPostgres();
  const env: Record<string, string> =
    cluster && engine === "postgres" ? { DATABASE_URL: await (await cluster).createDatabase() } : {};
  const data = path.join(tmp, `custodian-${engine}`);
  mkdirSync(data, { recursive: true });
  const custodianPort = await freePort();
  const custodian = await startCustodian(data, custodianPort, env);
  const url = custodian.ready[1]!;
  // On PostgreSQL a second custodian process shares the database: replica 1 talks to it, replica 0 to the first,
  // so exactness holds across custodian processes by transactions alone (no in-process lock is shared).
  const urls = [url, url];
  if (engine === "postgres") {
    const second = path.join(tmp, `custodian-${engine}-2`);
    mkdirSync(second, { recursive: true });
    urls[1] = (await startCustodian(second, await freePort(), env)).ready[1]!;
  }
  await admin("model", "add", "--custodian", url, "--key-file", keyFile());
  const ports = [await freePort(), await freePort()];
  const policies: string[] = [];
  for (const [i, port] of ports.entries()) {
    const file = path.join(tmp, `${engine}-replica-${i}.policy.json`);
    const r = await runVeritee([
      ...["measure", "--sealed-model", sealedFile(), "--custodian", urls[i]!, "--deployment", "gov"],
      ...["--port", String(port), ...tpmFlag(i), "--development"],
      ...["--ek-root", path.join(sims[i]!.dir, "ca", "swtpm-localca-rootca-cert.pem")],
      ...["--ek-intermediate", path.join(sims[i]!.dir, "ca", "issuercert.pem")],
      ...["--write-policy", file],
    ]);
    assert.equal(r.code, 0, r.stderr);
    policies.push(file);
  }
  await admin(
    ...["deployment", "add", "--custodian", url, "--id", "gov", "--model-id", MODEL_ID],
    ...policies.flatMap((p) => ["--policy", p]),
  );
  await admin(
    ...["deployment", "add", "--custodian", url, "--id", "gov-other", "--model-id", MODEL_ID],
    ...["--policy", policies[0]!],
  );
  await admin("throttle", "--custodian", url, "--deployment", "gov", "--lease-seconds", String(LEASE_SECONDS));
  const keys: Record<string, string> = {};
  for (const [deployment, id] of [
    ["gov", "alice"],
    ["gov", "bob"],
    ["gov", "carol"],
    ["gov", "erin"],
    ["gov", "frank"],
    ["gov-other", "dave"],
  ] as const) {
    const out = await admin("consumer", "add", "--custodian", url, "--deployment", deployment, "--id", id);
    keys[id] = out.trim().split("\n").at(-1)!;
  }
  const supply = (id: string, ...amount: string[]) =>
    admin("supply", "--custodian", url, "--deployment", "gov", "--consumer", id, ...amount);
  await supply("alice", "--inferences", "100");
  await supply("bob", "--tokens", "300");
  await supply("carol", "--inferences", "1000");
  await supply("erin", "--inferences", "100000");
  await supply("frank", "--inferences", "40");

  const replicas: Setup["replicas"] = [];
  const serve = async (i: number) => {
    // One launch per boot: a (re)started replica gets a fresh TPM boot, and so attests anew.
    await rebootTpm(i);
    const proc = await startVeritee(
      [
        ...["serve", ...tpmFlag(i), "--port", String(ports[i]!)],
        ...["--sealed-model", sealedFile(), "--custodian", urls[i]!, "--deployment", "gov"],
      ],
      {
        ready: /veritee server listening on (http:\/\/\S+)/,
        env: { TMPDIR: path.join(tmp, "server-tmp") },
        cwd: tmp,
        timeoutMs: 120_000,
      },
    );
    processes.push(proc);
    return proc;
  };
  for (const i of [0, 1]) {
    const proc = await serve(i);
    const replica: Setup["replicas"][number] = {
      proc,
      base: proc.ready[1]!.replace(/\/v1\/?$/, ""),
      policy: policies[i]!,
      async restart() {
        replica.proc = await serve(i);
      },
    };
    replicas.push(replica);
  }
  const setup: Setup = {
    custodian,
    custodianUrl: url,
    replicas,
    keys,
    async restartCustodian() {
      setup.custodian = await startCustodian(data, custodianPort, env);
    },
  };
  return setup;
}

async function usageOf(url: string, consumer: string) {
  const out = await admin("usage", "--custodian", url, "--deployment", "gov", "--consumer", consumer, "--json");
  return (JSON.parse(out) as { usage: { requests: number; promptTokens: number; completionTokens: number }[] })
    .usage[0]!;
}

for (const engine of ["sqlite", "postgres"] as const) {
  describe(`governance, two replicas and one custodian (${engine})`, {
    skip: engine === "postgres" ? pgSkip : undefined,
  }, () => {
    let s: Setup;
    before(async () => {
      s = await setUp(engine);
    });
    after(async () => {
      for (const r of s?.replicas ?? []) await r.proc.stop("SIGKILL");
    });

    test("200 concurrent requests against 100 inferences over two replicas: exactly 100 served, 100 refused, 100 in the ledger", async () => {
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const base = s.replicas[i % 2]!.base;
          // Capacity refusals (the engine's queue, the handler's concurrency) are not quota refusals: retried.
          for (;;) {
            const r = await complete(base, s.keys.alice!);
            if (r.status === 429 && r.json.error?.code !== "insufficient_quota") {
              await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
              continue;
            }
            return r;
          }
        }),
      );
      const served = outcomes.filter((o) => o.status === 200).length;
      const refused = outcomes.filter((o) => o.status === 429 && o.json.error?.code === "insufficient_quota");
      assert.equal(served, 100, `statuses: ${outcomes.map((o) => o.status).join(",")}`);
      assert.equal(refused.length, 100);
      assert.equal((refused[0]!.json.error as { type?: string }).type, "insufficient_quota");
      // Reported with the next renewals (every third of the lease).
      await until(async () => (await usageOf(s.custodianUrl, "alice")).requests === 100, 10_000, "the ledger says 100");
      await new Promise((resolve) => setTimeout(resolve, LEASE_SECONDS * 1000));
      assert.equal((await usageOf(s.custodianUrl, "alice")).requests, 100, "and stays at 100");
    });

    if (engine === "postgres") return;

    test("a token quota cuts the last answer (finish_reason length), refuses the next, and the ledger equals the answers", async () => {
      const base = s.replicas[0]!.base;
      let total = 0;
      let lastPrompt = 0;
      const reasons: string[] = [];
      for (let i = 0; i < 50; i++) {
        const r = await call(base, s.keys.bob!, "/v1/completions", {
          model: MODEL_ID,
          prompt: `${CANARY} Once upon a time`,
          max_tokens: 64,
          stream: true,
          stream_options: { include_usage: true },
        });
        if (r.status === 429) {
          assert.equal(r.json.error?.code, "insufficient_quota");
          break;
        }
        assert.equal(r.status, 200, r.text);
        const events = r.text
          .split("\n")
          .filter((l) => l.startsWith("data: ") && l !== "data: [DONE]")
          .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
        const usage = events.find((e) => e.usage)?.usage as { prompt_tokens: number; completion_tokens: number };
        const finish = events.flatMap((e) => (e.choices as { finish_reason?: string | null }[] | undefined) ?? []);
        reasons.push(String(finish.find((c) => c.finish_reason)?.finish_reason));
        total += usage.prompt_tokens + usage.completion_tokens;
        lastPrompt = usage.prompt_tokens;
      }
      assert.ok(total >= 300 - 64 && total <= 300 + lastPrompt, `used ${total} of 300`);
      assert.equal(reasons.at(-1), "length");
      await until(
        async () => {
          const u = await usageOf(s.custodianUrl, "bob");
          return u.promptTokens + u.completionTokens === total;
        },
        10_000,
        "the ledger counts what the answers reported",
      );
    });

    test("consumers see what is left; no key, or another deployment's key, is 401", async () => {
      const base = s.replicas[1]!.base;
      const r = await complete(base, s.keys.carol!);
      assert.equal(r.status, 200);
      assert.match(r.headers.get("x-veritee-quota-remaining") ?? "", /^inferences=\d+$/);
      const quota = await call(base, s.keys.carol, "/v1/quota");
      assert.equal(quota.status, 200);
      assert.equal(quota.json.consumer, "carol");
      assert.equal(quota.json.deployment, "gov");
      assert.ok(typeof quota.json.inferences === "number" && quota.json.inferences <= 999);
      assert.equal(quota.json.tokens, null);
      assert.equal((await complete(base, "")).status, 401);
      const other = await complete(base, s.keys.dave!);
      assert.equal(other.status, 401);
      assert.equal(other.json.error?.code, "invalid_api_key");
      // The CLI's chat, through the sealed channel: the header is inside the sealed response.
      const chat = await runCli(
        ["chat", `${base}/v1`, "--policy", s.replicas[1]!.policy, "--max-tokens", "4"],
        `${CANARY} hello\n/exit\n`,
        { VERITEE_API_KEY: s.keys.carol! },
      );
      assert.equal(chat.code, 0, chat.stderr);
      assert.match(chat.stderr, /\(quota left: inferences=\d+\)/);
    });

    test("the slow-down switch: tokens per second for the deployment, requests per minute per consumer", async () => {
      const base = s.replicas[0]!.base;
      const url = s.custodianUrl;
      await admin("throttle", "--custodian", url, "--deployment", "gov", "--tokens-per-second", "4");
      // Applied at the next renewal (every third of the lease).
      await new Promise((resolve) => setTimeout(resolve, (LEASE_SECONDS * 1000) / 2));
      const started = performance.now();
      const slow = await call(base, s.keys.carol!, "/v1/completions", {
        model: MODEL_ID,
        prompt: "Once upon a time",
        max_tokens: 9,
        stream: true,
        stream_options: { include_usage: true },
      });
      const ms = performance.now() - started;
      const usage = slow.text.match(/"completion_tokens":(\d+)/);
      const tokens = Number(usage?.[1] ?? 0);
      if (tokens >= 5) assert.ok(ms >= ((tokens - 1) / 4) * 1000 * 0.9, `${tokens} tokens in ${ms} ms at 4/s`);
      await admin(
        ...["throttle", "--custodian", url, "--deployment", "gov"],
        ...["--tokens-per-second", "none", "--requests-per-minute", "2"],
      );
      await new Promise((resolve) => setTimeout(resolve, (LEASE_SECONDS * 1000) / 2));
      const statuses = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 3; i++) {
        const r = await complete(base, s.keys.carol!);
        statuses.push(r.status);
        if (r.status === 429) retryAfter = r.headers.get("retry-after");
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      assert.match(retryAfter ?? "", /^\d+$/);
      await admin("throttle", "--custodian", url, "--deployment", "gov", "--requests-per-minute", "none");
      await new Promise((resolve) => setTimeout(resolve, (LEASE_SECONDS * 1000) / 2));
    });

    test("the custodian SIGKILLed under load and restarted: every served request is counted once, none beyond a lease", async () => {
      let stop = false;
      let served = 0;
      const before = (await usageOf(s.custodianUrl, "erin")).requests;
      const load = Promise.all(
        s.replicas.flatMap((r) =>
          [0, 1].map(async () => {
            while (!stop) {
              const status = (await complete(r.base, s.keys.erin!)).status;
              if (status === 200) served++;
              else await new Promise((resolve) => setTimeout(resolve, 50));
            }
          }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await s.custodian.stop("SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await s.restartCustodian();
      // Load goes on through the restart (and any lease lost meanwhile) until both replicas serve again.
      for (const r of s.replicas) {
        await until(async () => (await complete(r.base, s.keys.erin!)).status === 200, 60_000, "serving again");
        served++;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      stop = true;
      await load;
      assert.ok(served > 0);
      // Every request served is reported — re-sent after the restart where its report was lost — and counted once.
      await until(
        async () => (await usageOf(s.custodianUrl, "erin")).requests - before === served,
        (LEASE_SECONDS + 5) * 1000,
        `the ledger counts the ${served} served`,
      );
    });

    test("a replica SIGKILLed and restarted re-attests; what it reported stays, its unused block returns at lease expiry", async () => {
      const [a, b] = s.replicas as [Setup["replicas"][number], Setup["replicas"][number]];
      for (let i = 0; i < 10; i++) assert.equal((await complete(b.base, s.keys.frank!)).status, 200);
      await until(async () => (await usageOf(s.custodianUrl, "frank")).requests === 10, 10_000, "b reported its 10");
      const releases = async () =>
        (
          JSON.parse(await admin("audit", "--custodian", s.custodianUrl, "--json")) as {
            events: { type: string; deployment?: string }[];
          }
        ).events.filter((e) => e.type === "release" && e.deployment === "gov").length;
      const releasedBefore = await releases();
      await b.proc.stop("SIGKILL");
      const killedAt = performance.now();
      // a serves the other 30 of frank's 40: at once what b does not hold, the rest once b's lease has expired.
      let servedByA = 0;
      while (servedByA < 30 && performance.now() - killedAt < (LEASE_SECONDS + 10) * 1000) {
        const r = await complete(a.base, s.keys.frank!);
        if (r.status === 200) servedByA++;
        else {
          assert.equal(r.json.error?.code, "insufficient_quota");
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      assert.equal(servedByA, 30, "b's unused block came back");
      const refused = await complete(a.base, s.keys.frank!);
      assert.equal(refused.json.error?.code, "insufficient_quota", "and not one more");
      await until(async () => (await usageOf(s.custodianUrl, "frank")).requests === 40, 10_000, "the ledger says 40");
      await b.restart();
      b.base = b.proc.ready[1]!.replace(/\/v1\/?$/, "");
      assert.equal((await complete(b.base, s.keys.carol!)).status, 200);
      assert.equal(await releases(), releasedBefore + 1, "the restarted replica attested again for its key");
    });

    test("the custodian stopped: serving stops at lease expiry, and resumes by itself once it is back", async () => {
      const base = s.replicas[0]!.base;
      assert.equal((await complete(base, s.keys.carol!)).status, 200);
      await s.custodian.stop("SIGKILL");
      const stoppedAfter = await until(
        async () => {
          const r = await complete(base, s.keys.carol!);
          if (r.status === 503) assert.equal(r.json.error?.code, "model_unavailable");
          return r.status === 503;
        },
        (LEASE_SECONDS + 5) * 1000,
        "serving stops",
      );
      assert.ok(
        stoppedAfter <= (LEASE_SECONDS + 1) * 1000,
        `stopped ${Math.round(stoppedAfter)} ms after the custodian`,
      );
      await s.restartCustodian();
      await until(async () => (await complete(base, s.keys.carol!)).status === 200, 60_000, "serving resumes");
      const audit = JSON.parse(await admin("audit", "--custodian", s.custodianUrl, "--json")) as {
        events: { type: string; deployment?: string }[];
      };
      assert.ok(audit.events.filter((e) => e.type === "release" && e.deployment === "gov").length >= 3, "re-attested");
    });

    test("the kill switch: both replicas stop within the lease + 1 s; nothing of a prompt or key is in the custodian's books", async () => {
      for (const r of s.replicas) {
        await until(async () => (await complete(r.base, s.keys.carol!)).status === 200, 60_000, "serving");
      }
      // While serving, the engine maps the plaintext from its RAM file (so the check after the revocation means something).
      for (const r of s.replicas) {
        assert.ok(readFileSync(`/proc/${r.proc.child.pid}/maps`, "utf8").includes(".veritee-model-"));
      }
      await admin("revoke", "--custodian", s.custodianUrl, "--deployment", "gov");
      const elapsed = await Promise.all(
        s.replicas.map((r) =>
          until(async () => (await complete(r.base, s.keys.carol!)).status === 503, 15_000, "revoked"),
        ),
      );
      for (const ms of elapsed) assert.ok(ms <= (LEASE_SECONDS + 1) * 1000, `stopped after ${Math.round(ms)} ms`);
      // Unloaded, not only refused: no replica maps a plaintext RAM file any more.
      for (const r of s.replicas) {
        const maps = readFileSync(`/proc/${r.proc.child.pid}/maps`, "utf8");
        assert.ok(!maps.includes(".veritee-model-"), "the model's plaintext is still mapped after the revocation");
      }

      const metrics = await fetch(`${s.custodianUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const text = await metrics.text();
      assert.match(text, /veritee_custodian_lease_renewals_total\{status="active"\} \d+/);
      const data = path.join(tmp, "custodian-sqlite");
      const books = readdirSync(data)
        .map((f) => readFileSync(path.join(data, f)).toString("latin1"))
        .join("\n");
      const outputs = [s.custodian.stdout(), s.custodian.stderr(), text, books];
      for (const r of s.replicas) outputs.push(r.proc.stdout(), r.proc.stderr());
      for (const out of outputs) {
        assert.ok(!out.includes(CANARY), "a prompt is in the custodian's books or an output");
        for (const key of Object.values(s.keys))
          assert.ok(!out.includes(key), "an API key is in the books or an output");
      }
    });
  });
}
