/** Key files: owner-only, never replaced, strict on read, and never quoting the secret. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  decodeKeyFile,
  encodeKeyFile,
  type ModelKeyFile,
  readKeyFile,
  SealedModelError,
  writeKeyFile,
} from "../src/index.js";

const dir = await mkdtemp(join(tmpdir(), "veritee-keyfile-"));
after(() => rm(dir, { recursive: true, force: true }));

const digest = "ab".repeat(32);
const whole: ModelKeyFile = {
  modelId: "stories-260k",
  secret: new Uint8Array(randomBytes(32)),
  plaintextSha256: digest,
  threshold: 1,
};
const badKey = (error: unknown) => error instanceof SealedModelError && error.code === "bad-key";

test("a key file is written 0600, round-trips, and is never replaced", async () => {
  const path = join(dir, "whole.key");
  const before = process.umask(0);
  try {
    await writeKeyFile(path, whole);
  } finally {
    process.umask(before);
  }
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await readKeyFile(path), whole);
  await assert.rejects(
    writeKeyFile(path, whole),
    (e: unknown) => e instanceof SealedModelError && e.code === "output-exists",
  );
  const share: ModelKeyFile = { ...whole, secret: new Uint8Array(randomBytes(33)), threshold: 2, shareIndex: 3 };
  const sharePath = join(dir, "share.key");
  await writeKeyFile(sharePath, share);
  assert.deepEqual(await readKeyFile(sharePath), share);
});

test("a key file others can read is refused, naming its mode", async () => {
  const path = join(dir, "open.key");
  await writeKeyFile(path, whole);
  await chmod(path, 0o644);
  await assert.rejects(readKeyFile(path), (e: unknown) => badKey(e) && /mode 644/.test((e as Error).message));
});

test("malformed key files are refused with bad-key and no secret in the message", async () => {
  const good = JSON.parse(encodeKeyFile(whole)) as Record<string, unknown>;
  const secretText = good.secret as string;
  const cases: Record<string, unknown>[] = [
    { ...good, format: "other" },
    { ...good, extra: 1 },
    { ...good, secret: Buffer.from(randomBytes(31)).toString("base64") },
    { ...good, threshold: 2 },
    { ...good, shareIndex: 1 },
    { ...good, plaintextSha256: "AB".repeat(32) },
    { ...good, modelId: "no spaces" },
    { ...good, secret: `${secretText}!` },
  ];
  for (const json of cases) {
    assert.throws(
      () => decodeKeyFile(new TextEncoder().encode(JSON.stringify(json))),
      (e: unknown) => badKey(e) && !(e as Error).message.includes(secretText),
    );
  }
  const path = join(dir, "garbage.key");
  await writeFile(path, "not json", { mode: 0o600 });
  await assert.rejects(readKeyFile(path), badKey);
  assert.ok((await readFile(path, "utf8")).length > 0);
});
