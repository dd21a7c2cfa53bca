/**
 * The launch measurements: pure functions of files and configuration, so
 * anyone can recompute them from a release bundle on any machine, without a
 * TPM (`veritee measure` will). Every digest is SHA-256, lower-case hex.
 *
 * Code bundle manifest: one line per file,
 *
 *     <repo-relative POSIX path> TAB <sha256 hex> LF
 *
 * sorted by the UTF-8 bytes of the path, for every file of ours that the
 * process can load ({@link isCodeBundlePath}): for each package of
 * {@link CODE_BUNDLE_PACKAGES}, its `package.json`, every file under its
 * `bin/` (the `veritee` entry point runs first) and every file under its
 * `dist/` except `dist/test/`, source maps, declaration files and build
 * info; and the root `package-lock.json`. "Every file", not only `.js`:
 * Node reads `package.json` files under `dist/` (they set the module type and
 * import maps of the files below them), and JSON or WASM beside the code may
 * be read at run time. The code-bundle digest is SHA-256 of the manifest's
 * UTF-8 bytes.
 */
import { createHash } from "node:crypto";
import { type Dirent, constants as fsConstants } from "node:fs";
import { type FileHandle, open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { canonicalJson } from "@veritee/evidence";
import type { ServerConfig } from "./config.js";
import { measuredConfiguration } from "./config.js";
import { LaunchError } from "./errors.js";
import { measureOpenFile } from "./hash-file.js";
import { measurePinnedFile, type PinnedFile } from "./pinned-file.js";
import { type FileMapping, openMappedFile, readProcMaps } from "./proc-maps.js";
import { assertWorkspaceResolvesToBundle } from "./workspace.js";

/**
 * The workspace packages whose runtime code the code bundle covers: every
 * package the `veritee` process can load (testkit and the test/e2e workspace
 * are test-only). A test keeps this list equal to the workspace, so new code
 * cannot run unmeasured.
 */
export const CODE_BUNDLE_PACKAGES: readonly string[] = Object.freeze([
  "core",
  "tpm",
  "evidence",
  "policy",
  "channel",
  "custody",
  "client",
  "server",
  "cli",
]);

/** Progress of a long measurement (hashing a model of several GB). */
export interface MeasureProgress {
  /** What is being measured, e.g. "model stories260K". */
  readonly what: string;
  readonly done: number;
  readonly total: number;
}

/** A progress callback; called after each chunk, and once at the end. */
export type MeasureProgressCallback = (progress: MeasureProgress) => void;

/** The code-bundle measurement. */
export interface CodeBundleMeasurement {
  /** SHA-256 of the manifest. */
  readonly digest: string;
  /** The manifest itself (see the module comment). */
  readonly manifest: string;
  /** Number of files it lists. */
  readonly files: number;
}

/** The configuration measurement. */
export interface ConfigurationMeasurement {
  /** SHA-256 of `canonical`. */
  readonly digest: string;
  /** The configuration without secrets, as published in the launch log. */
  readonly config: ReturnType<typeof measuredConfiguration>;
  /** Its RFC 8785 canonical JSON. */
  readonly canonical: string;
}

/** A measured file. */
export interface FileMeasurement {
  readonly digest: string;
  readonly size: number;
}

/** A measured model file. */
export interface ModelMeasurement extends FileMeasurement {
  /** The model id clients name. */
  readonly id: string;
}

/** A measured native engine file. */
export interface EngineBinaryMeasurement extends FileMeasurement {
  /** A stable name, the same on every machine (e.g. "@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node"). */
  readonly name: string;
}

/** The measured JavaScript runtime. */
export interface RuntimeMeasurement extends FileMeasurement {
  readonly name: "node";
  /** `process.version`, e.g. "v20.20.2". */
  readonly version: string;
}

/** Everything a launch measures except the key set. */
export interface LaunchMeasurements {
  readonly codeBundle: CodeBundleMeasurement;
  readonly configuration: ConfigurationMeasurement;
  readonly runtime: RuntimeMeasurement;
  readonly engineBinaries: readonly EngineBinaryMeasurement[];
  readonly models: readonly ModelMeasurement[];
}

/** What {@link measureLaunch} measures. */
export interface LaunchInputs {
  /** The repository or release root holding `packages/<name>/dist/src` and `package-lock.json`. */
  readonly codeRoot: string;
  readonly config: ServerConfig;
  /** Model files served, by model id (none for an upstream engine); pinned when the engine loaded them. */
  readonly models: readonly { readonly id: string; readonly path: string; readonly pinned?: PinnedFile }[];
  /** Native engine files (the llama.cpp addon and its libraries), each with a stable name, and its mapping or pin when loaded. */
  readonly engineBinaries: readonly {
    readonly name: string;
    readonly path: string;
    readonly mapping?: FileMapping;
    readonly pinned?: PinnedFile;
  }[];
  /** The runtime executable and version (default: `process.execPath`, `process.version`). */
  readonly runtime?: { readonly path: string; readonly version: string };
  readonly onProgress?: MeasureProgressCallback;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: a tab or newline in a path would forge manifest lines
const UNSAFE_NAME = /[\u0000-\u001f\u007f\\]/;

/**
 * SHA-256 of a file, streamed in 1 MiB chunks, with its size. The size is
 * taken from the open file, and the file must still have it at the end, so a
 * file that changes while it is hashed is an error rather than a digest of
 * neither version.
 *
 * @throws LaunchError `measurement-failed` when the file cannot be read or changed size.
 */
export async function measureFile(
  file: string,
  options: { readonly what?: string; readonly onProgress?: MeasureProgressCallback } = {},
): Promise<FileMeasurement> {
  const what = options.what ?? path.basename(file);
  let handle: FileHandle;
  try {
    handle = await open(file, fsConstants.O_RDONLY);
  } catch (cause) {
    throw new LaunchError("measurement-failed", `cannot open ${what}`, { cause });
  }
  try {
    return await measureOpenFile(handle, what, options.onProgress);
  } finally {
    await handle.close();
  }
}

/** Compare strings by their UTF-8 bytes (the manifest's documented order). */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/**
 * Whether the code bundle covers a repo-relative POSIX path: the one rule both
 * the listing below and the loaded-files test apply (see the module comment).
 * Maps (`.map`) are read only under `--enable-source-maps`, which the launch
 * environment records; declarations and build info are never loaded.
 */
export function isCodeBundlePath(rel: string): boolean {
  if (rel === "package-lock.json") return true;
  const match = /^packages\/([^/]+)\/(.+)$/.exec(rel);
  if (!match || !CODE_BUNDLE_PACKAGES.includes(match[1]!)) return false;
  const inPackage = match[2]!;
  if (inPackage === "package.json" || inPackage.startsWith("bin/")) return true;
  if (!inPackage.startsWith("dist/") || inPackage.startsWith("dist/test/")) return false;
  return !/\.(map|d\.ts|tsbuildinfo)$/.test(inPackage);
}

/**
 * Every regular file under `dir` (absolute paths) that {@link isCodeBundlePath}
 * covers; symbolic links are refused. A missing `dir` lists nothing when
 * `optional`, else fails.
 */
async function listCovered(dir: string, root: string, optional: boolean): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    if (optional && (cause as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new LaunchError("measurement-failed", `cannot list ${toPosix(path.relative(root, dir))}`, { cause });
  }
  const out: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    const rel = toPosix(path.relative(root, full));
    if (entry.isDirectory()) {
      // Tests are never loaded by the server; not descending keeps their links and fixtures out.
      if (!isCodeBundlePath(`${rel}/x.js`)) continue;
      out.push(...(await listCovered(full, root, false)));
    } else if (isCodeBundlePath(rel)) {
      // A link could point anywhere, and its target could change after measuring.
      if (entry.isSymbolicLink()) throw new LaunchError("measurement-failed", `${rel} is a symbolic link`);
      if (!entry.isFile()) throw new LaunchError("measurement-failed", `${rel} is not a regular file`);
      out.push(full);
    } else if (entry.isSymbolicLink() && isCodeBundlePath(`${rel}/x.js`)) {
      throw new LaunchError("measurement-failed", `${rel} is a symbolic link`);
    }
  }
  return out;
}

function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}

/**
 * Measure the server's runtime code under `root` (the repository or an
 * unpacked release): the manifest and its digest (format in the module
 * comment). Build from a clean tree: every covered file present is measured,
 * stale ones included, because every one of them could be loaded.
 *
 * @throws LaunchError `measurement-failed` when a package's `dist/src` is
 *   missing (not built), a file is unreadable, an entry is a symbolic link, or
 *   a path holds a control character or backslash.
 * @example
 * const { digest, manifest } = await measureCodeBundle(process.cwd());
 */
export async function measureCodeBundle(root: string): Promise<CodeBundleMeasurement> {
  const absRoot = path.resolve(root);
  const files: string[] = [path.join(absRoot, "package-lock.json")];
  for (const pkg of CODE_BUNDLE_PACKAGES) {
    const dir = path.join(absRoot, "packages", pkg);
    files.push(path.join(dir, "package.json"));
    files.push(...(await listCovered(path.join(dir, "bin"), absRoot, true)));
    // dist/src must exist: an unbuilt package is an error, not an empty bundle.
    await stat(path.join(dir, "dist", "src")).catch((cause: unknown) => {
      throw new LaunchError("measurement-failed", `cannot find packages/${pkg}/dist/src (not built?)`, { cause });
    });
    files.push(...(await listCovered(path.join(dir, "dist"), absRoot, false)));
  }
  const lines: { rel: string; digest: string }[] = [];
  for (const file of files) {
    const rel = toPosix(path.relative(absRoot, file));
    if (UNSAFE_NAME.test(rel))
      throw new LaunchError("measurement-failed", "a code path holds a control character or a backslash");
    const { digest } = await measureFile(file, { what: rel });
    lines.push({ rel, digest });
  }
  lines.sort((a, b) => compareUtf8(a.rel, b.rel));
  const manifest = lines.map((l) => `${l.rel}\t${l.digest}\n`).join("");
  return {
    digest: createHash("sha256").update(manifest, "utf8").digest("hex"),
    manifest,
    files: lines.length,
  };
}

/**
 * Measure the configuration: SHA-256 of the RFC 8785 canonical JSON of the
 * configuration without its secret fields (see `SECRET_CONFIG_FIELDS`).
 *
 * @throws LaunchError `bad-config` (see `measuredConfiguration`).
 */
export function measureConfiguration(config: ServerConfig): ConfigurationMeasurement {
  const measured = measuredConfiguration(config);
  const canonical = canonicalJson(measured);
  return { digest: createHash("sha256").update(canonical, "utf8").digest("hex"), config: measured, canonical };
}

/**
 * Measure a model file (streamed, with progress): from the file pinned
 * before the engine loaded it when given (see pinned-file.ts), else by path.
 *
 * @throws LaunchError `measurement-failed`, or `file-replaced` when the
 *   pinned file is no longer the one at its path or the one mapped.
 */
export async function measureModel(
  model: { readonly id: string; readonly path: string; readonly pinned?: PinnedFile },
  onProgress?: MeasureProgressCallback,
): Promise<ModelMeasurement> {
  const what = `model ${model.id}`;
  const file = model.pinned
    ? await measurePinnedFile(model.pinned, what, onProgress)
    : await measureFile(model.path, { what, ...(onProgress ? { onProgress } : {}) });
  return { id: model.id, ...file };
}

/**
 * Name native engine files by their path relative to `root` (POSIX
 * separators), e.g. `@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node`
 * relative to `node_modules`: the same on every machine, whatever the install
 * location, so reference values can be published.
 *
 * @throws LaunchError `measurement-failed` for a path outside `root`.
 */
export function engineBinaryInputs(
  paths: readonly string[],
  root: string,
): { readonly name: string; readonly path: string }[] {
  const absRoot = path.resolve(root);
  return paths.map((p) => {
    const rel = path.relative(absRoot, path.resolve(p));
    if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
      throw new LaunchError("measurement-failed", "an engine file lies outside the directory its name is relative to");
    }
    return { name: toPosix(rel), path: path.resolve(p) };
  });
}

/**
 * Mapped native engine files named as {@link engineBinaryInputs} names them,
 * each carrying its mapping so that {@link measureEngineBinaries} hashes the
 * mapped file rather than whatever its path names now.
 */
export function mappedEngineBinaryInputs(
  mappings: readonly FileMapping[],
  root: string,
): { readonly name: string; readonly path: string; readonly mapping: FileMapping }[] {
  const named = engineBinaryInputs(
    mappings.map((m) => m.path),
    root,
  );
  return named.map((input, i) => ({ ...input, mapping: mappings[i]! }));
}

/**
 * Measure native engine files; each keeps its stable name. A file pinned
 * before the engine loaded (engine-files.ts) is hashed from that descriptor
 * after checking it was not replaced; a file with its mapping is hashed from
 * the mapped file itself (proc-maps.ts), and refused when it was deleted or
 * replaced after mapping; one with neither (`veritee measure`, recomputing
 * from a release) is hashed by path.
 *
 * @throws LaunchError `measurement-failed`, `file-replaced`.
 */
export async function measureEngineBinaries(
  files: readonly {
    readonly name: string;
    readonly path: string;
    readonly mapping?: FileMapping;
    readonly pinned?: PinnedFile;
  }[],
): Promise<EngineBinaryMeasurement[]> {
  const out: EngineBinaryMeasurement[] = [];
  for (const f of files) {
    if (f.pinned !== undefined) {
      out.push({ name: f.name, ...(await measurePinnedFile(f.pinned, f.name)) });
      continue;
    }
    if (f.mapping === undefined) {
      out.push({ name: f.name, ...(await measureFile(f.path, { what: f.name })) });
      continue;
    }
    const handle = await openMappedFile(f.mapping, f.name);
    try {
      out.push({ name: f.name, ...(await measureOpenFile(handle, f.name)) });
    } finally {
      await handle.close();
    }
  }
  return out;
}

/**
 * Measure the Node.js runtime executable. Without `runtime`, this process's:
 * on Linux the executable as mapped (/proc/self/maps), so that a binary
 * replaced after it started is refused (`file-replaced`) rather than the new
 * file hashed; elsewhere by path. With `runtime` (`veritee measure
 * --runtime FILE`), that file by path.
 *
 * @throws LaunchError `measurement-failed`, `file-replaced`.
 */
export async function measureRuntime(runtime?: {
  readonly path: string;
  readonly version: string;
}): Promise<RuntimeMeasurement> {
  if (runtime !== undefined) {
    return { name: "node", version: runtime.version, ...(await measureFile(runtime.path, { what: "runtime" })) };
  }
  const mapping =
    process.platform === "linux" ? (await readProcMaps()).find((m) => m.path === process.execPath) : undefined;
  if (mapping === undefined) {
    return { name: "node", version: process.version, ...(await measureFile(process.execPath, { what: "runtime" })) };
  }
  const handle = await openMappedFile(mapping, "runtime");
  try {
    return { name: "node", version: process.version, ...(await measureOpenFile(handle, "runtime")) };
  } finally {
    await handle.close();
  }
}

/**
 * Measure everything a launch records, except the key set (generated after),
 * after checking that the workspace imports resolve into the code root
 * (workspace.ts).
 *
 * @throws LaunchError `measurement-failed`, `file-replaced` or `bad-config`.
 */
export async function measureLaunch(inputs: LaunchInputs): Promise<LaunchMeasurements> {
  const configuration = measureConfiguration(inputs.config);
  // The bundle is only what runs if `@veritee/*` imports resolve into it.
  await assertWorkspaceResolvesToBundle(inputs.codeRoot, CODE_BUNDLE_PACKAGES);
  const codeBundle = await measureCodeBundle(inputs.codeRoot);
  const runtime = await measureRuntime(inputs.runtime);
  const engineBinaries = await measureEngineBinaries(inputs.engineBinaries);
  const models: ModelMeasurement[] = [];
  for (const m of inputs.models) models.push(await measureModel(m, inputs.onProgress));
  return { codeBundle, configuration, runtime, engineBinaries, models };
}
