/**
 * Variants of the real model file for tests, written to a temporary folder:
 * a chat template added, or the EOS token id changed. GGUF v3 layout
 * (ggml docs/gguf.md): a 24-byte header (magic, version, tensor count,
 * key/value count), the key/values, the tensor infos, then tensor data at the
 * next multiple of `general.alignment` (32 by default), with tensor offsets
 * relative to that start.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { MODEL_PATH } from "./helpers.js";

const GGUF_TYPE_UINT32 = 4;
const GGUF_TYPE_STRING = 8;

async function source(): Promise<Buffer> {
  const bytes = await readFile(MODEL_PATH);
  assert.equal(bytes.subarray(0, 4).toString("latin1"), "GGUF");
  assert.equal(bytes.readUInt32LE(4), 3);
  return bytes;
}

/** A string key/value: u64 key length, key, u32 type, u64 value length, value. */
function kvString(key: string, value: string): Buffer {
  const k = Buffer.from(key, "utf8");
  const v = Buffer.from(value, "utf8");
  const out = Buffer.alloc(8 + k.length + 4 + 8 + v.length);
  let at = out.writeBigUInt64LE(BigInt(k.length), 0);
  at += k.copy(out, at);
  at = out.writeUInt32LE(GGUF_TYPE_STRING, at);
  at = out.writeBigUInt64LE(BigInt(v.length), at);
  v.copy(out, at);
  return out;
}

/**
 * The model with `tokenizer.chat_template` added. Inserting a multiple of 32
 * bytes right after the header (a filler key pads it) keeps the data section
 * aligned and every tensor offset valid, without parsing the rest.
 */
export async function withChatTemplate(dir: string, template: string): Promise<string> {
  const bytes = await source();
  const kv = kvString("tokenizer.chat_template", template);
  const fillerBase = kvString("veritee.test.filler", "").length;
  const filler = kvString("veritee.test.filler", "x".repeat((32 - ((kv.length + fillerBase) % 32)) % 32));
  const header = Buffer.from(bytes.subarray(0, 24));
  header.writeBigUInt64LE(header.readBigUInt64LE(16) + 2n, 16);
  const file = path.join(dir, "stories260K-chatml.gguf");
  await writeFile(file, Buffer.concat([header, kv, filler, bytes.subarray(24)]));
  return file;
}

/** The model with `tokenizer.ggml.eos_token_id` (a u32) overwritten in place. */
export async function withEosToken(dir: string, token: number): Promise<string> {
  const bytes = Buffer.from(await source());
  const key = Buffer.from("tokenizer.ggml.eos_token_id", "latin1");
  const at = bytes.indexOf(key);
  assert.ok(at > 24 && bytes.readBigUInt64LE(at - 8) === BigInt(key.length), "found the eos_token_id key");
  assert.equal(bytes.readUInt32LE(at + key.length), GGUF_TYPE_UINT32);
  bytes.writeUInt32LE(token, at + key.length + 4);
  const file = path.join(dir, "stories260K-eos.gguf");
  await writeFile(file, bytes);
  return file;
}
