// `npm run demo:lending`: lending a model, on the embedded default, on this machine alone.
//  1. the owner seals the model, starts a custodian (SQLite) that holds its key,
//     computes the deployment's policy, adds a consumer and supplies it a quota;
//  2. the borrower starts an attested server on the sealed file: it attests to
//     the custodian, gets the key, unseals into RAM, and holds a lease;
//  3. the consumer verifies the server, chats through the sealed channel and
//     sees its quota fall (`x-veritee-quota-remaining`, `GET /v1/quota`);
//  4. the owner throttles the deployment (tokens per second): the next answer
//     comes slower; then revokes it: the server stops serving within its
//     lease, and the consumer is refused (503 model_unavailable).
// Everything runs in .veritee/demo-lending and is stopped at the end.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { ensureAll } from "./ensure-env.mjs";

ensureAll();

const { connect } = await import("@veritee/client/node");
const { isLoaderVariable } = await import("@veritee/server");

const BIN = "packages/cli/bin/veritee.js";
const MODEL = path.join("..", "shared", "models", "stories260K.gguf");
const dir = path.join(".veritee", "demo-lending");
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
// The server refuses loader variables (NODE_OPTIONS, SSL_CERT_FILE, …) this shell may carry: none go to any child.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !isLoaderVariable(name)));
const token = randomBytes(32).toString("base64url");
const ownerEnv = { ...cleanEnv, VERITEE_ADMIN_TOKEN: token };
const borrowerEnv = { ...cleanEnv };
delete borrowerEnv.VERITEE_ADMIN_TOKEN;
delete borrowerEnv.VERITEE_API_KEY;

const children = [];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Run `veritee ARGS…` to its end; its stdout, or an error with its stderr. */
function veritee(args, env = ownerEnv) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("close", (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`veritee ${args[0]} ${args[1] ?? ""} exited ${code}: ${err.trim()}`)),
    );
  });
}

/** Start a long-running `veritee` process, logging to `log`, resolved once stdout matches `ready`. */
function start(args, env, ready, log) {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", openSync(log, "w")] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout.on("data", (chunk) => {
      seen += chunk;
      const m = ready.exec(seen);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`veritee ${args[0]} exited with code ${code} (see ${log})`)));
  });
}

const say = (text) => console.log(`\n== ${text}`);
const show = (text) =>
  console.log(
    text
      .trimEnd()
      .split("\n")
      .map((l) => `   ${l}`)
      .join("\n"),
  );

let failed = false;
const simState = ["--state-dir", path.join(dir, "swtpm"), "--json"];
try {
  say("owner: a custodian holding the model's key (SQLite in .veritee/demo-lending/custodian)");
  const custodianPort = await freePort();
  const custodian = await start(
    ["custodian", "serve", "--data", path.join(dir, "custodian"), "--port", String(custodianPort)],
    ownerEnv,
    /(http:\/\/127\.0\.0\.1:\d+)/,
    path.join(dir, "custodian.log"),
  );
  const c = ["--custodian", custodian];
  const sealed = path.join(dir, "stories.sealed");
  show(await veritee(["model", "seal", "--in", MODEL, "--out", sealed, ...c]));

  say("owner: the deployment's policy, computed from the source and the sealed file alone");
  const simPort = await freePort();
  await veritee(["tpm", "sim", "start", "--port", String(simPort), ...simState]);
  const tpm = ["--tpm", `swtpm:host=127.0.0.1,port=${simPort}`];
  const port = await freePort();
  const policy = path.join(dir, "lab.policy.json");
  await veritee([
    ...["measure", "--sealed-model", sealed, ...c, "--deployment", "lab", "--port", String(port), ...tpm],
    ...["--development", "--write-policy", policy],
    ...["--ek-root", path.join(dir, "swtpm", "ca", "swtpm-localca-rootca-cert.pem")],
    ...["--ek-intermediate", path.join(dir, "swtpm", "ca", "issuercert.pem")],
  ]);
  show(
    await veritee([
      "custodian",
      "deployment",
      "add",
      ...c,
      "--id",
      "lab",
      "--model-id",
      "stories260K",
      "--policy",
      policy,
    ]),
  );
  say("owner: a consumer, alice, with a quota of 5 inferences");
  const added = await veritee(["custodian", "consumer", "add", ...c, "--deployment", "lab", "--id", "alice"]);
  const apiKey = added.trim().split("\n").at(-1);
  show(added.trim().split("\n")[0]);
  show(await veritee(["custodian", "supply", ...c, "--deployment", "lab", "--consumer", "alice", "--inferences", "5"]));

  say("borrower: an attested server on the sealed file (it attests to the custodian, gets the key, holds a lease)");
  const url = await start(
    ["serve", ...tpm, "--port", String(port), "--sealed-model", sealed, ...c, "--deployment", "lab"],
    borrowerEnv,
    /veritee server listening on (http:\/\/\S+)/,
    path.join(dir, "server.log"),
  );
  show(`serving at ${url}`);

  say("consumer: verify the server, then chat through the sealed channel and watch the quota");
  const session = await connect({ baseURL: url, policy: readFileSync(policy, "utf8") });
  show(
    `verified: ${session.appraisal.claims.filter((x) => x.ok).length} policy claims passed (development policy: INSECURE)`,
  );
  const headers = { "content-type": "application/json", authorization: `Bearer ${apiKey}` };
  const ask = async (prompt, maxTokens = 24) => {
    const started = performance.now();
    const response = await session.fetch(`${session.baseURL}/chat/completions`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        model: "stories260K",
        messages: [{ role: "user", content: prompt }],
        max_tokens: maxTokens,
      }),
    });
    const body = await response.json();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (!response.ok) return { ok: false, text: `HTTP ${response.status} ${body.error?.code}: ${body.error?.message}` };
    const text = body.choices[0].message.content.replace(/\s+/g, " ").trim();
    return { ok: true, text, quota: response.headers.get("x-veritee-quota-remaining"), seconds };
  };
  for (const prompt of ["Tell me about a cat.", "And a dog?"]) {
    const r = await ask(prompt);
    show(`alice> ${prompt}\nmodel> ${r.text}\n(quota left: ${r.quota})`);
  }
  const quota = await session.fetch(`${session.baseURL}/quota`, { headers });
  show(`GET /v1/quota → ${JSON.stringify(await quota.json())}`);
  await sleep(4000);
  say("owner: what alice used (reported with the server's lease renewals)");
  show(await veritee(["custodian", "usage", ...c, "--deployment", "lab"]));

  say("owner: the slow-down switch, 8 tokens per second (applied at the server's next renewal)");
  show(await veritee(["custodian", "throttle", ...c, "--deployment", "lab", "--tokens-per-second", "8"]));
  await sleep(4000);
  const slow = await ask("Tell me a long story.", 24);
  show(
    `alice> Tell me a long story.\nmodel> ${slow.text}\n(${slow.seconds} s for up to 24 tokens; quota left: ${slow.quota})`,
  );

  say("owner: the kill switch — revoke the deployment");
  const revokedAt = performance.now();
  show(await veritee(["custodian", "revoke", ...c, "--deployment", "lab"]));
  let last;
  for (;;) {
    last = await ask("Are you there?", 4);
    if (!last.ok || performance.now() - revokedAt > 15_000) break;
    await sleep(200);
  }
  show(`${((performance.now() - revokedAt) / 1000).toFixed(1)} s after the revoke command started: ${last.text}`);
  await session.close();
  console.log("\nlent, metered, throttled and revoked: the owner kept control of the model throughout");
} catch (error) {
  console.error(`\ndemo:lending failed: ${error.message}`);
  failed = true;
} finally {
  for (const child of children.reverse()) {
    child.kill("SIGTERM");
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", resolve)));
  }
  await veritee(["tpm", "sim", "stop", ...simState]).catch(() => undefined);
}
process.exit(failed ? 1 : 0);
