import { spawn } from "node:child_process";
import path from "node:path";
import { isLoaderVariable } from "@veritee/server";

/** The `veritee` bin, run as a user would (a separate process). */
export const BIN = path.resolve("packages/cli/bin/veritee.js");

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

/** Run `veritee ARGS…` with `input` on stdin (empty by default) and collect its exit code and output. */
export function runCli(args: readonly string[], input = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: serverEnv(), stdio: ["pipe", "pipe", "pipe"] });
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
