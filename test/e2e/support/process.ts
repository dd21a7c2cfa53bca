/**
 * Long-running `veritee` processes for end-to-end tests (a server, a
 * custodian): started as a user starts them, read until a line says they are
 * ready, and stopped (or killed) by the test. Their whole output is kept for
 * canary checks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { BIN, serverEnv } from "./cli.js";

/** A running `veritee` process. */
export interface VeriteeProcess {
  readonly child: ChildProcess;
  /** The first match of the ready pattern. */
  readonly ready: RegExpExecArray;
  stdout(): string;
  stderr(): string;
  /** SIGTERM (or `signal`) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Start `veritee ARGS…` and resolve once stdout matches `ready`; reject with
 * its exit code and stderr if it exits first, or after `timeoutMs`.
 */
export function startVeritee(
  args: readonly string[],
  options: { ready: RegExp; env?: Readonly<Record<string, string>>; cwd?: string; timeoutMs?: number },
): Promise<VeriteeProcess> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: serverEnv(options.env ?? {}),
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop("SIGKILL");
      reject(
        new Error(`veritee ${args[0]} not ready after ${options.timeoutMs ?? 60_000} ms:\n${stderr.slice(-2000)}`),
      );
    }, options.timeoutMs ?? 60_000);
    const check = () => {
      const match = options.ready.exec(stdout);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off("data", check);
        resolve({ child, ready: match, stdout: () => stdout, stderr: () => stderr, stop });
      }
    };
    child.stdout!.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        Object.assign(new Error(`veritee ${args[0]} exited with ${code}:\n${stderr.slice(-3000)}`), { code, stderr }),
      );
    });
  });
}

/** Run `veritee ARGS…` to its end with `env` added, collecting code and output. */
export function runVeritee(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: serverEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A TCP port free now on 127.0.0.1 (and, with `pair`, the next one too:
 * swtpm's control port), chosen below Linux's ephemeral range (32768 and
 * up, ip_local_port_range): a test often measures a policy for the port and
 * binds it seconds later, and in that window the kernel hands ephemeral
 * ports to the outgoing connections of every test running beside it — one
 * of which could take ours. Ports below the range are given out only on
 * request.
 */
export async function freePort(pair = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await listenOnce(port).catch(() => 0)) === 0) continue;
    if (!pair || (await listenOnce(port + 1).catch(() => 0)) !== 0) return port;
  }
  throw new Error("no free port (pair) below the ephemeral range");
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const got = (srv.address() as { port: number }).port;
      srv.close(() => resolve(got));
    });
  });
}
