/**
 * Hashing an open file: the one place a launch digest is computed from a
 * descriptor, so that every measured file is hashed from the file that was
 * checked (opened, mapped, pinned), never re-opened by path.
 */
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { LaunchError } from "./errors.js";
import type { FileMeasurement, MeasureProgressCallback } from "./measure.js";

const CHUNK = 1 << 20;

/**
 * SHA-256 of an open file, from offset 0, with its size; the caller keeps
 * and closes the handle. Hashing from the descriptor that was checked (a
 * mapping's file, the model the engine opened) is what makes the digest that
 * file's, whatever its path names by now.
 *
 * @throws LaunchError `measurement-failed` when the file cannot be read, is
 *   not a regular file, or changed size, or `file-replaced` when its
 *   modification time changed while it was hashed.
 */
export async function measureOpenFile(
  handle: FileHandle,
  what: string,
  onProgress?: MeasureProgressCallback,
): Promise<FileMeasurement> {
  try {
    const before = await handle.stat({ bigint: true });
    if (!before.isFile()) throw new LaunchError("measurement-failed", `${what} is not a regular file`);
    const total = Number(before.size);
    const h = createHash("sha256");
    const buffer = Buffer.allocUnsafe(CHUNK);
    let done = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, done);
      if (bytesRead === 0) break;
      h.update(buffer.subarray(0, bytesRead));
      done += bytesRead;
      onProgress?.({ what, done, total });
    }
    const after = await handle.stat({ bigint: true });
    if (done !== total || Number(after.size) !== total) {
      throw new LaunchError("measurement-failed", `${what} changed while it was measured`);
    }
    if (after.mtimeNs !== before.mtimeNs) {
      throw new LaunchError("file-replaced", `${what} was written to while it was measured`);
    }
    if (total === 0) onProgress?.({ what, done, total });
    return { digest: h.digest("hex"), size: total };
  } catch (error) {
    if (error instanceof LaunchError) throw error;
    throw new LaunchError("measurement-failed", `cannot read ${what}`, { cause: error });
  }
}
