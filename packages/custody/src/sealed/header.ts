/**
 * The header of a sealed model file, format v1 (docs/CUSTODY.md "The sealed
 * format"). Every integer is big-endian. The header is authenticated by
 * every chunk (its SHA-256 is in each chunk's associated data), so a changed
 * header field fails the first chunk even where the decoder accepts it.
 *
 * The decoder is strict: each field is range-checked, so a header that
 * decodes is one this build could have written.
 */
import { fromHex, toHex } from "@veritee/core";
import { SealedModelError } from "../errors.js";

/** The file's first eight bytes. */
export const SEALED_MAGIC = new TextEncoder().encode("VERITEEM");
/** The only format version this build reads and writes. */
export const SEALED_VERSION = 1;
/** AEAD identifier 1: AES-256-GCM (16-byte tag, 12-byte nonce). */
export const AEAD_AES_256_GCM = 1;
export const MIN_CHUNK_SIZE = 4096;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const MAX_OWNERS = 16;
export const MAX_OWNER_URL_BYTES = 2048;
/** Model ids: 1–128 characters, letters, digits, `.`, `_`, `-` (they appear in URLs and file names). */
/** Where the plaintext SHA-256 sits in the header: after magic, version, AEAD, chunk size and length. */
export const PLAINTEXT_DIGEST_OFFSET = 8 + 2 + 2 + 4 + 8;
export const MODEL_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** The largest plaintext a file may hold: 2^53 − 1 bytes, the largest exact JS integer. */
const MAX_PLAINTEXT = Number.MAX_SAFE_INTEGER;
const FIXED_BYTES = 8 + 2 + 2 + 4 + 8 + 32 + 16 + 1 + 1;
/** The largest header: the fixed part, every owner URL at its bound, the model id at its bound. */
export const MAX_HEADER_BYTES = FIXED_BYTES + MAX_OWNERS * (2 + MAX_OWNER_URL_BYTES) + 2 + 128;

/** A decoded v1 header. */
export interface SealedHeader {
  readonly version: 1;
  readonly aeadId: 1;
  readonly chunkSize: number;
  readonly plaintextLength: number;
  /** SHA-256 of the plaintext model, hex. */
  readonly plaintextSha256: string;
  /** 16 random bytes, hex: the key-derivation salt, unique per sealed file. */
  readonly fileId: string;
  /** How many owners' shares open the file; 1 for a single key holder. */
  readonly threshold: number;
  /** The owners' custodian URLs, in share order (share i belongs to owners[i − 1]); may be empty. */
  readonly owners: readonly string[];
  readonly modelId: string;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function bad(message: string): SealedModelError {
  return new SealedModelError("bad-header", message);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Check a header's fields; throws `bad-header` naming the first bad field. */
export function checkHeader(h: SealedHeader): void {
  if (h.version !== SEALED_VERSION) throw new SealedModelError("unsupported-version", `version ${h.version}`);
  if (h.aeadId !== AEAD_AES_256_GCM) throw bad(`unknown AEAD ${h.aeadId}`);
  if (!isPowerOfTwo(h.chunkSize) || h.chunkSize < MIN_CHUNK_SIZE || h.chunkSize > MAX_CHUNK_SIZE) {
    throw bad("chunkSize must be a power of two from 4 KiB to 16 MiB");
  }
  if (!Number.isSafeInteger(h.plaintextLength) || h.plaintextLength < 0 || h.plaintextLength > MAX_PLAINTEXT) {
    throw bad("plaintextLength out of range");
  }
  if (!/^[0-9a-f]{64}$/.test(h.plaintextSha256)) throw bad("plaintextSha256 must be 32 bytes");
  if (!/^[0-9a-f]{32}$/.test(h.fileId)) throw bad("fileId must be 16 bytes");
  if (h.owners.length > MAX_OWNERS) throw bad(`at most ${MAX_OWNERS} owners`);
  for (const url of h.owners) {
    const n = utf8.encode(url).length;
    if (n === 0 || n > MAX_OWNER_URL_BYTES) throw bad("an owner URL is empty or too long");
  }
  if (!Number.isInteger(h.threshold) || h.threshold < 1 || h.threshold > 255) throw bad("threshold out of range");
  if (h.owners.length > 0 && h.threshold > h.owners.length) throw bad("threshold exceeds the number of owners");
  if (h.owners.length === 0 && h.threshold !== 1) throw bad("a threshold above 1 needs the owners listed");
  if (!MODEL_ID.test(h.modelId)) throw bad("modelId must be 1–128 of A–Z a–z 0–9 . _ -");
}

/** Encode a header (checked first). */
export function encodeHeader(h: SealedHeader): Uint8Array {
  checkHeader(h);
  const owners = h.owners.map((u) => utf8.encode(u));
  const modelId = utf8.encode(h.modelId);
  const size = FIXED_BYTES + owners.reduce((n, o) => n + 2 + o.length, 0) + 2 + modelId.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(SEALED_MAGIC, 0);
  let at = 8;
  view.setUint16(at, h.version);
  view.setUint16(at + 2, h.aeadId);
  view.setUint32(at + 4, h.chunkSize);
  view.setBigUint64(at + 8, BigInt(h.plaintextLength));
  at += 16;
  out.set(fromHex(h.plaintextSha256), at);
  out.set(fromHex(h.fileId), at + 32);
  at += 48;
  out[at++] = h.threshold;
  out[at++] = owners.length;
  for (const o of owners) {
    view.setUint16(at, o.length);
    out.set(o, at + 2);
    at += 2 + o.length;
  }
  view.setUint16(at, modelId.length);
  out.set(modelId, at + 2);
  return out;
}

/**
 * Decode the header at the start of `bytes` (which may hold more: the
 * chunks).
 *
 * @returns the header and its length in bytes.
 * @throws SealedModelError `bad-magic`, `unsupported-version`, `truncated`
 *   (the bytes end inside the header), `bad-header`.
 */
export function decodeHeader(bytes: Uint8Array): { header: SealedHeader; length: number } {
  if (bytes.length < 8) throw new SealedModelError("truncated", "the file ends inside the header");
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== SEALED_MAGIC[i]) throw new SealedModelError("bad-magic", "not a Veritee sealed model");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number) => {
    if (at + n > bytes.length) throw new SealedModelError("truncated", "the file ends inside the header");
  };
  need(8, 2);
  const version = view.getUint16(8);
  if (version !== SEALED_VERSION) throw new SealedModelError("unsupported-version", `version ${version}`);
  need(8, FIXED_BYTES - 8);
  const aeadId = view.getUint16(10);
  const chunkSize = view.getUint32(12);
  const length = view.getBigUint64(16);
  if (length > BigInt(MAX_PLAINTEXT)) throw bad("plaintextLength out of range");
  const plaintextSha256 = toHex(bytes.subarray(24, 56));
  const fileId = toHex(bytes.subarray(56, 72));
  const threshold = bytes[72]!;
  const ownerCount = bytes[73]!;
  if (ownerCount > MAX_OWNERS) throw bad(`at most ${MAX_OWNERS} owners`);
  let at = FIXED_BYTES;
  const readText = (what: string, max: number): string => {
    need(at, 2);
    const n = view.getUint16(at);
    if (n === 0 || n > max) throw bad(`${what} length out of range`);
    need(at + 2, n);
    let text: string;
    try {
      text = utf8Strict.decode(bytes.subarray(at + 2, at + 2 + n));
    } catch {
      throw bad(`${what} is not UTF-8`);
    }
    at += 2 + n;
    return text;
  };
  const owners: string[] = [];
  for (let i = 0; i < ownerCount; i++) owners.push(readText("owner URL", MAX_OWNER_URL_BYTES));
  const modelId = readText("modelId", 128);
  const header = {
    version,
    aeadId,
    chunkSize,
    plaintextLength: Number(length),
    plaintextSha256,
    fileId,
    threshold,
    owners,
    modelId,
  } as SealedHeader;
  checkHeader(header);
  return { header, length: at };
}

/** How many chunks a plaintext of `length` bytes takes: at least one (an empty model is one empty final chunk). */
export function chunkCount(header: Pick<SealedHeader, "plaintextLength" | "chunkSize">): number {
  return Math.max(1, Math.ceil(header.plaintextLength / header.chunkSize));
}
