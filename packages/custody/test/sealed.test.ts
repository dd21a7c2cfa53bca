/**
 * Sealed model files: round trips at chunk boundaries, and every tampering
 * the format must detect — a flipped byte anywhere, truncation, extension,
 * reordered chunks, a chunk spliced from another file, a wrong key — each
 * refused with its typed code.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import {
  decodeHeader,
  encodeHeader,
  readSealedHeader,
  type SealedHeader,
  type SealedModelCode,
  SealedModelError,
  sealModel,
  unsealModel,
} from "../src/index.js";

const CHUNK = 4096;
const TAG = 16;
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-sealed-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
async function sealBytes(plain: Uint8Array, extra: { key?: Uint8Array; modelId?: string } = {}) {
  const n = counter++;
  const input = path.join(dir, `plain-${n}.bin`);
  const output = path.join(dir, `sealed-${n}.vtm`);
  await writeFile(input, plain);
  const result = await sealModel({ input, output, modelId: extra.modelId ?? "m", chunkSize: CHUNK, ...extra });
  return { ...result, input, output };
}

async function unsealFile(file: string, key: Uint8Array): Promise<Buffer> {
  const parts: Buffer[] = [];
  await unsealModel({ input: file, key, write: (c) => void parts.push(Buffer.from(c)) });
  return Buffer.concat(parts);
}

async function unsealBytes(bytes: Uint8Array, key: Uint8Array): Promise<Buffer> {
  const file = path.join(dir, `tampered-${counter++}.vtm`);
  await writeFile(file, bytes);
  return unsealFile(file, key);
}

function sealedError(code: SealedModelCode) {
  return (error: unknown) => {
    assert.ok(error instanceof SealedModelError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

describe("seal and unseal", () => {
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17]) {
    test(`round trip of ${size} bytes`, async () => {
      const plain = randomBytes(size);
      const s = await sealBytes(plain);
      const sealed = await readFile(s.output);
      const { length } = decodeHeader(sealed);
      assert.equal(sealed.length, length + Math.max(1, Math.ceil(size / CHUNK)) * TAG + size);
      assert.deepEqual(await unsealFile(s.output, s.key), plain);
      assert.equal(s.header.plaintextLength, size);
      assert.equal((await readSealedHeader(s.output)).header.plaintextSha256, s.plaintextSha256);
      // The plaintext appears nowhere in the sealed file.
      if (size >= 64) assert.equal(sealed.indexOf(plain.subarray(0, 64)), -1);
    });
  }

  test("an existing output is refused unless forced, and nothing half-written is left", async () => {
    const s = await sealBytes(randomBytes(100));
    await assert.rejects(
      sealModel({ input: s.input, output: s.output, modelId: "m", chunkSize: CHUNK }),
      sealedError("output-exists"),
    );
    const forced = await sealModel({ input: s.input, output: s.output, modelId: "m", chunkSize: CHUNK, force: true });
    assert.deepEqual(await unsealFile(s.output, forced.key), await readFile(s.input));
    await assert.rejects(
      sealModel({ input: s.input, output: path.join(dir, "x.vtm"), modelId: "bad id!", chunkSize: CHUNK }),
      sealedError("bad-header"),
    );
    assert.deepEqual(
      (await import("node:fs")).readdirSync(dir).filter((f) => f.endsWith(".partial")),
      [],
    );
  });
});

describe("tampering is detected", () => {
  const plain = randomBytes(3 * CHUNK + 100);
  let s: Awaited<ReturnType<typeof sealBytes>>;
  let sealed: Buffer;
  let headerLength: number;

  before(async () => {
    s = await sealBytes(plain);
    sealed = await readFile(s.output);
    headerLength = decodeHeader(sealed).length;
  });

  test("one flipped bit at every header offset", async () => {
    for (let i = 0; i < headerLength; i++) {
      const bytes = Buffer.from(sealed);
      bytes[i]! ^= 0x01;
      await assert.rejects(unsealBytes(bytes, s.key), (error: unknown) => {
        assert.ok(error instanceof SealedModelError, `offset ${i}: ${String(error)}`);
        return true;
      });
    }
  });

  test("a flipped byte in each chunk's ciphertext and tag", async () => {
    const chunkStarts = [0, 1, 2, 3].map((i) => headerLength + i * (CHUNK + TAG));
    for (const [i, start] of chunkStarts.entries()) {
      const end = i === 3 ? sealed.length : start + CHUNK + TAG;
      for (const at of [start, start + 7, end - TAG - 1, end - TAG, end - 1]) {
        const bytes = Buffer.from(sealed);
        bytes[at]! ^= 0x80;
        await assert.rejects(unsealBytes(bytes, s.key), sealedError(i === 0 ? "wrong-key" : "chunk-auth-failed"));
      }
    }
  });

  test("truncation anywhere", async () => {
    for (const cut of [1, TAG, CHUNK + TAG, 2 * (CHUNK + TAG), sealed.length - headerLength - 1]) {
      await assert.rejects(unsealBytes(sealed.subarray(0, sealed.length - cut), s.key), sealedError("truncated"));
    }
    await assert.rejects(unsealBytes(sealed.subarray(0, headerLength - 3), s.key), sealedError("truncated"));
    await assert.rejects(unsealBytes(sealed.subarray(0, 4), s.key), sealedError("truncated"));
  });

  test("extension: bytes after the final chunk", async () => {
    await assert.rejects(unsealBytes(Buffer.concat([sealed, Buffer.from([0])]), s.key), sealedError("extended"));
    const again = Buffer.concat([sealed, sealed.subarray(headerLength, headerLength + CHUNK + TAG)]);
    await assert.rejects(unsealBytes(again, s.key), sealedError("extended"));
  });

  test("two chunks swapped", async () => {
    const a = headerLength + (CHUNK + TAG);
    const b = a + (CHUNK + TAG);
    const bytes = Buffer.concat([
      sealed.subarray(0, a),
      sealed.subarray(b, b + CHUNK + TAG),
      sealed.subarray(a, b),
      sealed.subarray(b + CHUNK + TAG),
    ]);
    assert.equal(bytes.length, sealed.length);
    await assert.rejects(unsealBytes(bytes, s.key), sealedError("chunk-auth-failed"));
  });

  test("a chunk spliced from another file sealed under the same key", async () => {
    const other = await sealBytes(randomBytes(plain.length), { key: s.key });
    const otherBytes = await readFile(other.output);
    const at = headerLength + (CHUNK + TAG);
    const bytes = Buffer.from(sealed);
    otherBytes.copy(bytes, at, at, at + CHUNK + TAG);
    await assert.rejects(unsealBytes(bytes, s.key), sealedError("chunk-auth-failed"));
    // The other file's header on this file's chunks: another salt and header hash.
    const swappedHeader = Buffer.concat([otherBytes.subarray(0, headerLength), sealed.subarray(headerLength)]);
    await assert.rejects(unsealBytes(swappedHeader, s.key), sealedError("wrong-key"));
  });

  test("a wrong key, and a key of the wrong length", async () => {
    await assert.rejects(unsealFile(s.output, randomBytes(32)), sealedError("wrong-key"));
    await assert.rejects(unsealFile(s.output, randomBytes(16)), sealedError("bad-key"));
  });

  test("a final chunk dropped at a chunk boundary is truncation, even with a consistent length field", async () => {
    // Rewrite the header to claim three chunks: every chunk then has a wrong AAD (header hash), so it cannot pass.
    const { header } = decodeHeader(sealed);
    const shorter = encodeHeader({ ...header, plaintextLength: 3 * CHUNK });
    const bytes = Buffer.concat([shorter, sealed.subarray(headerLength, headerLength + 3 * (CHUNK + TAG))]);
    await assert.rejects(unsealBytes(bytes, s.key), sealedError("wrong-key"));
  });
});

const headerArb: fc.Arbitrary<SealedHeader> = fc
  .record({
    chunkShift: fc.integer({ min: 12, max: 24 }),
    plaintextLength: fc.maxSafeNat(),
    plaintextSha256: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fileId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    owners: fc.array(fc.webUrl(), { maxLength: 4 }),
    thresholdPick: fc.nat(),
    modelId: fc.stringMatching(/^[A-Za-z0-9._-]{1,128}$/),
  })
  .map((r) => ({
    version: 1,
    aeadId: 1,
    chunkSize: 2 ** r.chunkShift,
    plaintextLength: r.plaintextLength,
    plaintextSha256: Buffer.from(r.plaintextSha256).toString("hex"),
    fileId: Buffer.from(r.fileId).toString("hex"),
    owners: r.owners,
    threshold: r.owners.length === 0 ? 1 : 1 + (r.thresholdPick % r.owners.length),
    modelId: r.modelId,
  }));

describe("header codec properties", () => {
  test("decode(encode(h)) is h, and its length is the encoding's", () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        const bytes = encodeHeader(h);
        const { header, length } = decodeHeader(bytes);
        assert.deepEqual(header, h);
        assert.equal(length, bytes.length);
      }),
    );
  });

  test("arbitrary bytes (with or without the magic) decode or throw SealedModelError, nothing else", () => {
    const magic = new TextEncoder().encode("VERITEEM");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (tail, withMagic) => {
        const bytes = withMagic ? Buffer.concat([magic, Buffer.from([0, 1]), tail]) : tail;
        try {
          decodeHeader(bytes);
        } catch (error) {
          assert.ok(error instanceof SealedModelError, String(error));
        }
      }),
    );
  });

  test("every single-byte mutation of a valid header decodes or throws SealedModelError", () => {
    fc.assert(
      fc.property(headerArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (h, pos, flip) => {
        const bytes = encodeHeader(h);
        bytes[pos % bytes.length]! ^= flip;
        try {
          decodeHeader(bytes);
        } catch (error) {
          assert.ok(error instanceof SealedModelError, String(error));
        }
      }),
    );
  });
});

describe("models large enough to hash on a second thread (≥ 8 MiB)", () => {
  test("round trip, the standard SHA-256 in the header, and the digest bound by the final chunk", async () => {
    const plain = randomBytes(9 * 1024 * 1024 + 123);
    const input = path.join(dir, "large.bin");
    const output = path.join(dir, "large.vtm");
    await writeFile(input, plain);
    const sealed = await sealModel({ input, output, modelId: "large", chunkSize: 1024 * 1024 });
    const { createHash } = await import("node:crypto");
    assert.equal(sealed.plaintextSha256, createHash("sha256").update(plain).digest("hex"));
    assert.equal(decodeHeader(await readFile(output)).header.plaintextSha256, sealed.plaintextSha256);
    assert.ok((await unsealFile(output, sealed.key)).equals(plain));

    const bytes = await readFile(output);
    const digestAt = 8 + 2 + 2 + 4 + 8;
    bytes[digestAt + 5]! ^= 0x10;
    await assert.rejects(unsealBytes(bytes, sealed.key), sealedError("chunk-auth-failed"));
    const truncated = (await readFile(output)).subarray(0, bytes.length - 1000);
    await assert.rejects(unsealBytes(truncated, sealed.key), sealedError("truncated"));
  });
});
