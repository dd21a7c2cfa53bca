/**
 * Confidential-VM reports through the kernel's configfs-tsm interface
 * (Linux ≥ 6.7, Documentation/ABI/testing/configfs-tsm-report): one ABI for
 * AMD SEV-SNP (`provider` "sev_guest") and Intel TDX ("tdx_guest"), plain
 * file I/O instead of a vendor ioctl per TEE — so no native code is needed.
 *
 *     mkdir  $root/report/$name          a report instance of our own
 *     write  $name/inblob                ≤ 64 bytes: the report data (binding)
 *     read   $name/outblob               the signed report (SNP) or quote (TDX)
 *     read   $name/auxblob               SNP: the host's certificate table (optional)
 *     read   $name/provider, generation  which format; how many writes so far
 *     rmdir  $name
 *
 * `generation` counts writes to the instance's attributes: reading it before
 * and after the blobs proves they answer our inblob and not a concurrent
 * writer's (the kernel ABI document recommends exactly this check). Calls in
 * this process are serialized, and each uses an instance name of its own.
 */
import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import path from "node:path";
import { TeeError } from "./errors.js";

/** The kernel's configfs-tsm mount point. */
export const CONFIGFS_TSM_ROOT = "/sys/kernel/config/tsm";
/** TSM_INBLOB_MAX (include/linux/tsm.h). */
export const TSM_INBLOB_MAX = 64;
/** TSM_OUTBLOB_MAX: 32 KiB (include/linux/tsm.h). */
const TSM_BLOB_MAX = 32 * 1024;
/** TSM_PRIVLEVEL_MAX (include/linux/tsm.h); SEV-SNP's VMPL. */
const TSM_PRIVLEVEL_MAX = 3;
/** Attempts when another writer raced us (generation moved). */
const MAX_ATTEMPTS = 3;

/** A report as the kernel produced it. */
export interface TsmReport {
  /** The format: "sev_guest" (an SNP ATTESTATION_REPORT) or "tdx_guest" (a TDX quote). */
  readonly provider: string;
  /** The report (SNP) or quote (TDX). */
  readonly outblob: Uint8Array;
  /** Supplemental data: SNP's certificate table when the host provides one; undefined otherwise. */
  readonly auxblob: Uint8Array | undefined;
}

/**
 * The file operations the interface needs. The default is `node:fs/promises`
 * on the real configfs; tests give an in-memory model of the kernel's ABI
 * (no confidential VM here), which is what lets them exercise the
 * generation check and every failure path.
 */
export interface TsmFileSystem {
  mkdir(dir: string): Promise<unknown>;
  rmdir(dir: string): Promise<void>;
  writeFile(file: string, data: Uint8Array | string): Promise<void>;
  readFile(file: string): Promise<Uint8Array>;
  stat(file: string): Promise<{ isDirectory(): boolean }>;
}

const NODE_FS: TsmFileSystem = {
  mkdir: (dir) => fsp.mkdir(dir),
  rmdir: (dir) => fsp.rmdir(dir),
  writeFile: (file, data) => fsp.writeFile(file, data),
  readFile: (file) => fsp.readFile(file),
  stat: (file) => fsp.stat(file),
};

/** Options of {@link readTsmReport}. */
export interface TsmReportOptions {
  /** The configfs-tsm directory (default {@link CONFIGFS_TSM_ROOT}). */
  readonly root?: string;
  /** Default: node:fs on the real configfs. */
  readonly fs?: TsmFileSystem;
  /** The privilege level to report for (SEV-SNP VMPL, 0–3); default: the kernel's. */
  readonly privlevel?: number;
}

let queue: Promise<unknown> = Promise.resolve();

/** True when this machine offers configfs-tsm reports (a confidential VM on Linux ≥ 6.7 with configfs mounted). */
export async function tsmAvailable(root: string = CONFIGFS_TSM_ROOT, fs: TsmFileSystem = NODE_FS): Promise<boolean> {
  try {
    return (await fs.stat(path.join(root, "report"))).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A fresh report whose report data is `reportData` (≤ 64 bytes; SNP and TDX
 * both carry exactly 64, so shorter data is zero-padded by the kernel).
 *
 * @throws TeeError `unavailable` without configfs-tsm, `bad-input` for report
 *   data over 64 bytes or a bad privlevel, `race` when another writer kept
 *   changing the instance, `failed` when the kernel refused (the cause says why).
 */
export function readTsmReport(reportData: Uint8Array, options: TsmReportOptions = {}): Promise<TsmReport> {
  if (reportData.length > TSM_INBLOB_MAX) {
    return Promise.reject(new TeeError("bad-input", `report data is ${reportData.length} bytes; at most 64`));
  }
  const privlevel = options.privlevel;
  if (privlevel !== undefined && (!Number.isInteger(privlevel) || privlevel < 0 || privlevel > TSM_PRIVLEVEL_MAX)) {
    return Promise.reject(new TeeError("bad-input", "privlevel must be 0..3"));
  }
  const fs = options.fs ?? NODE_FS;
  const run = queue.then(() => withInstance(fs, options.root ?? CONFIGFS_TSM_ROOT, reportData, privlevel));
  queue = run.catch(() => undefined);
  return run;
}

async function withInstance(
  fs: TsmFileSystem,
  root: string,
  reportData: Uint8Array,
  privlevel: number | undefined,
): Promise<TsmReport> {
  const dir = path.join(root, "report", `veritee-${randomBytes(8).toString("hex")}`);
  try {
    await fs.mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new TeeError("unavailable", `no configfs-tsm at ${root} (Linux 6.7+ in a confidential VM)`, {
        cause: error,
      });
    }
    throw new TeeError("failed", `cannot create a configfs-tsm report instance (${code ?? "error"})`, {
      cause: error,
    });
  }
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (privlevel !== undefined) await writeAttribute(fs, dir, "privlevel", `${privlevel}\n`);
      await writeAttribute(fs, dir, "inblob", reportData);
      const before = await readGeneration(fs, dir);
      const outblob = await readBlob(fs, dir, "outblob", true);
      const auxblob = await readBlob(fs, dir, "auxblob", false);
      const provider = new TextDecoder().decode(await readBlob(fs, dir, "provider", true)).trim();
      if ((await readGeneration(fs, dir)) !== before) continue;
      if (outblob === undefined || outblob.length === 0)
        throw new TeeError("failed", "the kernel returned an empty report");
      return { provider, outblob, auxblob: auxblob !== undefined && auxblob.length > 0 ? auxblob : undefined };
    }
    throw new TeeError("race", "another writer kept changing the configfs-tsm report instance");
  } finally {
    await fs.rmdir(dir).catch(() => undefined);
  }
}

async function writeAttribute(fs: TsmFileSystem, dir: string, name: string, value: Uint8Array | string): Promise<void> {
  try {
    await fs.writeFile(path.join(dir, name), value);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new TeeError("failed", `configfs-tsm refused ${name} (${code})`, { cause: error });
  }
}

async function readGeneration(fs: TsmFileSystem, dir: string): Promise<number> {
  const text = new TextDecoder().decode(await readBlob(fs, dir, "generation", true)).trim();
  if (!/^\d{1,15}$/.test(text)) throw new TeeError("failed", "configfs-tsm generation is not a number");
  return Number(text);
}

/** A blob, bounded by TSM_OUTBLOB_MAX; undefined for an optional one the provider lacks. */
async function readBlob(fs: TsmFileSystem, dir: string, name: string, required: true): Promise<Uint8Array>;
async function readBlob(fs: TsmFileSystem, dir: string, name: string, required: false): Promise<Uint8Array | undefined>;
async function readBlob(
  fs: TsmFileSystem,
  dir: string,
  name: string,
  required: boolean,
): Promise<Uint8Array | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path.join(dir, name));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    // auxblob reads fail with ENOENT or EOPNOTSUPP/ENOTTY where a provider has none.
    if (!required && (code === "ENOENT" || code === "EOPNOTSUPP" || code === "ENOTTY")) return undefined;
    throw new TeeError("failed", `cannot read configfs-tsm ${name} (${code})`, { cause: error });
  }
  if (bytes.length > TSM_BLOB_MAX) throw new TeeError("failed", `configfs-tsm ${name} is over 32 KiB`);
  return Uint8Array.from(bytes);
}
