/**
 * Where the model comes from. A local path is used in place; a remote model
 * (a Hugging Face `hf:` reference or an https URL) is downloaded once into a
 * content-addressed cache, checked against a pinned SHA-256, and only then
 * used. A remote model without a pinned digest is refused unless the operator
 * explicitly allows it: the digest is what the attestation measures, and a
 * deployment should not learn it from whatever the network served.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { VeriteeError } from "@veritee/core";

/** Why a model could not be resolved. */
export type ModelErrorCode =
  | "not-found"
  | "bad-reference"
  | "unpinned"
  | "download-failed"
  | "digest-mismatch"
  | "not-a-gguf";

/** A model that cannot be found, fetched or trusted. */
export class ModelError extends VeriteeError<ModelErrorCode> {
  readonly kind = "environment" as const;
}

/** A resolved model file. */
export interface ResolvedModel {
  /** Absolute path of the GGUF file. */
  readonly path: string;
  /** SHA-256 of the file, lower-case hex (equal to the pin when one was given; "" when not hashed, see `hashUnpinnedLocal`). */
  readonly sha256: string;
  /** Where it came from: the path or the URL, for logs and the configuration. */
  readonly source: string;
  readonly bytes: number;
}

/** Progress of a download or of hashing a large file. */
export type ProgressCallback = (done: number, total: number | undefined) => void;

export interface ResolveModelOptions {
  /** Expected SHA-256 (hex). Required for remote models unless `allowUnpinned`. */
  readonly sha256?: string;
  readonly allowUnpinned?: boolean;
  /** Cache directory for downloads (default `$XDG_CACHE_HOME/veritee/models` or `~/.cache/veritee/models`). */
  readonly cacheDir?: string;
  /** Base URL of the Hugging Face hub, or a mirror of it (default https://huggingface.co). */
  readonly hubEndpoint?: string;
  readonly onProgress?: ProgressCallback;
  /**
   * Hash a local model with no pin (default true). The server passes false
   * because its measured launch hashes the model anyway, after loading it:
   * one pass over a multi-gigabyte file instead of two. The digest is then "".
   */
  readonly hashUnpinnedLocal?: boolean;
  /** The fetch to use (injectable for tests and proxies). */
  readonly fetch?: typeof fetch;
}

const GGUF_MAGIC = Buffer.from("GGUF");

/** The cache directory used when none is given. */
export function defaultModelCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");
  return path.join(base, "veritee", "models");
}

/**
 * The download URL of a model reference: `hf:OWNER/REPO/PATH.gguf` (optionally
 * `hf:OWNER/REPO@REVISION/PATH.gguf`) or an `https://` URL. Undefined for a
 * local path.
 */
export function modelUrl(reference: string, hubEndpoint = "https://huggingface.co"): URL | undefined {
  if (reference.startsWith("hf:")) {
    const match = /^hf:([\w.-]+)\/([\w.-]+)(?:@([\w.-]+))?\/(.+\.gguf)$/.exec(reference);
    if (!match) {
      throw new ModelError("bad-reference", "expected hf:OWNER/REPO[@REVISION]/FILE.gguf");
    }
    const [, owner, repo, revision, file] = match;
    const base = hubEndpoint.endsWith("/") ? hubEndpoint : `${hubEndpoint}/`;
    return checkTransport(new URL(`${owner}/${repo}/resolve/${revision ?? "main"}/${file}`, base));
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(reference)) return checkTransport(new URL(reference));
  return undefined;
}

/** Plain http only to loopback (a local mirror); anything else must be https. */
function checkTransport(url: URL): URL {
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new ModelError("bad-reference", "remote models must be fetched over https");
  }
  return url;
}

/** SHA-256 of a file, streamed. */
export async function sha256File(file: string, onProgress?: ProgressCallback): Promise<string> {
  const total = (await stat(file)).size;
  const h = createHash("sha256");
  let done = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onProgress?.(done, total);
  }
  return h.digest("hex");
}

async function checkGguf(file: string): Promise<void> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    if (!head.equals(GGUF_MAGIC)) throw new ModelError("not-a-gguf", `${file} is not a GGUF model file`);
  } finally {
    await handle.close();
  }
}

function normalizePin(pin: string | undefined): string | undefined {
  if (pin === undefined) return undefined;
  const hex = pin.replace(/^sha256:/, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ModelError("bad-reference", "the model SHA-256 must be 64 hex digits");
  return hex;
}

/** Resolve a model reference (path, `hf:` reference or https URL) to a verified local file. */
export async function resolveModel(reference: string, options: ResolveModelOptions = {}): Promise<ResolvedModel> {
  const pin = normalizePin(options.sha256);
  const url = modelUrl(reference, options.hubEndpoint);
  if (url === undefined) return resolveLocal(reference, pin, options.onProgress, options.hashUnpinnedLocal ?? true);
  if (pin === undefined && !options.allowUnpinned) {
    throw new ModelError(
      "unpinned",
      "a remote model needs a pinned SHA-256 (--model-sha256); the digest is what clients verify",
    );
  }
  const cacheDir = options.cacheDir ?? defaultModelCacheDir();
  if (pin !== undefined) {
    const cached = path.join(cacheDir, `${pin}.gguf`);
    if (existsSync(cached) && (await sha256File(cached)) === pin) {
      return { path: cached, sha256: pin, source: url.href, bytes: (await stat(cached)).size };
    }
  }
  return download(url, cacheDir, pin, options);
}

async function resolveLocal(
  file: string,
  pin: string | undefined,
  onProgress: ProgressCallback | undefined,
  hash: boolean,
) {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) throw new ModelError("not-found", `no model file at ${absolute}`);
  await checkGguf(absolute);
  if (pin === undefined && !hash)
    return { path: absolute, sha256: "", source: absolute, bytes: (await stat(absolute)).size };
  const sha256 = await sha256File(absolute, onProgress);
  if (pin !== undefined && sha256 !== pin) {
    throw new ModelError("digest-mismatch", `model SHA-256 is ${sha256}, the pinned one is ${pin}`);
  }
  return { path: absolute, sha256, source: absolute, bytes: (await stat(absolute)).size };
}

/**
 * Download to a temporary file in the cache directory, hashing as it arrives;
 * rename into place only when complete and matching, so a failed or
 * interrupted download never leaves a file that looks valid.
 */
async function download(url: URL, cacheDir: string, pin: string | undefined, options: ResolveModelOptions) {
  await mkdir(cacheDir, { recursive: true });
  const partial = path.join(cacheDir, `.download-${process.pid}-${Date.now()}.part`);
  const fetchImpl = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await fetchImpl(url, { redirect: "follow" });
  } catch (error) {
    throw new ModelError("download-failed", `cannot reach ${url.host}`, { cause: error });
  }
  if (!response.ok || response.body === null) {
    throw new ModelError("download-failed", `${url.host} answered HTTP ${response.status}`);
  }
  const total = Number(response.headers.get("content-length")) || undefined;
  const h = createHash("sha256");
  const file = await open(partial, "w");
  let done = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      h.update(chunk);
      await file.write(chunk);
      done += chunk.length;
      options.onProgress?.(done, total);
    }
    await file.close();
    const sha256 = h.digest("hex");
    if (pin !== undefined && sha256 !== pin) {
      throw new ModelError("digest-mismatch", `downloaded model SHA-256 is ${sha256}, the pinned one is ${pin}`);
    }
    await checkGguf(partial);
    const final = path.join(cacheDir, `${sha256}.gguf`);
    await rename(partial, final);
    return { path: final, sha256, source: url.href, bytes: done };
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(partial, { force: true });
    if (error instanceof ModelError) throw error;
    throw new ModelError("download-failed", `download from ${url.host} failed`, { cause: error });
  }
}
