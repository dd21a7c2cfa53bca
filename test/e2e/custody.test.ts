/**
 * Model custody end to end, with real processes on loopback (issue 11): an
 * owner seals the model and runs custodians (`veritee custodian serve`, a
 * real SQLite database each), writes the deployment's policy with `veritee
 * measure`, and a borrower's `veritee serve --sealed-model` on the
 * development TPM gets the key only when its attestation passes:
 *
 * - the right policy: the model loads and answers, its plaintext on no disk,
 *   the key in no output or audit record;
 * - a policy for another configuration: refused with the failed claim, audited;
 * - a production policy (a vendor's EK root): the development TPM gets nothing;
 * - a revoked deployment: refused;
 * - three owners, k = 2: one refusing custodian still lets the model load, two block it;
 * - a custodian SIGKILLed while a release is in flight and restarted: the
 *   server retries and gets the key, the audit trail holds one release —
 *   on SQLite and on PostgreSQL (`DATABASE_URL`, a throwaway cluster).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { encodePemCertificate } from "@veritee/policy";
import { sharedPath } from "@veritee/testkit";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@veritee/testkit/postgres";
import { freePort, runVeritee, startVeritee, type VeriteeProcess } from "./support/process.js";

const MODEL = sharedPath("models", "stories260K.gguf");
const MODEL_ID = "stories260K";
const TOKEN = `admin-token-${Math.random().toString(36).slice(2)}-0123456789`;
const ADMIN = { VERITEE_ADMIN_TOKEN: TOKEN };

/** PostgreSQL runs under CI (root, where `npm test` installs it); elsewhere it may be missing. */
const pgSkip = process.getuid?.() === 0 ? undefined : postgresUnavailable();
let cluster: Promise<PostgresCluster> | undefined;
const postgres = () => (cluster ??= startPostgres());

let tmp: string;
let simPort: number;
const processes: VeriteeProcess[] = [];
const servers: Server[] = [];

function simArgs(): string[] {
  return ["--state-dir", path.join(tmp, "swtpm"), "--json"];
}

/** A fresh boot of the development TPM (PCR 15 back to zero: one launch per boot), on the same port. */
async function rebootTpm(): Promise<void> {
  await runVeritee(["tpm", "sim", "stop", ...simArgs()]);
  const r = await runVeritee(["tpm", "sim", "start", "--port", String(simPort), ...simArgs()]);
  assert.equal(r.code, 0, r.stderr);
}

const tpmFlag = () => ["--tpm", `swtpm:host=127.0.0.1,port=${simPort}`];

async function startCustodian(
  name: string,
  port = 0,
  env: Record<string, string> = {},
): Promise<VeriteeProcess & { url: string }> {
  const data = path.join(tmp, `custodian-${name}`);
  mkdirSync(data, { recursive: true });
  const proc = await startVeritee(["custodian", "serve", "--data", data, "--port", String(port)], {
    ready: /(http:\/\/127\.0\.0\.1:\d+)/,
    env: { ...ADMIN, ...env },
  });
  processes.push(proc);
  return Object.assign(proc, { url: proc.ready[1]! });
}

/** A consumer of `deployment` on `custodian` with a quota of `inferences`: its API key. */
async function consumer(custodian: string, deployment: string, id = "reader", inferences = 100): Promise<string> {
  const added = await admin("consumer", "add", "--custodian", custodian, "--deployment", deployment, "--id", id);
  await admin(
    ...["supply", "--custodian", custodian, "--deployment", deployment, "--consumer", id],
    ...["--inferences", String(inferences)],
  );
  return added.trim().split("\n").at(-1)!;
}

async function admin(...args: string[]): Promise<string> {
  const r = await runVeritee(["custodian", ...args], ADMIN);
  assert.equal(r.code, 0, `custodian ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** `veritee measure` for a sealed deployment: the policy the owner gives the custodian. */
async function policyFor(file: string, sealed: string, custodians: string, deployment: string, port: number) {
  const r = await runVeritee([
    ...["measure", "--sealed-model", sealed, "--custodian", custodians, "--deployment", deployment],
    ...["--port", String(port), ...tpmFlag(), "--development"],
    ...["--ek-root", path.join(tmp, "swtpm", "ca", "swtpm-localca-rootca-cert.pem")],
    ...["--ek-intermediate", path.join(tmp, "swtpm", "ca", "issuercert.pem")],
    ...["--write-policy", file],
  ]);
  assert.equal(r.code, 0, r.stderr);
  return file;
}

function serveArgs(sealed: string, custodians: string, deployment: string, port: number): string[] {
  return [
    ...["serve", ...tpmFlag(), "--port", String(port)],
    ...["--sealed-model", sealed, "--custodian", custodians, "--deployment", deployment],
  ];
}

/** Serve to the end (a refused release ends the server), after a fresh TPM boot. */
async function serveRefused(args: string[]) {
  await rebootTpm();
  return runVeritee(args, { TMPDIR: path.join(tmp, "server-tmp") });
}

async function serveAccepted(args: string[]): Promise<VeriteeProcess> {
  await rebootTpm();
  const proc = await startVeritee(args, {
    ready: /veritee server listening on (http:\/\/\S+)/,
    env: { TMPDIR: path.join(tmp, "server-tmp") },
    cwd: tmp,
    timeoutMs: 120_000,
  });
  processes.push(proc);
  return proc;
}

/** Every regular file under `dir`, recursively (unreadable ones skipped). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, name.name);
    if (name.isDirectory()) out.push(...filesUnder(p));
    else if (name.isFile()) out.push(p);
  }
  return out;
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-custody-e2e-"));
  mkdirSync(path.join(tmp, "server-tmp"));
  simPort = await freePort(true);
  const r = await runVeritee(["tpm", "sim", "start", "--port", String(simPort), ...simArgs()]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await Promise.all(processes.map((p) => p.stop("SIGKILL")));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await runVeritee(["tpm", "sim", "stop", ...simArgs()]);
  if (cluster) await (await cluster).stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe("one custodian", () => {
  let custodian: VeriteeProcess & { url: string };
  const sealed = () => path.join(tmp, "one.sealed");
  const keyFile = () => path.join(tmp, "one.key");
  let key: { secret: string };
  /** The port lab-1's policy was measured for. */
  let labPort = 0;

  before(async () => {
    custodian = await startCustodian("one");
    const r = await runVeritee(["model", "seal", "--in", MODEL, "--out", sealed(), "--key-out", keyFile()]);
    assert.equal(r.code, 0, r.stderr);
    key = JSON.parse(readFileSync(keyFile(), "utf8"));
    await admin("model", "add", "--custodian", custodian.url, "--key-file", keyFile());
  });

  test("the right policy releases the key: the model answers, its plaintext is on no disk, the key in no output", async () => {
    const port = await freePort();
    labPort = port;
    const policy = await policyFor(path.join(tmp, "one.policy.json"), sealed(), custodian.url, "lab-1", port);
    const wrong = await policyFor(path.join(tmp, "one-wrong.policy.json"), sealed(), custodian.url, "lab-1", port + 1);
    await admin(
      ...["deployment", "add", "--custodian", custodian.url, "--id", "lab-1", "--model-id", MODEL_ID],
      ...["--policy", wrong, "--policy", policy],
    );
    const apiKey = await consumer(custodian.url, "lab-1");
    const server = await serveAccepted(serveArgs(sealed(), custodian.url, "lab-1", port));
    const url = server.ready[1]!;
    const done = await runVeritee(
      ["complete", url, "--policy", policy, "--prompt", "Once upon a time", "--max-tokens", "8"],
      { VERITEE_API_KEY: apiKey },
    );
    assert.equal(done.code, 0, done.stderr);
    assert.ok(done.stdout.trim().length > 0);

    // No plaintext chunk in any file the server or the test could have written, and no named file in /dev/shm.
    const model = readFileSync(MODEL);
    const probe = model.subarray(model.length >> 1, (model.length >> 1) + 4096);
    for (const file of [...filesUnder(tmp), ...filesUnder("/dev/shm")]) {
      if (statSync(file).size > 64 << 20) continue;
      assert.ok(!readFileSync(file).includes(probe), `plaintext weights in ${file}`);
    }
    const keyBytes = Buffer.from(key.secret, "base64");
    const audit = await admin("audit", "--custodian", custodian.url, "--json");
    for (const text of [server.stdout(), server.stderr(), custodian.stdout(), custodian.stderr(), audit]) {
      assert.ok(!text.includes(key.secret) && !text.includes(keyBytes.toString("hex")), "the key is in an output");
      assert.ok(!text.includes(apiKey), "the consumer's API key is in an output");
    }
    const events = (JSON.parse(audit) as { events: { type: string; deployment?: string }[] }).events;
    assert.ok(events.some((e) => e.type === "release" && e.deployment === "lab-1"));
    assert.equal((await server.stop()) ?? 0, 0);
  });

  test("a policy for another configuration is refused, naming the claim, and audited; a revoked deployment gets nothing", async () => {
    const port = await freePort();
    const other = await policyFor(path.join(tmp, "other.policy.json"), sealed(), custodian.url, "lab-2", port + 1);
    await admin(
      ...["deployment", "add", "--custodian", custodian.url, "--id", "lab-2", "--model-id", MODEL_ID],
      ...["--policy", other],
    );
    const refused = await serveRefused(serveArgs(sealed(), custodian.url, "lab-2", port));
    assert.equal(refused.code, 19, refused.stderr);
    assert.match(refused.stderr, /launch\.configuration/);
    const audit = JSON.parse(await admin("audit", "--custodian", custodian.url, "--json")) as {
      events: { type: string; deployment?: string; claim?: string }[];
    };
    assert.ok(
      audit.events.some((e) => e.type === "refusal" && e.deployment === "lab-2" && e.claim === "launch.configuration"),
    );
    const table = await admin("audit", "--custodian", custodian.url);
    assert.match(table, /lab-2/);

    // A tampered sealed file is another sealed file: its digest is measured, so the policy refuses it before any key.
    const tampered = path.join(tmp, "one-tampered.sealed");
    const bytes = readFileSync(sealed());
    bytes[bytes.length - 100]! ^= 0x01;
    writeFileSync(tampered, bytes);
    const tamperedRun = await serveRefused(serveArgs(tampered, custodian.url, "lab-1", labPort));
    assert.equal(tamperedRun.code, 19, tamperedRun.stderr);
    assert.match(tamperedRun.stderr, /launch\.configuration/);

    // The same measurements under a production policy (a vendor's EK root, measured boot): the development TPM gets nothing.
    const production = JSON.parse(readFileSync(path.join(tmp, "one.policy.json"), "utf8")) as {
      development: boolean;
      description: string;
      trust: { ekRoots: unknown[]; ekIntermediates: unknown[] };
      boot: { sha256: Record<string, string> };
    };
    production.development = false;
    production.description = "Production: Google's vTPM EK root, measured boot.";
    production.trust.ekRoots = [
      {
        name: "Google vTPM EK root",
        pem: encodePemCertificate(
          new Uint8Array(readFileSync(sharedPath("vectors", "tpm", "gce", "ca", "tpm_ek_root_1.cer"))),
        ),
      },
    ];
    production.trust.ekIntermediates = [];
    for (const pcr of Object.keys(production.boot.sha256)) production.boot.sha256[pcr] = "1f".repeat(32);
    const productionFile = path.join(tmp, "production.policy.json");
    writeFileSync(productionFile, JSON.stringify(production));
    await admin(
      ...["deployment", "add", "--custodian", custodian.url, "--id", "prod-1", "--model-id", MODEL_ID],
      ...["--policy", productionFile],
    );
    const dev = await serveRefused(serveArgs(sealed(), custodian.url, "prod-1", labPort));
    assert.equal(dev.code, 19, dev.stderr);
    assert.match(dev.stderr, /failed claim verification\./);
    const refusals = (
      JSON.parse(await admin("audit", "--custodian", custodian.url, "--json")) as {
        events: { type: string; deployment?: string; claim?: string }[];
      }
    ).events.filter((e) => e.type === "refusal" && e.deployment === "prod-1");
    assert.equal(refusals.length, 1);
    assert.match(refusals[0]!.claim ?? "", /^verification\./);

    await admin("revoke", "--custodian", custodian.url, "--deployment", "lab-1");
    const revoked = await serveRefused(serveArgs(sealed(), custodian.url, "lab-1", labPort));
    assert.equal(revoked.code, 19, revoked.stderr);
    assert.match(revoked.stderr, /revoked/);
  });
});

describe("three owners, k = 2", () => {
  const custodians: (VeriteeProcess & { url: string })[] = [];
  const sealed = () => path.join(tmp, "shared.sealed");
  let owners = "";

  before(async () => {
    for (const name of ["a", "b", "c"]) custodians.push(await startCustodian(name));
    owners = custodians.map((c) => c.url).join(",");
    const shares = path.join(tmp, "shares");
    mkdirSync(shares);
    const r = await runVeritee([
      ...["model", "seal", "--in", MODEL, "--out", sealed(), "--model-id", MODEL_ID],
      ...["--owners", owners, "--threshold", "2", "--key-out", shares],
    ]);
    assert.equal(r.code, 0, r.stderr);
    for (const [i, c] of custodians.entries()) {
      await admin(
        "model",
        "add",
        "--custodian",
        c.url,
        "--key-file",
        path.join(shares, `${MODEL_ID}.share-${i + 1}.key`),
      );
    }
  });

  test("one refusing custodian still lets the model load; two refusing block it", async () => {
    const port = await freePort();
    const good = (d: string) => policyFor(path.join(tmp, `${d}.policy.json`), sealed(), owners, d, port);
    const bad = (d: string) => policyFor(path.join(tmp, `${d}-bad.policy.json`), sealed(), owners, d, port + 1);
    const add = (c: { url: string }, d: string, policy: string) =>
      admin("deployment", "add", "--custodian", c.url, "--id", d, "--model-id", MODEL_ID, "--policy", policy);
    const [a, b, c] = custodians as [(typeof custodians)[0], (typeof custodians)[0], (typeof custodians)[0]];
    await add(a, "k-one-bad", await good("k-one-bad"));
    await add(b, "k-one-bad", await bad("k-one-bad"));
    await add(c, "k-one-bad", await good("k-one-bad"));
    // The lease comes from the first owner named that released: a. A 2-of-3 model's quota takes two owners'
    // approvals there (multi-party control): the owners' keys, registered once, then two approvals of the supply.
    const keys = ["a", "b", "c"].map((o) => path.join(tmp, `owner-${o}.key`));
    const publicKeys: string[] = [];
    for (const key of keys) publicKeys.push((await admin("owner", "keygen", "--out", key)).trim().split("\n").at(-1)!);
    await admin(
      ...["owner", "set", "--custodian", a.url, "--model-id", MODEL_ID],
      ...publicKeys.flatMap((k, i) => ["--owner", `${"abc"[i]}=${k}`]),
    );
    const added = await admin("consumer", "add", "--custodian", a.url, "--deployment", "k-one-bad", "--id", "reader");
    const apiKey = added.trim().split("\n").at(-1)!;
    const supply = ["--deployment", "k-one-bad", "--consumer", "reader", "--inferences", "10"];
    const approvals: string[] = [];
    for (const i of [0, 2]) {
      const approved = await admin(
        "approve",
        "--owner-key",
        keys[i]!,
        "--owner",
        "abc"[i]!,
        "--action",
        "supply",
        ...supply,
      );
      approvals.push("--approval", approved.trim().split("\n").at(-1)!);
    }
    await admin("supply", "--custodian", a.url, ...supply, ...approvals);
    const server = await serveAccepted(serveArgs(sealed(), owners, "k-one-bad", port));
    const done = await runVeritee(
      [
        ...["complete", server.ready[1]!, "--policy", path.join(tmp, "k-one-bad.policy.json")],
        ...["--prompt", "Once", "--max-tokens", "4"],
      ],
      { VERITEE_API_KEY: apiKey },
    );
    assert.equal(done.code, 0, done.stderr);
    await server.stop();
    // No share, in any encoding, in what the server or the custodians printed.
    const outputs = [server, ...custodians].flatMap((p) => [p.stdout(), p.stderr()]).join("\n");
    for (let i = 1; i <= 3; i++) {
      const share = (
        JSON.parse(readFileSync(path.join(tmp, "shares", `${MODEL_ID}.share-${i}.key`), "utf8")) as { secret: string }
      ).secret;
      assert.ok(
        !outputs.includes(share) && !outputs.includes(Buffer.from(share, "base64").toString("hex")),
        `share ${i} in an output`,
      );
    }

    await add(a, "k-two-bad", await bad("k-two-bad"));
    await add(b, "k-two-bad", await good("k-two-bad"));
    await add(c, "k-two-bad", await bad("k-two-bad"));
    const blocked = await serveRefused(serveArgs(sealed(), owners, "k-two-bad", port));
    assert.equal(blocked.code, 19, blocked.stderr);
    assert.match(blocked.stderr, /not-enough-shares/);
  });
});

// The same crash on both database engines: SQLite in the data directory, PostgreSQL through DATABASE_URL.
for (const engine of ["sqlite", "postgres"] as const) {
  describe(`a custodian killed during a release (${engine})`, {
    skip: engine === "postgres" ? pgSkip : undefined,
  }, () => {
    test("restarted on its database, it releases to the retrying server; the audit has one release and no half-written one", async () => {
      const env: Record<string, string> =
        engine === "postgres" ? { DATABASE_URL: await (await postgres()).createDatabase() } : {};
      const deployment = `crash-${engine}`;
      const custodianPort = await freePort();
      let custodian = await startCustodian(`killed-${engine}`, custodianPort, env);
      const sealed = path.join(tmp, `killed-${engine}.sealed`);
      const keyFile = path.join(tmp, `killed-${engine}.key`);
      const r = await runVeritee(["model", "seal", "--in", MODEL, "--out", sealed, "--key-out", keyFile]);
      assert.equal(r.code, 0, r.stderr);
      await admin("model", "add", "--custodian", custodian.url, "--key-file", keyFile);

      // The server reaches the custodian through this relay, which SIGKILLs the custodian when the first
      // activation arrives (the challenge is outstanding, the release half done) and restarts it.
      let killed = false;
      const relay = createServer((req, res) => {
        const forward = () => {
          const upstream = request(
            { host: "127.0.0.1", port: custodianPort, path: req.url, method: req.method, headers: req.headers },
            (answer) => {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
            },
          );
          upstream.on("error", () => res.destroy());
          req.pipe(upstream);
        };
        if (!killed && req.url === "/v1/release/activate") {
          killed = true;
          void custodian.stop("SIGKILL").then(async () => {
            res.destroy();
            custodian = await startCustodian(`killed-${engine}`, custodianPort, env);
          });
          return;
        }
        forward();
      });
      servers.push(relay);
      await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
      const relayUrl = `http://127.0.0.1:${(relay.address() as { port: number }).port}`;

      const port = await freePort();
      const policy = await policyFor(
        path.join(tmp, `killed-${engine}.policy.json`),
        sealed,
        relayUrl,
        deployment,
        port,
      );
      await admin(
        ...["deployment", "add", "--custodian", custodian.url, "--id", deployment, "--model-id", MODEL_ID],
        ...["--policy", policy],
      );
      const server = await serveAccepted(serveArgs(sealed, relayUrl, deployment, port));
      assert.ok(killed, "the custodian was killed during the release");
      const audit = JSON.parse(await admin("audit", "--custodian", custodian.url, "--json")) as {
        events: { seq: number; type: string; deployment?: string }[];
      };
      assert.equal(audit.events.filter((e) => e.type === "release" && e.deployment === deployment).length, 1);
      const seqs = audit.events.map((e) => e.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
        "the audit trail is in order",
      );
      await server.stop();
    });
  });
}
