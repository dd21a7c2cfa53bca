/**
 * The exit-code table of docs/CLI.md against the code: every documented code
 * is the one the CLI uses for that class, every error kind has a documented
 * code, and the mismatches the docs promised to be usage errors are.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type ErrorKind, MalformedError, VeriteeError } from "@veritee/core";
import { CliError } from "../src/cli-error.js";
import { EXIT, EXIT_FOR_KIND, exitCodeFor } from "../src/exit-codes.js";
import { veritee } from "./run-cli.js";

/** The `| code | class | meaning |` rows of docs/CLI.md's "Exit codes" section. */
function documentedExitCodes(): Map<string, number> {
  const doc = readFileSync("docs/CLI.md", "utf8");
  const section = doc.slice(doc.indexOf("## Exit codes"));
  const table = section.slice(0, section.indexOf("\n## ", 1));
  const rows = new Map<string, number>();
  for (const match of table.matchAll(/^\|\s*(\d+)\s*\|\s*([a-z—-]+)\s*\|/gm)) {
    rows.set(match[2] === "—" ? "ok" : match[2]!, Number(match[1]));
  }
  return rows;
}

test("docs/CLI.md documents exactly the exit codes in EXIT", () => {
  const documented = documentedExitCodes();
  assert.deepEqual(Object.fromEntries(documented), { ...EXIT });
});

test("every error kind maps to a documented exit code, and the doc names the kinds it covers", () => {
  const doc = readFileSync("docs/CLI.md", "utf8");
  const codes = new Set(documentedExitCodes().values());
  for (const [kind, code] of Object.entries(EXIT_FOR_KIND)) {
    assert.ok(codes.has(code), `${kind} → ${code} is not documented`);
    assert.notEqual(code, EXIT.internal, `${kind} must not fall through to "internal"`);
    assert.ok(doc.includes(`\`${kind}\``), `docs/CLI.md does not name the error kind \`${kind}\``);
  }
});

test("exitCodeFor uses the kind of every error class, and 1 only for non-Veritee errors", () => {
  class Probe extends VeriteeError<"x"> {
    constructor(readonly kind: ErrorKind) {
      super("x", "probe");
    }
  }
  for (const kind of Object.keys(EXIT_FOR_KIND) as ErrorKind[]) {
    assert.equal(exitCodeFor(new Probe(kind)), EXIT_FOR_KIND[kind]);
  }
  assert.equal(exitCodeFor(new MalformedError("truncated", "x")), EXIT.malformed);
  assert.equal(exitCodeFor(new CliError("bad-argument", "x")), EXIT.usage);
  assert.equal(exitCodeFor(new CliError("file-not-found", "x")), EXIT.environment);
  assert.equal(exitCodeFor(new TypeError("bug")), EXIT.internal);
  assert.equal(exitCodeFor("thrown string"), EXIT.internal);
});

test("a <url> that is not an http(s) URL is a usage error (2) for verify, chat and complete", async () => {
  for (const command of ["verify", "chat", "complete"]) {
    for (const url of ["not-a-url", "ftp://127.0.0.1/v1", "http://user:pw@127.0.0.1/v1"]) {
      const args =
        command === "complete"
          ? [command, url, "--policy", "p.json", "--prompt", "hi"]
          : [command, url, "--policy", "p.json"];
      const r = await veritee(...args);
      assert.equal(r.code, EXIT.usage, `${command} ${url}: ${r.stderr}`);
      assert.match(r.stderr, /usage error bad-argument: <url>/);
      assert.doesNotMatch(r.stderr, /pw/);
    }
  }
});

test("--model-sha256 that is not 64 hex digits is a usage error (2) for serve and measure", async () => {
  for (const bad of ["zz", "ab".repeat(31), `${"ab".repeat(32)}00`, `0x${"ab".repeat(32)}`]) {
    for (const command of [["serve", "--dev"], ["measure"]]) {
      const r = await veritee(...command, "--model-sha256", bad);
      assert.equal(r.code, EXIT.usage, `${command.join(" ")} --model-sha256 ${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--model-sha256 must be a SHA-256 digest/);
    }
  }
});
