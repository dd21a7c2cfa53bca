import { spawn } from "node:child_process";
import path from "node:path";

/** The `veritee` bin, run as a user would (a separate process). */
export const BIN = path.resolve("packages/cli/bin/veritee.js");

/** Run `veritee ARGS…` with `input` on stdin (empty by default) and collect its exit code and output. */
export function runCli(args: readonly string[], input = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Run `veritee ARGS…` with nothing on stdin. */
export function veritee(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(args);
}
