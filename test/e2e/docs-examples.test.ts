/**
 * Every `sh` example in README.md and docs/*.md runs as written: each block
 * is executed by bash (`set -euo pipefail`) in a fresh directory beside
 * `../shared` (a link to the shared test material, so `../shared/…` paths
 * work), with `npx veritee` and `veritee` being this checkout's bin. Lines
 * that cannot run here are skipped by the explicit list below, each with its
 * reason, and an entry that matches nothing fails the test (no stale
 * skips). Ports the examples name are mapped to free ones, so that the test
 * can run beside other servers; that mapping is the only rewrite.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { sharedPath } from "@veritee/testkit";
import { BIN, serverEnv } from "./support/cli.js";

/** Lines that do not run here: a substring of the line (continuations joined), and why. */
const SKIPPED: readonly { readonly line: string; readonly reason: string }[] = [
  { line: "npm run quickstart", reason: "the whole quickstart (npm ci, apt-get): run by hand, its parts run below" },
  { line: "npm test", reason: "the whole test suite, this test included" },
  { line: "/sys/kernel/security/tpm0", reason: "this machine's firmware event log: needs root and a hardware TPM" },
  { line: "tdx_prod_quote_SPR_E4.dat", reason: "needs ./collateral laid out from the TDX vectors by hand" },
  { line: "--collateral ./sgx-collateral", reason: "needs ./sgx-collateral laid out from the SGX vectors by hand" },
  { line: "esbuild app.ts", reason: "needs the reader's app.ts" },
  {
    line: "npm run build && npm pack",
    reason: "builds and packs the repository: npm-pack.test.ts does it in a temp dir",
  },
  { line: "cd ../my-app", reason: "the reader's project: npm-pack.test.ts installs the tarballs into an empty one" },
  { line: "--code-root ./release-1.2.3", reason: "a template: a release, a model and boot PCR values to fill in" },
  {
    line: "serve --dev --write-policy policy.json",
    reason: "serves in the foreground; README's block runs serve --dev",
  },
  { line: "--model hf:OWNER/REPO/model.gguf", reason: "a template, and a hardware TPM" },
  { line: "--engine upstream", reason: "needs an upstream engine (vLLM) and a hardware TPM" },
  { line: "vllm serve", reason: "vLLM on a GPU" },
];

/** The ports examples use, mapped to free ones (2321, the development TPM's, to a free pair: its control port is N+1). */
const PORTS = [8080, 8443, 8000, 2321];

interface Block {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

function shellBlocks(): Block[] {
  const files = [
    "README.md",
    ...readdirSync("docs")
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];
  const blocks: Block[] = [];
  for (const file of files) {
    const doc = readFileSync(file, "utf8");
    for (const match of doc.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```/gm)) {
      blocks.push({ file, line: doc.slice(0, match.index).split("\n").length, text: match[1]! });
    }
  }
  return blocks;
}

/** The block with skipped lines commented out; the skips it used. */
function runnable(block: Block, used: Set<string>): { script: string; skipped: string[] } {
  const lines = block.text.replace(/\\\n\s*/g, "").split("\n");
  const skipped: string[] = [];
  const kept = lines.map((line) => {
    if (line.trim() === "" || line.trim().startsWith("#")) return line;
    const skip = SKIPPED.find((s) => line.includes(s.line));
    if (skip === undefined) return line;
    used.add(skip.line);
    skipped.push(`${line.trim()}  — ${skip.reason}`);
    return `# skipped: ${line}`;
  });
  return { script: kept.join("\n"), skipped };
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

/** A free port, or with `pair` one whose successor is free too. */
async function freePort(pair = false): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await listenOnce(0);
    if (
      !pair ||
      (await listenOnce(port + 1).then(
        () => true,
        () => false,
      ))
    )
      return port;
  }
  throw new Error("no free port pair");
}

const root = mkdtempSync(path.join(os.tmpdir(), "veritee-docs-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A directory beside a `shared` link, with `npx` and `veritee` on PATH running this checkout's bin. */
function workspace(name: string): { cwd: string; env: NodeJS.ProcessEnv } {
  const base = path.join(root, name);
  const cwd = path.join(base, "work");
  const bin = path.join(base, "bin");
  mkdirSync(cwd, { recursive: true });
  mkdirSync(bin);
  symlinkSync(sharedPath(), path.join(base, "shared"));
  const node = process.execPath;
  writeFileSync(
    path.join(bin, "npx"),
    `#!/bin/sh\n[ "$1" = veritee ] || { echo "npx $1: not in this test" >&2; exit 127; }\nshift\nexec "${node}" "${BIN}" "$@"\n`,
  );
  writeFileSync(path.join(bin, "veritee"), `#!/bin/sh\nexec "${node}" "${BIN}" "$@"\n`);
  chmodSync(path.join(bin, "npx"), 0o755);
  chmodSync(path.join(bin, "veritee"), 0o755);
  // A shell without Node.js loader variables (this machine may set NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, …), which
  // `veritee serve` refuses: docs/SERVING.md says so, and the examples are written for a clean shell.
  return { cwd, env: serverEnv({ PATH: `${bin}:${process.env.PATH}` }) };
}

/** Run a script with bash in its own process group; the group is killed afterwards (background servers). */
function bash(script: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn("bash", ["-c", `set -euo pipefail\n${script}\nwait`], {
      cwd,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        // the group is gone already
      }
      resolve({ code, output });
    });
  });
}

const blocks = shellBlocks();
const usedSkips = new Set<string>();

test("the docs have sh examples to run", () => {
  assert.ok(blocks.length >= 5, `${blocks.length} blocks`);
});

for (const [index, block] of blocks.entries()) {
  test(`${block.file}:${block.line} runs as written`, { timeout: 120_000 }, async (t) => {
    const { script, skipped } = runnable(block, usedSkips);
    for (const s of skipped) t.diagnostic(`skipped: ${s}`);
    let mapped = script;
    for (const port of PORTS) {
      // Whole numbers only: a digest or a longer number that contains the digits stays as written.
      const pattern = new RegExp(`(?<![0-9A-Za-z])${port}(?![0-9A-Za-z])`, "g");
      if (pattern.test(mapped)) mapped = mapped.replace(pattern, String(await freePort(port === 2321)));
    }
    // `tpm sim start` listens on 2321 by default: run it on free ports, which the other tpm commands read from its state.
    mapped = mapped.replace(/tpm sim start(?! --port)/g, "tpm sim start --port 0");
    if (!/^\s*(npx )?veritee |\| (npx )?veritee /m.test(mapped)) {
      t.diagnostic("nothing to run");
      return;
    }
    const { cwd, env } = workspace(`block-${index}`);
    const r = await bash(mapped, cwd, env, 110_000);
    assert.equal(r.code, 0, `${block.file}:${block.line} failed (exit ${r.code}):\n${r.output.slice(-4000)}`);
  });
}

test("every skip entry matches an example (none is stale)", () => {
  for (const s of SKIPPED) assert.ok(usedSkips.has(s.line), `unused skip: ${s.line}`);
});
