/**
 * Process helpers for the swtpm manager: finding executables and watching a
 * process by pid (the manager may stop an instance another process started).
 */
import { constants as fsConstants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import path from "node:path";

/** The absolute path of `name` on PATH, or undefined when it is not installed. */
export async function findExecutable(name: string): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(path.delimiter).filter((d) => d !== "");
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Whether `pid` is a live (not zombie) process whose command line mentions
 * `expectedName`. The name check guards against a recycled pid: a stale
 * `sim.json` must not make us signal an unrelated process. Where /proc is
 * missing (not Linux) it falls back to signal 0.
 */
export async function isProcessAlive(pid: number, expectedName: string): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else, which is not ours to manage either.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  let stat: string;
  let cmdline: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "latin1");
    cmdline = await readFile(`/proc/${pid}/cmdline`, "latin1");
  } catch {
    return process.platform !== "linux";
  }
  // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces or parentheses, so split at the last ")".
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  if (state === "Z" || state === "X") return false;
  return cmdline.split("\0").some((arg) => path.basename(arg) === expectedName);
}

/** Resolves once `pid` is no longer alive, or returns false after `timeoutMs`. */
export async function waitForProcessExit(pid: number, expectedName: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isProcessAlive(pid, expectedName))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

/** A promise that resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
