/**
 * What the kernel says this process has mapped, and hashing exactly that.
 * A file's path names whatever is at that path now; a mapping names the file
 * (device and inode) that was mapped. Swapping a library after it was mapped
 * leaves the old inode running and a new file at the path, so a launch that
 * hashed the path would attest the new file while the old one runs.
 *
 * /proc/PID/maps (proc(5)), one line per mapping:
 *
 *     address           perms offset  dev   inode      pathname
 *     7f2c1a000000-7f2c1a021000 r-xp 00000000 fe:00 260689  /usr/lib/libfoo.so
 *
 * with ` (deleted)` appended when the file was unlinked since. The kernel
 * escapes a newline in a pathname as `\012`. /proc/PID/map_files/<start>-<end>
 * (addresses in lower-case hex without leading zeros) opens the mapped file
 * itself, whatever its path now names; reading it needs CAP_SYS_ADMIN (or,
 * since Linux 4.3, the same user and no seccomp or LSM rule against it).
 */
import { constants as fsConstants } from "node:fs";
import { type FileHandle, open, readFile, stat } from "node:fs/promises";
import { LaunchError } from "./errors.js";

/** A file-backed mapping, as /proc/self/maps lists it. */
export interface FileMapping {
  /** The map_files entry name: `<start>-<end>`, lower-case hex without leading zeros. */
  readonly range: string;
  /** The device holding the file: its major and minor numbers. */
  readonly major: number;
  readonly minor: number;
  readonly inode: bigint;
  /** The pathname, without the ` (deleted)` mark. */
  readonly path: string;
  /** True when the kernel marked the mapping ` (deleted)`: the file was unlinked (or replaced) after mapping. */
  readonly deleted: boolean;
}

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) \S{4} [0-9a-f]+ ([0-9a-f]+):([0-9a-f]+) (\d+) +(\/.*)$/;
const DELETED = " (deleted)";

/**
 * The file-backed mappings of a /proc/PID/maps text, in order. Anonymous and
 * pseudo mappings (`[heap]`, `[stack]`, `[vdso]`, inode 0) are skipped.
 *
 * @throws LaunchError `measurement-failed` for a line that is not a mapping:
 *   this is the kernel's text, so anything else means it was not read whole.
 */
export function parseProcMaps(text: string): FileMapping[] {
  const out: FileMapping[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const match = MAPS_LINE.exec(line);
    if (!match) {
      // A line without a pathname, or with a bracketed pseudo-path, maps no file.
      if (/^[0-9a-f]+-[0-9a-f]+ \S{4} [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ \d+ *(\[[^\]]*\])?$/.test(line)) continue;
      throw new LaunchError("measurement-failed", "/proc/self/maps holds a line that is not a mapping");
    }
    const [, start, end, major, minor, inode, rawPath] = match;
    if (inode === "0") continue;
    const deleted = rawPath!.endsWith(DELETED);
    out.push({
      range: `${BigInt(`0x${start}`).toString(16)}-${BigInt(`0x${end}`).toString(16)}`,
      major: Number.parseInt(major!, 16),
      minor: Number.parseInt(minor!, 16),
      inode: BigInt(inode!),
      path: (deleted ? rawPath!.slice(0, -DELETED.length) : rawPath!).replaceAll("\\012", "\n"),
      deleted,
    });
  }
  return out;
}

/** This process's file-backed mappings. Linux only: throws elsewhere, so a measured launch never goes on without them. */
export async function readProcMaps(): Promise<FileMapping[]> {
  let text: string;
  try {
    text = await readFile("/proc/self/maps", "utf8");
  } catch (cause) {
    throw new LaunchError("measurement-failed", "cannot read /proc/self/maps", { cause });
  }
  return parseProcMaps(text);
}

/** Linux's `st_dev` encoding (glibc `gnu_dev_major`/`gnu_dev_minor`, the kernel's `new_encode_dev`). */
function splitDevice(dev: bigint): { major: number; minor: number } {
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
  };
}

/** The identity of a file: device and inode, with the size and modification time that an in-place write changes. */
export interface FileIdentity {
  readonly major: number;
  readonly minor: number;
  readonly inode: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
}

/** The identity of an open file (fstat) or a path (stat). */
export async function identityOf(file: FileHandle | string): Promise<FileIdentity> {
  const s = typeof file === "string" ? await stat(file, { bigint: true }) : await file.stat({ bigint: true });
  return { ...splitDevice(s.dev), inode: s.ino, size: s.size, mtimeNs: s.mtimeNs };
}

/** A device and inode: what names a file on Linux, whatever its path. */
export interface DeviceInode {
  readonly major: number;
  readonly minor: number;
  readonly inode: bigint;
}

/** True when two identities name the same file (device and inode). */
export function sameFile(a: DeviceInode, b: DeviceInode): boolean {
  return a.major === b.major && a.minor === b.minor && a.inode === b.inode;
}

/** True when two identities are the same file with the same size and modification time. */
export function sameContentIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return sameFile(a, b) && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

/**
 * Open the file a mapping maps, refusing one that is gone or replaced:
 *
 * - a mapping marked ` (deleted)`: the file was unlinked or renamed over;
 * - the path now naming another file (device or inode) than the mapping.
 *
 * The file is opened through /proc/self/map_files where the kernel allows it
 * (the mapped inode itself), else through its path, and in both cases the
 * open file must be the mapped device and inode: what is hashed from the
 * returned handle is what runs.
 *
 * @throws LaunchError `file-replaced` as above, `measurement-failed` when
 *   neither can be opened.
 */
export async function openMappedFile(mapping: FileMapping, what: string): Promise<FileHandle> {
  if (mapping.deleted) {
    throw new LaunchError("file-replaced", `${what} was deleted or replaced after it was mapped`);
  }
  let atPath: FileIdentity;
  try {
    atPath = await identityOf(mapping.path);
  } catch (cause) {
    throw new LaunchError("file-replaced", `${what} is no longer at the path it was mapped from`, { cause });
  }
  if (!sameFile(mapping, atPath)) {
    throw new LaunchError(
      "file-replaced",
      `${what} at its path is not the file that was mapped (device or inode differ)`,
    );
  }
  let handle: FileHandle;
  try {
    handle = await open(`/proc/self/map_files/${mapping.range}`, fsConstants.O_RDONLY);
  } catch {
    try {
      handle = await open(mapping.path, fsConstants.O_RDONLY);
    } catch (cause) {
      throw new LaunchError("measurement-failed", `cannot open ${what}`, { cause });
    }
  }
  try {
    if (!sameFile(mapping, await identityOf(handle))) {
      throw new LaunchError("file-replaced", `${what} was replaced while it was opened`);
    }
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
