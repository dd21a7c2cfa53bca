/**
 * A file that lives only in RAM, for a plaintext model the engine must open
 * by path (node-llama-cpp takes a path; llama.cpp maps it). Node has no
 * `memfd_create`, so the file is made in a RAM-backed file system — tmpfs or
 * ramfs, checked with statfs(2), never a disk — with mode 0600 and
 * `O_EXCL | O_NOFOLLOW`, and unlinked at once: from then on no path names
 * it, and the engine opens it through this process's descriptor,
 * `/proc/self/fd/N`. Closing the descriptor (and the engine's mapping) frees
 * the pages; a crash frees them with the process. Nothing ever reaches
 * persistent storage (tmpfs pages can reach swap: run without swap, or with
 * encrypted swap, docs/CUSTODY.md "Trust model").
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open, statfs, unlink } from "node:fs/promises";
import path from "node:path";
import { LaunchError } from "../launch/errors.js";

/** statfs(2) f_type of tmpfs and ramfs (linux/magic.h). */
const RAM_FILE_SYSTEMS = new Set([0x01021994, 0x858458f6]);

/** Where plaintext models go by default: every Linux has a tmpfs there. */
export const DEFAULT_MEMORY_DIR = "/dev/shm";

/** An unlinked RAM-backed file, open for writing and for the engine to open by {@link MemoryFile.path}. */
export interface MemoryFile {
  /** `/proc/self/fd/N`: opens this very file, which no directory names any more. */
  readonly path: string;
  readonly handle: FileHandle;
  /** Close the descriptor; the pages are freed once the engine has unmapped them. Idempotent. */
  close(): Promise<void>;
}

/**
 * Create the file in `dir` (default /dev/shm).
 *
 * @throws LaunchError `bad-config` when `dir` is not tmpfs or ramfs (the
 *   plaintext would reach a disk), `measurement-failed` when it cannot be made.
 */
export async function createMemoryFile(dir = DEFAULT_MEMORY_DIR): Promise<MemoryFile> {
  let type: number;
  try {
    type = (await statfs(dir)).type;
  } catch (cause) {
    throw new LaunchError("bad-config", `the plaintext directory ${dir} cannot be examined`, { cause });
  }
  if (!RAM_FILE_SYSTEMS.has(type)) {
    throw new LaunchError(
      "bad-config",
      `${dir} is not a RAM file system (tmpfs or ramfs): a plaintext model never goes to a disk`,
    );
  }
  const name = path.join(dir, `.veritee-model-${randomBytes(12).toString("hex")}`);
  let handle: FileHandle;
  try {
    handle = await open(name, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (cause) {
    throw new LaunchError("measurement-failed", `cannot create a file in ${dir}`, { cause });
  }
  try {
    await unlink(name);
  } catch (cause) {
    await handle.close();
    throw new LaunchError("measurement-failed", `cannot unlink the plaintext file in ${dir}`, { cause });
  }
  let closed: Promise<void> | undefined;
  return Object.freeze({
    path: `/proc/self/fd/${handle.fd}`,
    handle,
    close: () => {
      closed ??= handle.close().catch(() => undefined);
      return closed;
    },
  });
}
