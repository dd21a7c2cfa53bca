/**
 * The `veritee` CLI against a real development TPM: sim lifecycle, attest,
 * verify-quote (and its failure exit codes), and interoperability both ways
 * with tpm2-tools (`tpm2_checkquote` accepts our quotes; our verifier accepts
 * `tpm2_quote`'s).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { EXIT } from "../src/exit-codes.js";
import { veritee } from "./run-cli.js";

let dir: string;
let stateDir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-cli-"));
  stateDir = path.join(dir, "state");
  const started = await veritee("tpm", "sim", "start", "--state-dir", stateDir, "--port", "0", "--json");
  assert.equal(started.code, 0, started.stderr);
  assert.equal(JSON.parse(started.stdout).running, true);
});

after(async () => {
  const stopped = await veritee("tpm", "sim", "stop", "--state-dir", stateDir);
  assert.equal(stopped.code, 0, stopped.stderr);
  await rm(dir, { recursive: true, force: true });
});

async function attest(nonce: string, out: string, ...extra: string[]) {
  const r = await veritee("tpm", "attest", "--state-dir", stateDir, "--nonce", nonce, "--out", out, ...extra);
  assert.equal(r.code, 0, r.stderr);
  const f = (n: string) => path.join(out, n);
  return { f, pcrList: (await readFile(f("pcr-list.txt"), "utf8")).trim() };
}

function verifyArgs(f: (n: string) => string, nonce: string, withPcrs = true): string[] {
  return [
    "tpm",
    "verify-quote",
    "--ak-public",
    f("ak.pub"),
    "--attest",
    f("quote.msg"),
    "--signature",
    f("quote.sig"),
    "--nonce",
    nonce,
    ...(withPcrs ? ["--pcr-values", f("pcrs.bin")] : []),
  ];
}

describe("veritee tpm", () => {
  test("sim status reports the running TPM", async () => {
    const r = await veritee("tpm", "sim", "status", "--state-dir", stateDir, "--json");
    assert.equal(r.code, 0);
    const status = JSON.parse(r.stdout);
    assert.equal(status.running, true);
    assert.equal(status.provisioned, true);
  });

  for (const ak of ["ecc-p256", "rsa-2048"]) {
    test(`attest + verify-quote with an ${ak} AK, and tpm2_checkquote agrees`, async () => {
      const nonce = "00112233445566778899aabbccddeeff";
      const { f, pcrList } = await attest(nonce, path.join(dir, ak), "--ak", ak, "--pcrs", "sha256:0-4+sha1:0,16");
      assert.equal(pcrList, "sha1:0,16+sha256:0,1,2,3,4");
      const r = await veritee(...verifyArgs(f, nonce), "--json");
      assert.equal(r.code, 0, r.stderr);
      const verified = JSON.parse(r.stdout);
      assert.equal(verified.verified, true);
      assert.equal(verified.extraData, nonce);
      assert.deepEqual(verified.pcrSelection, [
        { bank: "sha1", pcrs: [0, 16] },
        { bank: "sha256", pcrs: [0, 1, 2, 3, 4] },
      ]);
      // tpm2-tools' independent verifier accepts the same files (with fewer
      // than 8 PCRs in all: tpm2-tools 5.4 cannot hash a values file of 8 or
      // more, tpm2-tools issue #3542).
      const check = spawnSync(
        "tpm2_checkquote",
        ["-u", f("ak.pub"), "-m", f("quote.msg"), "-s", f("quote.sig"), "-f", f("pcrs.bin")].concat([
          "-l",
          pcrList,
          "-g",
          "sha256",
          "-q",
          nonce,
        ]),
        { encoding: "utf8" },
      );
      assert.equal(check.status, 0, check.stderr);
    });
  }

  test("the AK persists: a second attest reuses the same key", async () => {
    const a = await attest("01", path.join(dir, "reuse-a"));
    const b = await attest("02", path.join(dir, "reuse-b"));
    assert.deepEqual(await readFile(a.f("ak.pub")), await readFile(b.f("ak.pub")));
  });

  test("a wrong nonce, a changed PCR value or a forged signature fail with exit 11 and the code", async () => {
    const nonce = "aa".repeat(32);
    const { f } = await attest(nonce, path.join(dir, "attack"));
    const wrongNonce = await veritee(...verifyArgs(f, "bb".repeat(32)));
    assert.equal(wrongNonce.code, EXIT.verification);
    assert.match(wrongNonce.stderr, /nonce-mismatch/);
    assert.equal(wrongNonce.stdout, "");

    const pcrs = new Uint8Array(await readFile(f("pcrs.bin")));
    pcrs[5] = pcrs[5]! ^ 1;
    await writeFile(f("pcrs-bad.bin"), pcrs);
    const args = verifyArgs(f, nonce);
    args[args.length - 1] = f("pcrs-bad.bin");
    const wrongPcr = await veritee(...args);
    assert.equal(wrongPcr.code, EXIT.verification);
    assert.match(wrongPcr.stderr, /pcr-digest-mismatch/);

    const sig = new Uint8Array(await readFile(f("quote.sig")));
    sig[sig.length - 3] = sig[sig.length - 3]! ^ 0x40;
    await writeFile(f("quote.sig"), sig);
    const forged = await veritee(...verifyArgs(f, nonce, false));
    assert.equal(forged.code, EXIT.verification);
    assert.match(forged.stderr, /signature-invalid/);
  });

  test("truncated evidence is malformed (exit 10); bad arguments are usage errors (exit 2)", async () => {
    const nonce = "cc".repeat(16);
    const { f } = await attest(nonce, path.join(dir, "malformed"));
    const msg = await readFile(f("quote.msg"));
    await writeFile(f("quote.msg"), msg.subarray(0, msg.length - 1));
    const truncated = await veritee(...verifyArgs(f, nonce, false));
    assert.equal(truncated.code, EXIT.malformed);
    assert.match(truncated.stderr, /truncated/);

    const badHex = await veritee(...verifyArgs(f, "xyz", false));
    assert.equal(badHex.code, EXIT.usage);
    assert.match(badHex.stderr, /--nonce must be hex/);

    const missing = await veritee("tpm", "verify-quote", "--attest", f("quote.msg"));
    assert.equal(missing.code, EXIT.usage);

    const noFile = await veritee(...verifyArgs((n) => path.join(dir, "nope", n), nonce, false));
    assert.equal(noFile.code, EXIT.environment);
    assert.match(noFile.stderr, /no such file/);
  });

  test("quotes made by tpm2_quote verify with ours", async () => {
    const status = JSON.parse((await veritee("tpm", "sim", "status", "--state-dir", stateDir, "--json")).stdout);
    const env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${status.port}` };
    const work = path.join(dir, "tools");
    const sh = (cmd: string) => {
      const r = spawnSync("sh", ["-c", cmd], { cwd: dir, env, encoding: "utf8" });
      assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    };
    sh(`mkdir -p ${work} && cd ${work} && tpm2_createek -c ek.ctx -G rsa -u ek.pub >/dev/null && tpm2_flushcontext -t`);
    sh(`cd ${work} && tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pub -n ak.name >/dev/null`);
    sh(`cd ${work} && tpm2_flushcontext -t && tpm2_flushcontext -s`);
    sh(
      `cd ${work} && tpm2_quote -c ak.ctx -l sha256:0,1,2,16 -q c0ffee -m q.msg -s q.sig -o pcrs.bin -F values -g sha256 >/dev/null && tpm2_flushcontext -t`,
    );
    const f = (n: string) => path.join(work, n);
    const r = await veritee(
      "tpm",
      "verify-quote",
      "--ak-public",
      f("ak.pub"),
      "--attest",
      f("q.msg"),
      "--signature",
      f("q.sig"),
      "--nonce",
      "c0ffee",
      "--pcr-values",
      f("pcrs.bin"),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /quote verified/);
  });

  test("attest without a running TPM says how to start one", async () => {
    const r = await veritee("tpm", "attest", "--state-dir", path.join(dir, "none"), "--nonce", "00", "--out", dir);
    assert.equal(r.code, EXIT.environment);
    assert.match(r.stderr, /veritee tpm sim start/);
  });
});
