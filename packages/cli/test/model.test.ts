/**
 * `veritee model seal|inspect` as a user runs them: a sealed file and an
 * owner-only key file that open the model again, k-of-n shares in one key
 * file per owner, refusals before any work, and no key in any output.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { combineModelKey, readKeyFile, unsealModel } from "@veritee/custody";
import { EXIT } from "../src/exit-codes.js";
import { veritee } from "./run-cli.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-model-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

// A model of three chunks and a bit, with a canary that must never show in the sealed file or any output.
const CANARY = "canary-weights-7f3a9c";
const model = path.join(tmp, "tiny.gguf");
writeFileSync(model, Buffer.concat([Buffer.from(CANARY), randomBytes(3 * 4096 + 100), Buffer.from(CANARY)]));

async function unsealToBytes(sealed: string, key: Uint8Array): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  await unsealModel({ input: sealed, key, write: (c) => void parts.push(Uint8Array.from(c)) });
  return Buffer.concat(parts);
}

test("seal --key-out writes a sealed file and a 0600 key file that open the model; inspect shows the header", async () => {
  const sealed = path.join(tmp, "tiny.sealed");
  const keyFile = path.join(tmp, "tiny.key");
  const r = await veritee(
    "model",
    "seal",
    "--in",
    model,
    "--out",
    sealed,
    "--key-out",
    keyFile,
    "--chunk-size",
    "4096",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const key = await readKeyFile(keyFile);
  assert.equal(key.modelId, "tiny");
  assert.equal(key.threshold, 1);
  assert.ok(!readFileSync(sealed).includes(CANARY), "the sealed file holds no plaintext");
  assert.deepEqual(await unsealToBytes(sealed, key.secret), readFileSync(model));
  const secretB64 = Buffer.from(key.secret).toString("base64");
  const secretHex = Buffer.from(key.secret).toString("hex");
  for (const text of [r.stdout, r.stderr]) {
    assert.ok(!text.includes(secretB64) && !text.includes(secretHex), "the key is in no output");
  }

  const shown = await veritee("model", "inspect", sealed, "--json");
  assert.equal(shown.code, 0, shown.stderr);
  const header = JSON.parse(shown.stdout) as Record<string, unknown>;
  assert.equal(header.modelId, "tiny");
  assert.equal(header.chunkSize, 4096);
  assert.equal(header.plaintextLength, statSync(model).size);
  assert.equal(header.plaintextSha256, key.plaintextSha256);
  assert.match(String(header.sealedSha256), /^[0-9a-f]{64}$/);
  assert.equal(header.sealedBytes, statSync(sealed).size);
  const text = await veritee("model", "inspect", sealed);
  assert.match(text.stdout, /model id: +tiny/);

  // Sealing again never replaces the sealed file or the key file.
  const again = await veritee(
    "model",
    "seal",
    "--in",
    model,
    "--out",
    sealed,
    "--key-out",
    path.join(tmp, "other.key"),
  );
  assert.equal(again.code, EXIT.usage);
  assert.match(again.stderr, /exists/);
  const keyAgain = await veritee(
    "model",
    "seal",
    "--in",
    model,
    "--out",
    path.join(tmp, "x.sealed"),
    "--key-out",
    keyFile,
  );
  assert.equal(keyAgain.code, EXIT.usage);
  assert.match(keyAgain.stderr, /never replaced/);
  assert.deepEqual(
    readdirSync(tmp).filter((f) => f.startsWith("x.sealed") || f.includes("partial")),
    [],
  );
});

test("seal --owners --threshold --key-out DIR writes one share per owner; any k open the model", async () => {
  const sealed = path.join(tmp, "shared.sealed");
  const dir = path.join(tmp, "shares");
  mkdirSync(dir);
  const owners = "http://127.0.0.1:9/a,http://127.0.0.1:9/b,http://127.0.0.1:9/c";
  const r = await veritee(
    ...["model", "seal", "--in", model, "--out", sealed, "--model-id", "shared-1"],
    ...["--owners", owners, "--threshold", "2", "--key-out", dir],
  );
  // Key files instead of registration: no custodian is asked (none listens on port 9).
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /custodian model add --key-file/);
  const files = readdirSync(dir).sort();
  assert.deepEqual(files, ["shared-1.share-1.key", "shared-1.share-2.key", "shared-1.share-3.key"]);
  const shares = await Promise.all(files.map((f) => readKeyFile(path.join(dir, f))));
  for (const [i, share] of shares.entries()) {
    assert.equal(share.threshold, 2);
    assert.equal(share.shareIndex, i + 1);
  }
  const key = await combineModelKey([shares[0]!.secret, shares[2]!.secret]);
  assert.deepEqual(await unsealToBytes(sealed, key), readFileSync(model));
  const header = JSON.parse((await veritee("model", "inspect", sealed, "--json", "--no-digest")).stdout) as {
    owners: string[];
    threshold: number;
  };
  assert.deepEqual(header.owners, owners.split(","));
  assert.equal(header.threshold, 2);
});

test("bad seal options are refused before any work, naming the option", async () => {
  const out = path.join(tmp, "never.sealed");
  const cases: [string[], RegExp][] = [
    [[], /must go somewhere/],
    [["--key-out", path.join(tmp, "k1"), "--model-id", "no spaces"], /--model-id/],
    [["--owners", "http://a.example", "--threshold", "2"], /at least two/],
    [["--owners", "http://a.example,http://b.example"], /--threshold/],
    [["--owners", "http://a.example,http://b.example", "--threshold", "3"], /--threshold must be 2 to 2/],
    [["--owners", "http://a.example,http://a.example", "--threshold", "2"], /twice/],
    [["--owners", "ftp://a.example,http://b.example", "--threshold", "2"], /not http/],
    [["--custodian", "http://a.example", "--threshold", "2"], /--threshold goes with --owners/],
    [["--key-out", path.join(tmp, "k2"), "--chunk-size", "1000"], /chunk/i],
  ];
  for (const [flags, message] of cases) {
    const r = await veritee("model", "seal", "--in", model, "--out", out, ...flags);
    assert.notEqual(r.code, 0, flags.join(" "));
    assert.match(r.stderr, message, flags.join(" "));
  }
  const missing = await veritee(
    "model",
    "seal",
    "--in",
    path.join(tmp, "nope"),
    "--out",
    out,
    "--key-out",
    path.join(tmp, "k3"),
  );
  assert.equal(missing.code, EXIT.environment);
  assert.deepEqual(
    readdirSync(tmp).filter((f) => f.startsWith("never") || f.startsWith("k")),
    [],
  );
});

test("inspect refuses a file that is not a sealed model with the custody exit code", async () => {
  const r = await veritee("model", "inspect", model);
  assert.equal(r.code, EXIT.custody);
  assert.match(r.stderr, /bad-magic/);
  const none = await veritee("model", "inspect", path.join(tmp, "nope"));
  assert.equal(none.code, EXIT.environment);
});
