/**
 * A file held open across the engine's load, so that the model is hashed
 * from the very file the engine read. node-llama-cpp takes a path, not a
 * descriptor, so the server opens the model first, lets the engine load the
 * path, and then hashes from its own descriptor, after checking that the
 * engine cannot have read another file:
 *
 * - the path still names the pinned file (device and inode), with the size
 *   and modification time it had when pinned (no rename over it, no write
 *   into it during the load);
 * - every mapping of that path (llama.cpp maps the weights, `use_mmap`) is
 *   the pinned file and not deleted: a file swapped in for the load and
 *   swapped back before the check still shows in the mapping's inode.
 *
 * What remains: an engine that read the file into memory without mapping it
 * (no mmap) and a file swapped in and back between the engine's open and this
 * check would go unseen; a read-only, measured file system rules both out.
 */
import { constants as fsConstants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { LaunchError } from "./errors.js";
import { measureOpenFile } from "./hash-file.js";
import type { FileMeasurement, MeasureProgressCallback } from "./measure.js";
import {
  type FileIdentity,
  type FileMapping,
  identityOf,
  readProcMaps,
  sameContentIdentity,
  sameFile,
} from "./proc-maps.js";

/** A file opened before it was handed (by path) to a loader. Close it when done. */
export interface PinnedFile {
  readonly path: string;
  readonly handle: FileHandle;
  /** The file's identity when it was opened. */
  readonly identity: FileIdentity;
  close(): Promise<void>;
}

/**
 * Open `file` and record its identity, before a loader opens it by path.
 *
 * @throws LaunchError `measurement-failed` when it cannot be opened or is not a regular file.
 */
export async function pinFile(file: string, what: string): Promise<PinnedFile> {
  let handle: FileHandle;
  try {
    handle = await open(file, fsConstants.O_RDONLY);
  } catch (cause) {
    throw new LaunchError("measurement-failed", `cannot open ${what}`, { cause });
  }
  try {
    if (!(await handle.stat()).isFile()) throw new LaunchError("measurement-failed", `${what} is not a regular file`);
    const identity = await identityOf(handle);
    let closed: Promise<void> | undefined;
    return Object.freeze({
      path: file,
      handle,
      identity,
      close: () => {
        closed ??= handle.close();
        return closed;
      },
    });
  } catch (error) {
    await handle.close();
    if (error instanceof LaunchError) throw error;
    throw new LaunchError("measurement-failed", `cannot read ${what}`, { cause: error });
  }
}

/**
 * Check that a pinned file is still the one at its path and the one mapped
 * from that path (module comment); the mappings default to this process's.
 *
 * @throws LaunchError `file-replaced` naming what differs.
 */
export async function assertPinnedFileLoaded(
  pinned: PinnedFile,
  what: string,
  mappings?: readonly FileMapping[],
): Promise<void> {
  let atPath: FileIdentity;
  try {
    atPath = await identityOf(pinned.path);
  } catch (cause) {
    throw new LaunchError("file-replaced", `${what} is no longer at its path`, { cause });
  }
  if (!sameFile(pinned.identity, atPath)) {
    throw new LaunchError("file-replaced", `${what} at its path is another file than the one opened before loading`);
  }
  if (
    !sameContentIdentity(pinned.identity, atPath) ||
    !sameContentIdentity(pinned.identity, await identityOf(pinned.handle))
  ) {
    throw new LaunchError(
      "file-replaced",
      `${what} was written to while it was loaded (size or modification time changed)`,
    );
  }
  for (const mapping of mappings ?? (await readProcMaps())) {
    if (mapping.path !== pinned.path) continue;
    if (mapping.deleted || !sameFile(mapping, pinned.identity)) {
      throw new LaunchError("file-replaced", `${what} is mapped from another file than the one opened before loading`);
    }
  }
}

/**
 * {@link assertPinnedFileLoaded}, then SHA-256 from the pinned descriptor.
 *
 * @throws LaunchError `file-replaced`, `measurement-failed`.
 */
export async function measurePinnedFile(
  pinned: PinnedFile,
  what: string,
  onProgress?: MeasureProgressCallback,
): Promise<FileMeasurement> {
  await assertPinnedFileLoaded(pinned, what);
  const measured = await measureOpenFile(pinned.handle, what, onProgress);
  // Hashing takes a while for a large model: the identity must hold at the end too.
  if (!sameContentIdentity(pinned.identity, await identityOf(pinned.handle))) {
    throw new LaunchError("file-replaced", `${what} was written to while it was measured`);
  }
  return measured;
}
