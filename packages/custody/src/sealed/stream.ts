/**
 * Sealing and unsealing model files chunk by chunk (docs/CUSTODY.md "The
 * sealed format"): memory stays at about two chunks whatever the model's
 * size.
 *
 * Per chunk i of n: key = HKDF-SHA256(model key, salt = fileId, info =
 * "veritee-sealed-model-v1 chunk key"), nonce = 4 zero bytes ‖ u64 i, AAD =
 * SHA-256(header with its plaintext digest zeroed) ‖ u64 i ‖ u8 final, and on
 * the final chunk also ‖ the plaintext digest. The index in nonce and AAD
 * detects reordering; the final flag detects truncation at a chunk boundary;
 * bytes after the final chunk are extension; the header hash and the
 * per-file salt make a chunk from any other file (or under a changed header)
 * fail its tag; the final chunk binds the digest. A fresh random key per file
 * means a nonce never repeats under one key.
 *
 * Binding the digest in the final chunk rather than in every chunk's header
 * hash is what lets sealing run in one pass: the digest is known only once
 * the last byte is read, and it is written into the header at the end. The
 * SHA-256 runs on a second thread while this one encrypts (parallel-hash.ts).
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { access, type FileHandle, link, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fromHex, toHex } from "@veritee/core";
import { SealedModelError } from "../errors.js";
import {
  AEAD_AES_256_GCM,
  chunkCount,
  DEFAULT_CHUNK_SIZE,
  decodeHeader,
  encodeHeader,
  MAX_HEADER_BYTES,
  PLAINTEXT_DIGEST_OFFSET,
  SEALED_VERSION,
  type SealedHeader,
} from "./header.js";
import { chunkHasher } from "./parallel-hash.js";

export const MODEL_KEY_BYTES = 32;
const TAG_BYTES = 16;
const CHUNK_KEY_INFO = "veritee-sealed-model-v1 chunk key";

/** Progress of a long seal or unseal, in plaintext bytes. */
export type SealProgress = (done: number, total: number) => void;

function chunkKey(modelKey: Uint8Array, header: SealedHeader): Buffer {
  if (modelKey.length !== MODEL_KEY_BYTES) throw new SealedModelError("bad-key", "a model key is 32 bytes");
  return Buffer.from(hkdfSync("sha256", modelKey, fromHex(header.fileId), CHUNK_KEY_INFO, 32));
}

function nonceFor(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  return nonce;
}

/** A chunk's associated data; `digest` (the plaintext's SHA-256) on the final chunk only. */
function aadFor(headerHash: Buffer, index: number, digest: Uint8Array | undefined): Buffer {
  const aad = Buffer.alloc(32 + 8 + 1 + (digest ? 32 : 0));
  headerHash.copy(aad, 0);
  aad.writeBigUInt64BE(BigInt(index), 32);
  aad[40] = digest ? 1 : 0;
  if (digest) aad.set(digest, 41);
  return aad;
}

/** SHA-256 of the header bytes with the plaintext digest zeroed: what every chunk's AAD binds. */
function headerHashOf(headerBytes: Uint8Array): Buffer {
  const copy = Buffer.from(headerBytes);
  copy.fill(0, PLAINTEXT_DIGEST_OFFSET, PLAINTEXT_DIGEST_OFFSET + 32);
  return createHash("sha256").update(copy).digest();
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Read exactly `length` bytes at `position` (fewer only at the end of the file). */
async function readAt(file: FileHandle, buffer: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await file.read(buffer, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/** Options of {@link sealModel}. */
export interface SealOptions {
  /** The plaintext model file. */
  readonly input: string;
  /** The sealed file to write; refused when it exists unless `force`. */
  readonly output: string;
  readonly modelId: string;
  readonly chunkSize?: number;
  /** The owners' custodian URLs (k of n), in share order. */
  readonly owners?: readonly string[];
  readonly threshold?: number;
  readonly force?: boolean;
  readonly onProgress?: SealProgress;
  /** The key to seal with; default a fresh random key (tests pass one to seal two files under one key). */
  readonly key?: Uint8Array;
}

/** What {@link sealModel} produced. The key is the caller's to register or split; it is never written here. */
export interface SealResult {
  readonly header: SealedHeader;
  readonly key: Uint8Array;
  readonly plaintextSha256: string;
}

/**
 * Seal `input` into `output`: one pass hashes the plaintext for the header,
 * a second encrypts. The output is written to a temporary file beside it and
 * renamed into place, so a failure leaves nothing half-written.
 *
 * @throws SealedModelError `bad-header` (bad model id, chunk size, owners or
 *   threshold), `bad-key`; Node's fs errors (missing input, existing output).
 */
export async function sealModel(options: SealOptions): Promise<SealResult> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const key = options.key ?? new Uint8Array(randomBytes(MODEL_KEY_BYTES));
  const input = await open(options.input, "r");
  try {
    const before = await input.stat();
    const size = before.size;
    const header: SealedHeader = {
      version: SEALED_VERSION,
      aeadId: AEAD_AES_256_GCM,
      chunkSize,
      plaintextLength: size,
      // Written when the last chunk has been read (the module comment).
      plaintextSha256: "00".repeat(32),
      fileId: toHex(randomBytes(16)),
      threshold: options.threshold ?? 1,
      owners: options.owners ?? [],
      modelId: options.modelId,
    };
    const headerBytes = encodeHeader(header);
    const headerHash = headerHashOf(headerBytes);
    const ck = chunkKey(key, header);

    // Fail before a long seal when the output exists; the link below makes the final check atomic.
    if (!options.force && (await exists(options.output))) {
      throw new SealedModelError("output-exists", `${path.basename(options.output)} exists (pass force to replace it)`);
    }
    const temp = path.join(path.dirname(options.output), `.${path.basename(options.output)}.${process.pid}.partial`);
    const out = await open(temp, "wx", 0o644);
    const hasher = chunkHasher(size, chunkSize);
    let plaintextSha256: string;
    try {
      await out.write(headerBytes, 0, headerBytes.length, 0);
      const buffer = Buffer.alloc(chunkSize);
      const total = chunkCount(header);
      let position = headerBytes.length;
      for (let i = 0, at = 0; i < total; i++) {
        const want = Math.min(chunkSize, size - at);
        const n = await readAt(input, buffer, want, at);
        if (n !== want) throw new SealedModelError("truncated", "the model file shrank while it was sealed");
        const plain = buffer.subarray(0, n);
        await hasher.update(plain);
        const final = i === total - 1;
        const digest = final ? fromHex(await hasher.digest()) : undefined;
        const cipher = createCipheriv("aes-256-gcm", ck, nonceFor(i));
        cipher.setAAD(aadFor(headerHash, i, digest));
        const body = cipher.update(plain);
        cipher.final();
        const written = await writeAll(out, [body, cipher.getAuthTag()], position);
        position += written;
        at += n;
        options.onProgress?.(at, size);
        if (digest) {
          plaintextSha256 = toHex(digest);
          await out.write(digest, 0, 32, PLAINTEXT_DIGEST_OFFSET);
        }
      }
      // One pass: the size and modification time must hold to the end, or the digest would mix two versions.
      const now = await input.stat();
      if (now.size !== before.size || now.mtimeMs !== before.mtimeMs) {
        throw new SealedModelError("digest-mismatch", "the model file changed while it was sealed");
      }
      await out.sync();
      await out.close();
      if (options.force) await rename(temp, options.output);
      else {
        await link(temp, options.output).catch((cause: unknown) => {
          if ((cause as NodeJS.ErrnoException).code === "EEXIST") {
            throw new SealedModelError("output-exists", `${path.basename(options.output)} exists`, { cause });
          }
          throw cause;
        });
        await rm(temp, { force: true });
      }
    } catch (error) {
      await hasher.abort();
      await out.close().catch(() => {});
      await rm(temp, { force: true });
      throw error;
    }
    return { header: { ...header, plaintextSha256: plaintextSha256! }, key, plaintextSha256: plaintextSha256! };
  } finally {
    await input.close();
  }
}

/** Write `parts` at `position` (gathered, in order); the bytes written. */
async function writeAll(file: FileHandle, parts: readonly Uint8Array[], position: number): Promise<number> {
  let total = 0;
  for (const part of parts) total += part.length;
  const { bytesWritten } = await file.writev(parts as Uint8Array[], position);
  if (bytesWritten === total) return total;
  // A short gathered write (rare): finish part by part.
  let at = position + bytesWritten;
  let skip = bytesWritten;
  for (const part of parts) {
    if (skip >= part.length) {
      skip -= part.length;
      continue;
    }
    for (let off = skip; off < part.length; ) {
      const { bytesWritten: n } = await file.write(part, off, part.length - off, at);
      off += n;
      at += n;
    }
    skip = 0;
  }
  return total;
}

/**
 * Read and decode a sealed file's header; no key needed.
 *
 * @returns the header and its length in bytes (where chunk 0 starts).
 */
export async function readSealedHeader(file: string | FileHandle): Promise<{ header: SealedHeader; length: number }> {
  const handle = typeof file === "string" ? await open(file, "r") : file;
  try {
    const { header, bytes } = await readHeaderBytes(handle);
    return { header, length: bytes.length };
  } finally {
    if (typeof file === "string") await handle.close();
  }
}

/** The decoded header and its bytes exactly as they are in the file (what the chunks' AAD hashes). */
async function readHeaderBytes(file: FileHandle): Promise<{ header: SealedHeader; bytes: Buffer }> {
  const buffer = Buffer.alloc(MAX_HEADER_BYTES);
  const n = await readAt(file, buffer, buffer.length, 0);
  const { header, length } = decodeHeader(new Uint8Array(buffer.buffer, buffer.byteOffset, n));
  return { header, bytes: buffer.subarray(0, length) };
}

/** Options of {@link unsealModel}. */
export interface UnsealOptions {
  /** The sealed file, by path or as an open handle (kept open: the caller pinned and measured it). */
  readonly input: string | FileHandle;
  readonly key: Uint8Array;
  /** Receives each verified plaintext chunk, in order; awaited before the next is read. */
  readonly write: (chunk: Uint8Array) => void | Promise<void>;
  readonly onProgress?: SealProgress;
}

/**
 * Unseal `input`, handing each chunk to `write` once its tag verified. The
 * plaintext is only trustworthy when this resolves: the length and SHA-256
 * are checked at the end, so a caller discards what it wrote on a throw.
 *
 * @returns the header (its plaintext digest is the verified one).
 * @throws SealedModelError `wrong-key` (chunk 0 fails: the key does not open
 *   this file), `chunk-auth-failed`, `truncated`, `extended`,
 *   `digest-mismatch`, and the header's codes.
 */
export async function unsealModel(options: UnsealOptions): Promise<SealedHeader> {
  const file = typeof options.input === "string" ? await open(options.input, "r") : options.input;
  try {
    // Hash the header bytes as they are in the file, not a re-encoding.
    const { header, bytes: headerBytes } = await readHeaderBytes(file);
    const length = headerBytes.length;
    const headerHash = headerHashOf(headerBytes);
    const digest = fromHex(header.plaintextSha256);
    const ck = chunkKey(options.key, header);
    const size = (await file.stat()).size;
    const total = chunkCount(header);
    // Two buffers: chunk i+1 is read (on libuv's thread pool) while chunk i is decrypted here.
    const buffers = [Buffer.alloc(header.chunkSize + TAG_BYTES), Buffer.alloc(header.chunkSize + TAG_BYTES)] as const;
    const hasher = chunkHasher(header.plaintextLength, header.chunkSize);
    const plainLengthOf = (i: number) => Math.min(header.chunkSize, header.plaintextLength - i * header.chunkSize);
    const readChunk = (i: number) =>
      readAt(file, buffers[i % 2], plainLengthOf(i) + TAG_BYTES, length + i * (header.chunkSize + TAG_BYTES));
    let position = length;
    let done = 0;
    let next: Promise<number> | undefined = readChunk(0);
    try {
      for (let i = 0; i < total; i++) {
        const plainLength = plainLengthOf(i);
        const n = await (next as Promise<number>);
        next = i + 1 < total ? readChunk(i + 1) : undefined;
        if (n < plainLength + TAG_BYTES)
          throw new SealedModelError("truncated", `the file ends in chunk ${i} of ${total}`);
        const buffer = buffers[i % 2];
        const decipher = createDecipheriv("aes-256-gcm", ck, nonceFor(i));
        decipher.setAAD(aadFor(headerHash, i, i === total - 1 ? digest : undefined));
        decipher.setAuthTag(buffer.subarray(plainLength, plainLength + TAG_BYTES));
        let plain: Buffer;
        try {
          plain = decipher.update(buffer.subarray(0, plainLength));
          // GCM's final() yields no bytes; it checks the tag.
          decipher.final();
        } catch (cause) {
          if (i === 0)
            throw new SealedModelError("wrong-key", "chunk 0 does not authenticate: a wrong key or a changed file", {
              cause,
            });
          throw new SealedModelError("chunk-auth-failed", `chunk ${i} of ${total} does not authenticate`, { cause });
        }
        await hasher.update(plain);
        await options.write(new Uint8Array(plain.buffer, plain.byteOffset, plain.length));
        position += n;
        done += plainLength;
        options.onProgress?.(done, header.plaintextLength);
      }
      if (size > position) throw new SealedModelError("extended", `${size - position} bytes follow the final chunk`);
    } catch (error) {
      // A read started for the next chunk must settle before the caller closes the file.
      await next?.catch(() => undefined);
      await hasher.abort();
      throw error;
    }
    if ((await hasher.digest()) !== header.plaintextSha256) {
      throw new SealedModelError("digest-mismatch", "the plaintext's SHA-256 differs from the header's");
    }
    return header;
  } finally {
    if (typeof options.input === "string") await file.close();
  }
}
