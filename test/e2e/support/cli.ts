/**
 * The `veritee` bin as a user runs it (a separate process), for the tests
 * that drive the CLI here and in packages/cli/test. No CLI code is imported:
 * this workspace tests the bin from outside.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { isLoaderVariable } from "@veritee/server";
import { REPO_ROOT } from "./paths.js";

/** The `veritee` bin, run as a user would (a separate process). */
export const BIN = path.join(REPO_ROOT, "packages", "cli", "bin", "veritee.js");

/**
 * The exit codes these tests expect, as docs/CLI.md's table gives them
 * (packages/cli/test/exit-codes.test.ts checks the CLI against that table).
 */
export const EXIT = Object.freeze({ environment: 15 });

/**
 * This environment without its loader-relevant variables (the sandbox's
 * NODE_EXTRA_CA_CERTS, say), plus `extra`: what `veritee serve` starts
 * with, since it refuses them without --allow-loader-env.
 */
export function serverEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!isLoaderVariable(name)) env[name] = value;
  return { ...env, ...extra };
}

/** Run `veritee ARGS…` with `input` on stdin (empty by default), `env` added, and collect its exit code and output. */
export function runCli(
  args: readonly string[],
  input = "",
  env: Readonly<Record<string, string>> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: serverEnv(env), stdio: ["pipe", "pipe", "pipe"] });
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
