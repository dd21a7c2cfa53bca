/**
 * Which native llama.cpp files this process actually runs. A measured launch
 * digests the engine binary; the prebuilt package ships several CPU variants
 * (`libggml-cpu-haswell.so`, `-skylakex`, ...) and ggml picks one at runtime
 * by CPU features, so the files on disk do not say which one executes. The
 * kernel's map of the process does: every file mapped into the address space
 * is listed in /proc/self/maps (proc(5)).
 */
import path from "node:path";
import { LaunchError } from "../launch/errors.js";
import { type FileMapping, readProcMaps, sameFile } from "../launch/proc-maps.js";

/** Path segments that identify node-llama-cpp's native files (the prebuilt package or a local build). */
const NATIVE_DIRS = [`${path.sep}@node-llama-cpp${path.sep}`, `${path.sep}node-llama-cpp${path.sep}`];
/** onnxruntime-node's (the ONNX engine's binding and runtime). */
const ONNX_DIRS = [`${path.sep}onnxruntime-node${path.sep}`];
const NATIVE_FILE = /\.(node|so(\.\d+)*)$/;

/** True for a path of one of the engine family's native files (node-llama-cpp's by default). */
export function isEngineFile(file: string, family: "llama" | "onnx" = "llama"): boolean {
  return NATIVE_FILE.test(file) && (family === "onnx" ? ONNX_DIRS : NATIVE_DIRS).some((dir) => file.includes(dir));
}

/**
 * node-llama-cpp's native files mapped into this process (the
 * `llama-addon.node` binding, libllama, libggml and the selected CPU
 * backend): one mapping per file, sorted by path. Empty until an engine has
 * loaded the binding. A file stays marked ` (deleted)` when it was unlinked
 * or replaced after mapping: measuring refuses it (proc-maps.ts).
 *
 * @throws LaunchError `file-replaced` when one path is mapped from two files
 *   (replaced and loaded again), `measurement-failed` where /proc/self/maps
 *   cannot be read (not Linux), so a measured launch never proceeds without the list.
 */
export async function engineFileMappings(
  mappings?: readonly FileMapping[],
  family: "llama" | "onnx" = "llama",
): Promise<FileMapping[]> {
  const byPath = new Map<string, FileMapping>();
  for (const mapping of mappings ?? (await readProcMaps())) {
    if (!isEngineFile(mapping.path, family)) continue;
    const seen = byPath.get(mapping.path);
    if (seen === undefined) byPath.set(mapping.path, mapping);
    else if (seen.deleted !== mapping.deleted || !sameFile(seen, mapping)) {
      throw new LaunchError("file-replaced", `${path.basename(mapping.path)} is mapped from two different files`);
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Absolute paths of node-llama-cpp's native files mapped into this process,
 * sorted and without duplicates ({@link engineFileMappings}).
 *
 * @example
 * const engine = await createEmbeddedEngine({ modelPath });
 * for (const file of await engineBinaryPaths()) console.log(file);
 */
export async function engineBinaryPaths(): Promise<string[]> {
  return (await engineFileMappings()).map((m) => m.path);
}
