/**
 * `veritee model seal|inspect` (docs/CUSTODY.md): the model owner's side of
 * sealed model files. `seal` runs on the owner's machine: it encrypts a
 * model under a fresh key and hands the key (or its k-of-n shares) to the
 * owner — to key files created owner-only, or to custodians — and never to
 * the borrower who gets the sealed file. `inspect` reads the header, which
 * needs no key.
 */
import { createHash } from "node:crypto";
import { open, rm, stat } from "node:fs/promises";
import path from "node:path";
import {
  adminTransportProblem,
  DEFAULT_CHUNK_SIZE,
  MODEL_ID,
  type ModelKeyFile,
  readSealedHeader,
  type SealedHeader,
  SealedModelError,
  type SealResult,
  sealModel,
  splitModelKey,
  writeKeyFile,
} from "@veritee/custody";
import { progressBar } from "@veritee/server/progress";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";
import { out, positive } from "../io.js";
import { registerWithCustodians } from "./model-register.js";

interface SealOptions {
  in: string;
  out: string;
  modelId?: string;
  keyOut?: string;
  custodian?: string;
  owners?: string;
  threshold?: string;
  chunkSize?: string;
  adminTokenFile?: string;
  force?: boolean;
}

/** A model id from a file name: its base name without the extension, reduced to the id alphabet. */
export function modelIdFromPath(file: string): string {
  const base = path.basename(file).replace(/\.[^.]*$/, "");
  const id = base.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 128);
  return id === "" || !MODEL_ID.test(id) ? "model" : id;
}

/** The custodian URLs of `--owners` (or `--custodian`), each an http(s) origin or base URL. */
function custodianUrls(list: string, option: string): string[] {
  const urls = list.split(",").map((u) => u.trim());
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CliError("bad-argument", `${option}: not a URL: ${JSON.stringify(url.slice(0, 80))}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new CliError("bad-argument", `${option}: ${parsed.protocol} is not http(s)`);
    }
  }
  if (new Set(urls).size !== urls.length) throw new CliError("bad-argument", `${option} names a custodian twice`);
  return urls;
}

/** Where key files go: `--key-out FILE` for a whole key, `--key-out DIR` (one file per owner) for shares. */
function keyFilePaths(keyOut: string, modelId: string, owners: number): string[] {
  if (owners <= 1) return [keyOut];
  return Array.from({ length: owners }, (_, i) => path.join(keyOut, `${modelId}.share-${i + 1}.key`));
}

interface SealPlan {
  readonly modelId: string;
  readonly owners: readonly string[];
  readonly threshold: number;
  readonly chunkSize: number;
  readonly keyFiles: readonly string[];
}

/** Check every option before the (long) seal starts: a mistake costs nothing. */
async function planSeal(opts: SealOptions): Promise<SealPlan> {
  const modelId = opts.modelId ?? modelIdFromPath(opts.in);
  if (!MODEL_ID.test(modelId)) throw new CliError("bad-argument", "--model-id must be 1–128 of A–Z a–z 0–9 . _ -");
  if (opts.custodian !== undefined && opts.owners !== undefined) {
    throw new CliError("bad-argument", "--custodian and --owners exclude each other (one custodian, or k of n owners)");
  }
  const owners =
    opts.owners !== undefined
      ? custodianUrls(opts.owners, "--owners")
      : opts.custodian !== undefined
        ? custodianUrls(opts.custodian, "--custodian")
        : [];
  if (opts.custodian !== undefined && owners.length !== 1) {
    throw new CliError("bad-argument", "--custodian takes one URL; use --owners URL,URL,… --threshold K for k of n");
  }
  const threshold = positive(opts.threshold, "--threshold") ?? 1;
  if (opts.owners !== undefined) {
    if (owners.length < 2) throw new CliError("bad-argument", "--owners needs at least two custodians (k of n)");
    if (opts.threshold === undefined) throw new CliError("bad-argument", "--owners needs --threshold K (2 ≤ K ≤ n)");
    if (threshold < 2 || threshold > owners.length) {
      throw new CliError("bad-argument", `--threshold must be 2 to ${owners.length} (the number of owners)`);
    }
  } else if (opts.threshold !== undefined) {
    throw new CliError("bad-argument", "--threshold goes with --owners");
  }
  const chunkSize = positive(opts.chunkSize, "--chunk-size") ?? DEFAULT_CHUNK_SIZE;
  if (owners.length === 0 && opts.keyOut === undefined) {
    throw new CliError(
      "bad-argument",
      "the model key must go somewhere: give --custodian URL (register it), --owners URL,… --threshold K, or --key-out FILE",
    );
  }
  const inStat = await stat(opts.in).catch((error: NodeJS.ErrnoException) => {
    throw new CliError(
      error.code === "ENOENT" ? "file-not-found" : "file-unreadable",
      `--in: ${error.code === "ENOENT" ? "no such file" : "cannot read"}: ${opts.in}`,
    );
  });
  if (!inStat.isFile()) throw new CliError("bad-argument", `--in: ${opts.in} is not a regular file`);
  const keyFiles = opts.keyOut === undefined ? [] : keyFilePaths(opts.keyOut, modelId, Math.max(1, owners.length));
  if (opts.keyOut !== undefined && owners.length > 1) {
    const dir = await stat(opts.keyOut).catch(() => undefined);
    if (!dir?.isDirectory()) throw new CliError("bad-argument", "--key-out must be a directory for k-of-n shares");
  }
  if (opts.keyOut === undefined) {
    for (const url of owners) {
      const problem = adminTransportProblem(url);
      if (problem !== undefined) throw new CliError("bad-argument", `${url}: ${problem}`);
    }
  }
  for (const file of keyFiles) {
    if (await stat(file).catch(() => undefined)) {
      throw new CliError("bad-argument", `--key-out: ${file} exists; a key file is never replaced`);
    }
  }
  return { modelId, owners, threshold, chunkSize, keyFiles };
}

/** The key, or one share per owner, with what each custodian or key file records. */
async function secretsFor(plan: SealPlan, sealed: SealResult): Promise<ModelKeyFile[]> {
  const base = { modelId: plan.modelId, plaintextSha256: sealed.plaintextSha256 };
  if (plan.owners.length <= 1) return [{ ...base, secret: sealed.key, threshold: 1 }];
  const shares = await splitModelKey(sealed.key, plan.owners.length, plan.threshold);
  return shares.map((secret, i) => ({ ...base, secret, threshold: plan.threshold, shareIndex: i + 1 }));
}

async function seal(opts: SealOptions): Promise<void> {
  const plan = await planSeal(opts);
  // With --key-out each owner adds their own key file later (`veritee custodian model add`, with their own token).
  const registration =
    plan.owners.length > 0 && plan.keyFiles.length === 0
      ? await registerWithCustodians.prepare(plan.owners, opts.adminTokenFile)
      : undefined;
  const sealed = await sealModel({
    input: opts.in,
    output: opts.out,
    modelId: plan.modelId,
    chunkSize: plan.chunkSize,
    owners: plan.owners,
    threshold: plan.threshold,
    force: opts.force === true,
    onProgress: progressBar(`sealing ${path.basename(opts.in)}`),
  }).catch((error: unknown) => {
    if (error instanceof SealedModelError && error.code === "output-exists") {
      throw new CliError("bad-argument", `--out: ${opts.out} exists (--force replaces it)`, { cause: error });
    }
    throw error;
  });
  const secrets = await secretsFor(plan, sealed);
  try {
    for (const [i, file] of plan.keyFiles.entries()) await writeKeyFile(file, secrets[i]!);
    if (registration) await registration.register(secrets);
  } catch (error) {
    // Without its key the sealed file is useless: remove it rather than leave a file nobody can open.
    if (plan.keyFiles.length === 0) await rm(opts.out, { force: true });
    throw error;
  } finally {
    sealed.key.fill(0);
    for (const s of secrets) s.secret.fill(0);
  }
  out(`sealed ${opts.in} → ${opts.out}`);
  printHeader(sealed.header, undefined);
  for (const file of plan.keyFiles) out(`key file: ${file} (mode 0600; keep it off the borrower's machine)`);
  if (registration) for (const url of plan.owners) out(`registered with ${url}`);
  else if (plan.owners.length > 0) out("each owner adds their key file: veritee custodian model add --key-file FILE");
}

function printHeader(header: SealedHeader, sealedSha256: string | undefined): void {
  out(`model id:          ${header.modelId}`);
  out(`format:            veritee sealed model v${header.version}, AES-256-GCM, ${header.chunkSize} B chunks`);
  out(`plaintext:         ${header.plaintextLength} bytes, sha256 ${header.plaintextSha256}`);
  if (sealedSha256 !== undefined) out(`sealed sha256:     ${sealedSha256}`);
  out(`file id:           ${header.fileId}`);
  if (header.owners.length === 0) out("owners:            none recorded (the key was given to key files)");
  else out(`owners:            ${header.threshold} of ${header.owners.length}: ${header.owners.join(", ")}`);
}

async function sha256OfFile(file: string): Promise<string> {
  const handle = await open(file, "r");
  try {
    const size = (await handle.stat()).size;
    const progress = progressBar(`hashing ${path.basename(file)}`);
    const hash = createHash("sha256");
    let done = 0;
    for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      done += (chunk as Buffer).length;
      progress(done, size);
    }
    return hash.digest("hex");
  } finally {
    await handle.close().catch(() => {});
  }
}

async function inspect(file: string, opts: { json?: boolean; digest?: boolean }): Promise<void> {
  const exists = await stat(file).catch(() => undefined);
  if (!exists) throw new CliError("file-not-found", `no such file: ${file}`);
  const { header, length } = await readSealedHeader(file);
  const sealedSha256 = opts.digest === false ? undefined : await sha256OfFile(file);
  if (opts.json) {
    out(JSON.stringify({ ...header, headerBytes: length, sealedBytes: exists.size, sealedSha256 }, null, 2));
    return;
  }
  printHeader(header, sealedSha256);
  out(`sealed file:       ${exists.size} bytes (header ${length})`);
}

/** `veritee model …` */
export function registerModel(program: Command): void {
  const model = program.command("model").description("sealed model files: the model owner's custody (docs/CUSTODY.md)");

  model
    .command("seal")
    .description(
      "encrypt a model file (GGUF, ONNX, any file) under a fresh key, in authenticated chunks, and register the key with a custodian (--custodian) or its shares with k-of-n owners' custodians (--owners, --threshold), or write them to owner-only key files (--key-out) for a later veritee custodian model add; the sealed file can go to the borrower, the key never does",
    )
    .requiredOption("--in <model>", "the plaintext model file")
    .requiredOption("--out <sealed>", "the sealed file to write (refused when it exists, unless --force)")
    .option(
      "--model-id <id>",
      "the model's id at the custodian (1–128 of A–Z a–z 0–9 . _ -) (default: the file name without its extension)",
    )
    .option("--custodian <url>", "register the key with this custodian (admin token: $VERITEE_ADMIN_TOKEN)")
    .option("--owners <urls>", "k of n: split the key into one share per custodian URL (comma-separated)")
    .option("--threshold <k>", "k of n: how many owners' shares open the model (with --owners)")
    .option(
      "--key-out <path>",
      "write the key to FILE (mode 0600, never replaced) instead of registering it, or the shares to DIR/ID.share-N.key with --owners, for each owner's veritee custodian model add",
    )
    .option("--admin-token-file <file>", "read the custodians' admin token from FILE instead of $VERITEE_ADMIN_TOKEN")
    .option("--chunk-size <bytes>", `chunk size, a power of two from 4096 to 16777216 (default: ${DEFAULT_CHUNK_SIZE})`)
    .option("--force", "replace an existing --out file")
    .action(seal);

  model
    .command("inspect")
    .description(
      "print a sealed model's header (model id, sizes, plaintext SHA-256, owners) and its SHA-256; no key needed",
    )
    .argument("<sealed>", "the sealed model file")
    .option("--json", "print the header as JSON")
    .option("--no-digest", "skip hashing the whole file for its sealed SHA-256")
    .action(inspect);
}
