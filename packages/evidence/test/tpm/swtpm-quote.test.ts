/**
 * Interop: quotes made by a real TPM 2.0 implementation (swtpm/libtpms) through
 * tpm2-tools verify with `verifyQuote`. Starts its own swtpm on 127.0.0.1 and
 * stops it afterwards; skipped when swtpm or tpm2-tools are not installed.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { toHex } from "@veritee/core";
import { VerificationError } from "../../src/errors.js";
import { decodeTpmsAttest } from "../../src/tpm/attest.js";
import { decodePcrValuesFile } from "../../src/tpm/pcr-selection.js";
import { verifyQuote } from "../../src/tpm/quote.js";
import { rejectsWith } from "./typed.js";

function installed(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** Two consecutive free ports (swtpm's data port P and control port P + 1). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error("no free port pair");
}

function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const c = net.connect(port, "127.0.0.1");
      c.once("connect", () => {
        c.destroy();
        resolve();
      });
      c.once("error", () => {
        c.destroy();
        if (Date.now() > deadline) reject(new Error("swtpm did not start"));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

const haveTools = [
  "swtpm",
  "tpm2_createek",
  "tpm2_createak",
  "tpm2_quote",
  "tpm2_pcrextend",
  "tpm2_flushcontext",
].every(installed);

test("quotes from swtpm via tpm2-tools verify (ECDSA P-256, ECDSA P-384, RSASSA, RSAPSS)", {
  skip: haveTools ? false : "swtpm or tpm2-tools not installed",
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "veritee-swtpm-"));
  let swtpm: ChildProcess | undefined;
  try {
    const port = await freePortPair();
    swtpm = spawn(
      "swtpm",
      [
        "socket",
        "--tpm2",
        "--server",
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        "--ctrl",
        `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
        "--flags",
        "not-need-init,startup-clear",
        "--tpmstate",
        `dir=${dir}`,
      ],
      { stdio: "ignore" },
    );
    await waitForPort(port, 10_000);
    const env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` };
    const f = (name: string) => path.join(dir, name);
    const run = (tool: string, ...args: string[]) => {
      execFileSync(tool, args, { env, cwd: dir, stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
      // swtpm has room for few transient objects; tpm2-tools leaves them loaded.
      execFileSync("tpm2_flushcontext", ["-t"], { env, stdio: "ignore", timeout: 10_000 });
    };

    run("tpm2_createek", "-c", f("ek.ctx"), "-G", "ecc", "-u", f("ek.pub"));
    const extend = "11".repeat(32);
    run("tpm2_pcrextend", `16:sha256=${extend}`);
    const expected16 = createHash("sha256").update(Buffer.alloc(32)).update(Buffer.from(extend, "hex")).digest();

    const cases = [
      { label: "ECDSA P-256", args: ["-G", "ecc", "-s", "ecdsa", "-g", "sha256"], quoteArgs: ["-g", "sha256"] },
      { label: "ECDSA P-384", args: ["-G", "ecc384", "-s", "ecdsa", "-g", "sha384"], quoteArgs: ["-g", "sha384"] },
      { label: "RSASSA", args: ["-G", "rsa", "-s", "rsassa", "-g", "sha256"], quoteArgs: ["-g", "sha256"] },
      {
        label: "RSAPSS",
        args: ["-G", "rsa", "-s", "rsapss", "-g", "sha256"],
        quoteArgs: ["-g", "sha256", "--scheme", "rsapss"],
      },
    ];
    for (const [i, c] of cases.entries()) {
      const ak = (n: string) => f(`ak${i}.${n}`);
      run(
        "tpm2_createak",
        "-C",
        f("ek.ctx"),
        "-c",
        ak("ctx"),
        ...c.args,
        "-u",
        ak("pub"),
        "-n",
        ak("name"),
        "-f",
        "tss",
      );
      const nonce = randomBytes(32);
      run(
        "tpm2_quote",
        "-c",
        ak("ctx"),
        "-l",
        "sha1:0,7+sha256:0,1,2,3,4,5,6,7,16",
        "-q",
        nonce.toString("hex"),
        ...c.quoteArgs,
        "-m",
        ak("msg"),
        "-s",
        ak("sig"),
        "-o",
        ak("pcrs"),
        "-F",
        "values",
      );
      const attestBytes = new Uint8Array(readFileSync(ak("msg")));
      const attest = decodeTpmsAttest(attestBytes);
      if (attest.attested.type !== "quote") throw new Error("not a quote");
      const pcrValues = decodePcrValuesFile(new Uint8Array(readFileSync(ak("pcrs"))), attest.attested.pcrSelect);
      const input = {
        akPublic: new Uint8Array(readFileSync(ak("pub"))),
        attest: attestBytes,
        signature: new Uint8Array(readFileSync(ak("sig"))),
        expectedExtraData: new Uint8Array(nonce),
        pcrValues,
        requirePcrValues: true,
        expectedAkName: new Uint8Array(readFileSync(ak("name"))),
      };
      const v = await verifyQuote(input);
      assert.equal(toHex(v.pcrValues!.get("sha256")!.get(16)!), expected16.toString("hex"), c.label);
      assert.deepEqual([...v.pcrValues!.get("sha1")!.keys()], [0, 7], c.label);
      assert.equal(v.signatureHash, c.label === "ECDSA P-384" ? "sha384" : "sha256");
      // And the same real quote fails on a stale nonce and on a changed PCR.
      const stale = new Uint8Array(nonce);
      stale[0]! ^= 1;
      await rejectsWith(verifyQuote({ ...input, expectedExtraData: stale }), VerificationError, "nonce-mismatch");
      const forged = new Map(pcrValues);
      forged.set(
        "sha256",
        new Map([...pcrValues.get("sha256")!].map(([k, val]) => [k, k === 16 ? new Uint8Array(32) : val])),
      );
      await rejectsWith(verifyQuote({ ...input, pcrValues: forged }), VerificationError, "pcr-digest-mismatch");
    }
  } finally {
    if (swtpm !== undefined && swtpm.exitCode === null) {
      const exited = new Promise((resolve) => swtpm!.once("exit", resolve));
      swtpm.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
