/**
 * `veritee serve`'s access flags (commands/serve-access.ts): keys from
 * `--api-key` (repeatable), `--api-key-file` and `$VERITEE_API_KEY`, merged
 * and de-duplicated; malformed keys and unreadable files refused with a
 * CliError that never echoes a key.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { CliError } from "../src/cli-error.js";
import { accessServeOptions, collectApiKey } from "../src/commands/serve-access.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "veritee-keys-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const A = "sk-aaaaaaaaaaaaaaaaaaaa";
const B = "sk-bbbbbbbbbbbbbbbbbbbb";
const C = "sk-cccccccccccccccccccc";

test("keys from the flag, the file and the environment, merged without repeats", () => {
  const file = path.join(dir, "keys");
  writeFileSync(file, `# operators\n${B}\n\n  ${C}  \r\n${A}\n`);
  const flags = { apiKey: collectApiKey(B, collectApiKey(A, undefined)), apiKeyFile: file, requireSealed: true };
  assert.deepEqual(accessServeOptions(flags, { VERITEE_API_KEY: C }), { apiKeys: [A, B, C], requireSealed: true });
  assert.deepEqual(accessServeOptions({}, {}), {});
  assert.deepEqual(accessServeOptions({}, { VERITEE_API_KEY: A }), { apiKeys: [A] });
});

test("a malformed key, an empty or missing file: CliError, the key not in the message", () => {
  const cases: [Parameters<typeof accessServeOptions>[0], NodeJS.ProcessEnv, string][] = [
    [{ apiKey: ["short-secret"] }, {}, "bad-argument"],
    [{}, { VERITEE_API_KEY: "has a space secret" }, "bad-argument"],
    [{ apiKeyFile: path.join(dir, "missing") }, {}, "file-not-found"],
  ];
  const empty = path.join(dir, "empty");
  writeFileSync(empty, "# nothing\n\n");
  cases.push([{ apiKeyFile: empty }, {}, "bad-argument"]);
  for (const [flags, env, code] of cases) {
    assert.throws(
      () => accessServeOptions(flags, env),
      (e: unknown) => e instanceof CliError && e.code === code && !e.message.includes("secret"),
      JSON.stringify(flags),
    );
  }
});
