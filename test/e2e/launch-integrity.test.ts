/**
 * What a real `veritee serve --dev` process loads from the project tree must
 * all be measured, and what it is started with must be recorded:
 *
 * - under strace (when installed), every file it opens under the release
 *   root — the `bin/` entry point, compiled code, the package.json files Node
 *   reads, anything else — is in the code-bundle manifest, unless it is
 *   third-party code under node_modules (bound by the lock file); every path
 *   Node probed (a package.json that does not exist, say) is one the bundle
 *   would measure if it appeared;
 * - `NODE_OPTIONS="--import evil.mjs"` makes the server refuse to start
 *   (exit 15) unless `--allow-loader-env`; with it, the configuration event
 *   records the variable, so the policy `veritee measure` writes refuses the
 *   server, naming the configuration. The preloaded module also lists every
 *   module URL the ESM loader loads: a second, strace-free account of what
 *   ran, held to the same manifest.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { verifyAttestationDocument } from "@veritee/evidence";
import {
  encodePemCertificate,
  evaluate,
  PolicyError,
  parsePolicy,
  parsePolicyJson,
  verificationInputs,
} from "@veritee/policy";
import { isCodeBundlePath, measureCodeBundle } from "@veritee/server";
import { sharedPath } from "@veritee/testkit";
import { BIN, EXIT, serverEnv, veritee } from "./support/cli.js";
import { REPO_ROOT } from "./support/paths.js";

const ROOT = realpathSync(REPO_ROOT);
const haveStrace = spawnSync("strace", ["-V"]).status === 0;

let tmp: string;
let manifestFiles: Set<string>;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-launch-"));
  const bundle = await measureCodeBundle(REPO_ROOT);
  manifestFiles = new Set(bundle.manifest.split("\n").map((line) => line.split("\t")[0]!));
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

interface Started {
  readonly child: ChildProcess;
  readonly url: string;
  readonly stdout: () => string;
}

/** Start `command args…` (a `veritee serve`), resolving once it listens and wrote its policy. */
function startServer(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(command, args, { cwd: tmp, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match && stdout.includes("policy written")) resolve({ child, url: match[1]!, stdout: () => stdout });
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
}

function stop(child: ChildProcess, pid = child.pid): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    if (pid !== undefined) process.kill(pid, "SIGTERM");
  });
}

/** Exercise the server a little, so that lazily imported code is loaded too. */
async function exercise(url: string): Promise<Uint8Array> {
  const nonce = randomBytes(32);
  const res = await fetch(`${url}/v1/attestation?nonce=${nonce.toString("hex")}`);
  assert.equal(res.status, 200);
  const doc = new Uint8Array(await res.arrayBuffer());
  const chat = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "stories260K", messages: [{ role: "user", content: "Once" }], max_tokens: 4 }),
  });
  assert.equal(chat.status, 200);
  await chat.arrayBuffer();
  return doc;
}

/** Repo-relative POSIX path of a file under the release root, or undefined outside it (or in third-party code). */
function ours(file: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    real = path.resolve(file);
  }
  const rel = path.relative(ROOT, real);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
  const posix = rel.split(path.sep).join("/");
  // Third-party packages: bound through package-lock.json's integrity hashes, not file by file (TRUST_MODEL.md).
  if (posix.startsWith("node_modules/")) return undefined;
  return posix;
}

describe("what the serving process loads from the project tree", { skip: haveStrace ? false : "no strace" }, () => {
  test("every file it opens under the release root is in the code-bundle manifest", async () => {
    const log = path.join(tmp, "strace.log");
    const policyFile = path.join(tmp, "strace-policy.json");
    const started = await startServer(
      "strace",
      [
        ...["-f", "-qq", "-s", "4096", "-o", log, "-e", "trace=open,openat,openat2"],
        ...[process.execPath, BIN, "serve", "--dev", "--port", "0", "--write-policy", policyFile],
      ],
      serverEnv({ TMPDIR: tmp }),
    );
    try {
      await exercise(started.url);
    } finally {
      // strace's first line is the traced node process: stop it (stopping strace would only detach).
      const first = readFileSync(log, "utf8").split("\n", 1)[0]!;
      await stop(started.child, Number(/^(\d+) /.exec(first)![1]));
    }
    const opened = new Set<string>();
    const probed = new Set<string>();
    const escaped = new Set<string>();
    for (const line of readFileSync(log, "utf8").split("\n")) {
      const match = /open(?:at2?)?\((?:AT_FDCWD, |\d+, )?"((?:[^"\\]|\\.)*)"/.exec(line);
      if (!match) continue;
      const file = path.resolve(tmp, match[1]!);
      // A path of ours (a workspace package, not third-party code) that a link leads out of the tree.
      const lexical = path.relative(ROOT, file).split(path.sep).join("/");
      const oursByName = lexical.startsWith("packages/") || lexical.startsWith("node_modules/@veritee/");
      if (oursByName && existsSync(file) && path.relative(ROOT, realpathSync(file)).startsWith("..")) {
        escaped.add(lexical);
      }
      const rel = ours(file);
      if (rel === undefined) continue;
      const failed = / = -1 E/.test(line);
      const isFile = !failed && existsSync(file) && statSync(file).isFile();
      if (isFile) opened.add(rel);
      else if (failed) probed.add(rel);
    }
    assert.ok(opened.has("packages/cli/bin/veritee.js"), "the entry point was seen");
    assert.ok(opened.has("packages/server/dist/src/serve.js"), "compiled code was seen");
    const unmeasured = [...opened].filter((rel) => !manifestFiles.has(rel));
    assert.deepEqual(unmeasured, [], `loaded but not measured: ${unmeasured.join(", ")}`);
    assert.deepEqual([...escaped], [], "workspace paths that lead out of the measured tree");
    // A file Node looked for and did not find would be loaded if it appeared: the bundle must cover it.
    // (The measurement itself looks for each package's bin/ directory: a directory whose files would be covered.)
    const covered = (rel: string) => isCodeBundlePath(rel) || isCodeBundlePath(`${rel}/x.js`);
    const uncovered = [...probed].filter((rel) => rel.startsWith("packages/") && !covered(rel));
    assert.deepEqual(uncovered, [], `probed but not covered: ${uncovered.join(", ")}`);
    assert.ok(
      [...probed].some((rel) => /^packages\/[a-z]+\/dist\/package\.json$/.test(rel)),
      "Node probes dist/",
    );
  });
});

describe("start-up flags and the loader environment", () => {
  let evil: string;
  let marker: string;
  let loadedLog: string;

  before(() => {
    marker = path.join(tmp, "evil-ran");
    loadedLog = path.join(tmp, "loaded-urls.txt");
    const hook = path.join(tmp, "hook.mjs");
    // Runs in the loader thread: every module URL the ESM loader loads, one per line.
    writeFileSync(
      hook,
      `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(loadedLog)}, url + "\\n");
  return next(url, context);
}
`,
    );
    evil = path.join(tmp, "evil.mjs");
    writeFileSync(
      evil,
      `import { register } from "node:module";
import { writeFileSync } from "node:fs";
writeFileSync(${JSON.stringify(marker)}, "ran");
register(${JSON.stringify(pathToFileURL(hook).href)});
`,
    );
  });

  test('NODE_OPTIONS="--import evil.mjs" veritee serve: refused, exit 15, naming NODE_OPTIONS', async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--dev", "--port", "0"], {
      cwd: tmp,
      env: serverEnv({ TMPDIR: tmp, NODE_OPTIONS: `--import=${pathToFileURL(evil).href}` }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, EXIT.environment, stderr);
    assert.match(stderr, /loader-environment/);
    assert.match(stderr, /NODE_OPTIONS/);
    assert.match(stderr, /--allow-loader-env/);
    assert.ok(!stderr.includes(evil), "the variable's value is not printed");
    assert.ok(existsSync(marker), "the preload ran: refusing to serve is what stops it");
    rmSync(marker);

    // A Node.js flag is refused the same way, before anything is started.
    const flagged = spawnSync(process.execPath, ["--no-warnings", BIN, "serve", "--dev", "--port", "0"], {
      cwd: tmp,
      env: serverEnv({ TMPDIR: tmp }),
      encoding: "utf8",
    });
    assert.equal(flagged.status, EXIT.environment, flagged.stderr);
    assert.match(flagged.stderr, /1 Node\.js flag\(s\) \(process\.execArgv\)/);
  });

  test("with --allow-loader-env the configuration records it, and veritee measure's policy refuses the server", async () => {
    const policyFile = path.join(tmp, "allowed-policy.json");
    const nodeOptions = `--import=${pathToFileURL(evil).href}`;
    rmSync(loadedLog, { force: true });
    const started = await startServer(
      process.execPath,
      [BIN, "serve", "--dev", "--port", "0", "--allow-loader-env", "--write-policy", policyFile],
      serverEnv({ TMPDIR: tmp, NODE_OPTIONS: nodeOptions }),
    );
    let doc: Uint8Array;
    try {
      const nonce = randomBytes(32);
      const res = await fetch(`${started.url}/v1/attestation?nonce=${nonce.toString("hex")}`);
      assert.equal(res.status, 200);
      doc = new Uint8Array(await res.arrayBuffer());
      await exercise(started.url);
      const devPolicy = parsePolicyJson(readFileSync(policyFile));
      const verified = await verifyAttestationDocument(doc, {
        nonce,
        at: new Date(),
        ...verificationInputs(devPolicy),
      });
      const config = verified.launch.configuration.config as { launchEnvironment?: unknown };
      assert.deepEqual(config.launchEnvironment, { execArgv: [], env: { NODE_OPTIONS: nodeOptions } });

      // The reference values recomputed from the release expect no loader environment.
      const rootPem = path.join(tmp, "ek-root.pem");
      writeFileSync(rootPem, devPolicy.trust.ekRoots[0]!.pem);
      const measuredFile = path.join(tmp, "measured-policy.json");
      const r = await veritee(
        ...["measure", "--dev", "--port", "0", "--write-policy", measuredFile],
        ...["--ek-root", rootPem, "--development"],
      );
      assert.equal(r.code, 0, r.stderr);
      const measured = parsePolicyJson(readFileSync(measuredFile));
      let refusal: PolicyError | undefined;
      try {
        evaluate(verified, measured, { now: new Date() });
      } catch (error) {
        if (error instanceof PolicyError) refusal = error;
        else throw error;
      }
      assert.ok(refusal?.appraisal, "the measured policy refuses the server");
      const claims = new Map(refusal.appraisal.claims.map((c) => [c.path, c]));
      assert.equal(claims.get("launch.configuration")?.ok, false);
      assert.equal(claims.get("launch.configuration")?.code, "measurement-mismatch");
      assert.equal(claims.get("launch.codeBundle")?.ok, true, "the code itself is unchanged");

      // A production policy refuses any launch environment, even one whose configuration is "any".
      const production = JSON.parse(readFileSync(policyFile, "utf8")) as Record<string, unknown>;
      production.development = false;
      production.description = "production";
      (production.launch as Record<string, unknown>).configuration = "any";
      production.boot = { sha256: "any" };
      // A production policy cannot trust the swtpm CA: any real root will do, the EK claim failing is beside the point.
      const root = readFileSync(sharedPath("vectors", "tpm", "gce", "ca", "tpm_ek_root_1.cer"));
      production.trust = {
        ...(production.trust as object),
        ekRoots: [{ name: "a real root", pem: encodePemCertificate(root) }],
      };
      try {
        evaluate(verified, parsePolicy(production), { now: new Date() });
        assert.fail("a production policy accepted the server");
      } catch (error) {
        assert.ok(error instanceof PolicyError && error.appraisal, String(error));
        const claim = error.appraisal.claims.find((c) => c.path === "launch.configuration.launchEnvironment");
        assert.equal(claim?.ok, false);
        assert.equal(claim?.code, "loader-environment");
        assert.match(claim!.actual, /NODE_OPTIONS/);
        assert.ok(!claim!.actual.includes(evil), "names, not values");
      }
    } finally {
      await stop(started.child);
    }

    // The ESM loader's own account of what ran: every module of ours is measured.
    const urls = readFileSync(loadedLog, "utf8")
      .split("\n")
      .filter((u) => u.startsWith("file:"));
    const loaded = urls.map((u) => ours(fileURLToPath(u))).filter((rel): rel is string => rel !== undefined);
    assert.ok(loaded.includes("packages/cli/bin/veritee.js"), "the entry point went through the loader");
    const unmeasured = loaded.filter((rel) => !manifestFiles.has(rel));
    assert.deepEqual(unmeasured, [], `loaded but not measured: ${unmeasured.join(", ")}`);
  });
});
