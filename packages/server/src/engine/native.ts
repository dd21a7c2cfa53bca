/**
 * Which native llama.cpp files this process actually runs. A measured launch
 * digests the engine binary; the prebuilt package ships several CPU variants
 * (`libggml-cpu-haswell.so`, `-skylakex`, ...) and ggml picks one at runtime
 * by CPU features, so the files on disk do not say which one executes. The
 * kernel's map of the process does: every file mapped into the address space
 * is listed in /proc/self/maps (proc(5)).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";

/** Path segments that identify node-llama-cpp's native files (the prebuilt package or a local build). */
const NATIVE_DIRS = [`${path.sep}@node-llama-cpp${path.sep}`, `${path.sep}node-llama-cpp${path.sep}`];
const NATIVE_FILE = /\.(node|so(\.\d+)*)$/;

/**
 * Absolute paths of node-llama-cpp's native files mapped into this process
 * (the `llama-addon.node` binding, libllama, libggml and the selected CPU
 * backend), sorted and without duplicates. Empty until an engine has loaded
 * the binding. Linux only: throws where /proc/self/maps cannot be read, so a
 * measured launch never proceeds without the list.
 *
 * @example
 * const engine = await createEmbeddedEngine({ modelPath });
 * for (const file of await engineBinaryPaths()) digest(await readFile(file));
 */
export async function engineBinaryPaths(): Promise<string[]> {
  const maps = await readFile("/proc/self/maps", "utf8");
  const found = new Set<string>();
  for (const line of maps.split("\n")) {
    // address perms offset dev inode pathname; the pathname starts at the first "/" after the inode.
    const slash = line.indexOf("/");
    if (slash < 0) continue;
    const file = line.slice(slash).replace(/ \(deleted\)$/, "");
    if (NATIVE_FILE.test(file) && NATIVE_DIRS.some((dir) => file.includes(dir))) found.add(file);
  }
  return [...found].sort();
}
