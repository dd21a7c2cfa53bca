/**
 * Sealed model files (issue 11): seal and unseal throughput against raw
 * AES-256-GCM in `node:crypto` over the same bytes — as a file-to-file stream
 * with the same 1 MiB chunks and I/O (the floor for a streaming sealer), and
 * in memory (the cipher alone) — and the peak RSS of sealing a 1 GiB model,
 * measured in a child process against its own baseline.
 */
import { spawnSync } from "node:child_process";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sealModel, unsealModel } from "@veritee/custody";
import { compare, fmt } from "./harness.js";

const MIB = 1 << 20;

function nonce(i: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(i, 8);
  return iv;
}

/** Read `input` in 1 MiB chunks, AES-256-GCM each, write ciphertext and tag: the streaming floor. */
async function rawStreamEncrypt(input: string, output: string, key: Buffer): Promise<void> {
  const src = await open(input, "r");
  const dst = await open(output, "w");
  const buffer = Buffer.alloc(MIB);
  try {
    for (let i = 0, at = 0; ; i++) {
      const { bytesRead } = await src.read(buffer, 0, MIB, at);
      if (bytesRead === 0) break;
      const c = createCipheriv("aes-256-gcm", key, nonce(i));
      await dst.write(Buffer.concat([c.update(buffer.subarray(0, bytesRead)), c.final(), c.getAuthTag()]));
      at += bytesRead;
    }
  } finally {
    await src.close();
    await dst.close();
  }
}

/** Streamed decrypt; with `hash`, also SHA-256 of the plaintext inline: the floor of what unsealing must do (it verifies the digest). */
async function rawStreamDecrypt(input: string, key: Buffer, hash = false): Promise<void> {
  const sha = hash ? createHash("sha256") : undefined;
  const src = await open(input, "r");
  const buffer = Buffer.alloc(MIB + 16);
  try {
    for (let i = 0, at = 0; ; i++) {
      const { bytesRead } = await src.read(buffer, 0, MIB + 16, at);
      if (bytesRead === 0) break;
      const d = createDecipheriv("aes-256-gcm", key, nonce(i));
      d.setAuthTag(buffer.subarray(bytesRead - 16, bytesRead));
      const plain = d.update(buffer.subarray(0, bytesRead - 16));
      d.final();
      sha?.update(plain);
      at += bytesRead;
    }
    sha?.digest();
  } finally {
    await src.close();
  }
}

function memoryEncrypt(plain: Buffer, key: Buffer): void {
  for (let i = 0, at = 0; at < plain.length; i++, at += MIB) {
    const c = createCipheriv("aes-256-gcm", key, nonce(i));
    c.update(plain.subarray(at, at + MIB));
    c.final();
    c.getAuthTag();
  }
}

/** The child of the RSS measurement: seal a 1 GiB file, report max RSS before and after (MiB). */
const RSS_CHILD = `
import { sealModel } from "@veritee/custody";
const [input, output] = process.argv.slice(2);
global.gc?.();
const before = process.resourceUsage().maxRSS;
const rss0 = process.memoryUsage().rss;
let peak = rss0;
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
await sealModel({ input, output, modelId: "big", force: true });
clearInterval(timer);
console.log(JSON.stringify({ baseline: rss0 / 1048576, peak: peak / 1048576, maxRssBefore: before / 1024, maxRssAfter: process.resourceUsage().maxRSS / 1024 }));
`;

export async function benchCustody(): Promise<void> {
  // On tmpfs where there is one: the sealer's cost, not the disk's (its fsync would dominate on a real disk).
  const base = existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
  const dir = mkdtempSync(path.join(base, "veritee-bench-custody-"));
  try {
    const size = 64 * MIB;
    const plainPath = path.join(dir, "model.bin");
    const plain = randomBytes(size);
    writeFileSync(plainPath, plain);
    const key = randomBytes(32);
    const sealedPath = path.join(dir, "model.sealed");
    const rawPath = path.join(dir, "model.raw");
    const opts = { rounds: 5, roundMs: 600 };

    console.log("\n## Sealed models: seal and unseal vs raw AES-256-GCM (node:crypto), 64 MiB, 1 MiB chunks");
    console.log("| operation | ours MiB/s | baseline MiB/s | ratio ours / baseline (goal ≥ 0.8) |");
    console.log("| --- | ---: | ---: | ---: |");
    const row = (name: string, r: Awaited<ReturnType<typeof compare>>) =>
      console.log(
        `| ${name} | ${fmt(r.subject.opsPerSecond * 64)} | ${fmt(r.baseline.opsPerSecond * 64)} | ${fmt(1 / r.ratio)} |`,
      );
    const seal = () => sealModel({ input: plainPath, output: sealedPath, modelId: "bench", key, force: true });
    row(
      "seal vs streamed AES-GCM (file → file)",
      await compare(seal, () => rawStreamEncrypt(plainPath, rawPath, key), opts),
    );
    row("seal vs AES-GCM in memory", await compare(seal, () => memoryEncrypt(plain, key), opts));
    await seal();
    await rawStreamEncrypt(plainPath, rawPath, key);
    const unseal = () => unsealModel({ input: sealedPath, key, write: () => {} });
    row("unseal vs streamed AES-GCM decrypt", await compare(unseal, () => rawStreamDecrypt(rawPath, key), opts));
    row(
      "unseal vs streamed decrypt + SHA-256 (its whole work)",
      await compare(unseal, () => rawStreamDecrypt(rawPath, key, true), opts),
    );

    // Peak memory: a child process seals 1 GiB (random data; on tmpfs, so the file's pages count against memory, not the process's RSS).
    const big = path.join(dir, "big.bin");
    const handle = await open(big, "w");
    const block = randomBytes(16 * MIB);
    for (let i = 0; i < 64; i++) await handle.write(block);
    await handle.close();
    // The child script lives beside this one, so that it resolves @veritee/custody as the benchmarks do.
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), ".custody-rss-child.mjs");
    writeFileSync(script, RSS_CHILD);
    const child = spawnSync(process.execPath, [script, big, path.join(dir, "big.sealed")], { encoding: "utf8" });
    rmSync(script, { force: true });
    if (child.status !== 0) {
      console.log(`RSS measurement failed: ${child.stderr.slice(0, 1500)}`);
      return;
    }
    const rss = JSON.parse(child.stdout) as { baseline: number; peak: number };
    console.log(
      `\nPeak RSS sealing 1 GiB: ${fmt(rss.peak)} MiB, ${fmt(rss.peak - rss.baseline)} MiB above the process baseline of ${fmt(rss.baseline)} MiB (goal ≤ 64 MiB above)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
