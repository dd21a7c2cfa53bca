/**
 * The native engine files, pinned before the engine loads. ggml picks its
 * CPU backend by loading every variant (`libggml-cpu-haswell.so`,
 * `-skylakex`, …), asking each for a score and unloading all but the best:
 * each variant's initialisers run, though only one stays mapped. So the
 * launch measures every native file the engine could load — the same list
 * `veritee measure` publishes — each opened before the engine starts and
 * hashed from that descriptor, and checks after the load that every engine
 * file mapped is one of them (device and inode) and that none was replaced.
 */
import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { LaunchError } from "./errors.js";
import { type PinnedFile, pinFile } from "./pinned-file.js";
import { type FileMapping, sameFile } from "./proc-maps.js";

/** The packages holding node-llama-cpp's native files (the prebuilt binaries and a local build). */
export const ENGINE_PACKAGES: readonly string[] = Object.freeze(["@node-llama-cpp", "node-llama-cpp"]);

/** Which engine's native files: llama.cpp's (the embedded engine) or onnxruntime's (the ONNX engine). */
export type EngineFamily = "llama" | "onnx";

/**
 * Where onnxruntime-node keeps this platform's binding and runtime (it ships
 * every platform's; only this one can load here, so only it is measured).
 */
export const ONNX_NATIVE_DIR = path.join("onnxruntime-node", "bin", "napi-v6", process.platform, process.arch);

function familyDirs(family: EngineFamily): readonly string[] {
  return family === "onnx" ? [ONNX_NATIVE_DIR] : ENGINE_PACKAGES;
}
const NATIVE_FILE = /\.(node|so(\.\d+)*)$/;

async function walk(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new LaunchError("measurement-failed", `cannot list ${path.basename(dir)}`, { cause });
  }
  const out: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    // Links are not followed: files are named by their path under node_modules.
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile() && NATIVE_FILE.test(entry.name)) out.push(full);
  }
  return out;
}

/**
 * Every llama.cpp native file (`.node`, `.so`, `.so.N`) under
 * `nodeModules/@node-llama-cpp` and `nodeModules/node-llama-cpp`, sorted:
 * what a launch pins and `veritee measure` lists.
 *
 * @throws LaunchError `measurement-failed` when a directory cannot be listed.
 */
export async function listEngineFiles(nodeModules: string, family: EngineFamily = "llama"): Promise<string[]> {
  const files: string[] = [];
  for (const pkg of familyDirs(family)) files.push(...(await walk(path.join(nodeModules, pkg))));
  return files.sort();
}

/** A pinned engine file with its stable name (relative to node_modules). */
export interface PinnedEngineFile {
  readonly name: string;
  readonly path: string;
  readonly pinned: PinnedFile;
}

/**
 * Pin every engine file under `nodeModules` (see {@link listEngineFiles}),
 * before the engine is loaded. Close them with {@link closeEngineFiles}.
 *
 * @throws LaunchError `measurement-failed`.
 */
export async function pinEngineFiles(nodeModules: string, family: EngineFamily = "llama"): Promise<PinnedEngineFile[]> {
  const out: PinnedEngineFile[] = [];
  try {
    for (const file of await listEngineFiles(nodeModules, family)) {
      const name = path.relative(nodeModules, file).split(path.sep).join("/");
      out.push({ name, path: file, pinned: await pinFile(file, name) });
    }
  } catch (error) {
    await closeEngineFiles(out);
    throw error;
  }
  return out;
}

/** Close pinned engine files (idempotent). */
export async function closeEngineFiles(files: readonly PinnedEngineFile[]): Promise<void> {
  for (const f of files) await f.pinned.close();
}

/**
 * Every engine file mapped now must be one of the pinned files, the same
 * device and inode at the same path: a library the engine loaded from
 * anywhere else (another directory, a file planted after pinning, a
 * replacement) was not measured.
 *
 * @throws LaunchError `file-replaced` naming the file.
 */
export function assertEngineMappingsPinned(
  mappings: readonly FileMapping[],
  pinned: readonly PinnedEngineFile[],
): void {
  for (const mapping of mappings) {
    const pin = pinned.find((p) => p.path === mapping.path);
    if (pin === undefined) {
      throw new LaunchError(
        "file-replaced",
        `${path.basename(mapping.path)} is mapped but was not among the engine files measured before loading`,
      );
    }
    if (mapping.deleted || !sameFile(mapping, pin.pinned.identity)) {
      throw new LaunchError("file-replaced", `${pin.name} is mapped from another file than the one measured`);
    }
  }
}
