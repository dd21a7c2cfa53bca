/**
 * Privacy: no prompt, completion or embedding input appears in anything the
 * engines print, at llama.cpp's most verbose log level ("debug"), including
 * in error messages and stacks. A child process runs every path with a unique
 * canary in its inputs; everything it writes to stdout and stderr (native
 * writes included) is searched for the canary.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "canary-child.js");

describe("canary", () => {
  test("no canary in any output of the embedded and upstream engines at debug level", async () => {
    const canary = `zqCANARY${randomBytes(6).toString("hex")}`;
    const child = spawn(process.execPath, [CHILD, canary], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 0, stderr.slice(-2000));
    // The capture works: the child's deliberate (reversed) control line and llama.cpp's debug log are both here.
    assert.ok(stdout.includes(`control: ${[...canary].reverse().join("")}`));
    assert.ok(stderr.includes("llama.cpp debug:"), "llama.cpp logged at debug level");
    assert.ok(stderr.split("\n").length > 100, "a substantial log was captured");
    // Every error path ran and was printed.
    for (const code of ["context-length-exceeded", "max-tokens-exceeded", "model-not-found", "aborted"]) {
      assert.ok(stdout.includes(`${code}:`), `printed a ${code} error`);
    }
    const all = stdout + stderr;
    assert.equal(all.split(canary).length - 1, 0, "the canary appears nowhere");
    assert.ok(!all.toLowerCase().includes(canary.toLowerCase()));
  });
});
