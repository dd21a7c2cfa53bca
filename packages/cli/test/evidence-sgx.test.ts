/**
 * `veritee evidence verify --type sgx`: both real SGX v3 quotes in
 * ../shared/vectors/sgx with Intel's SGX TCB info and QE identity at a
 * pinned time (✓ claims, --json), type detection, zero padding, typed
 * failures with their exit codes, and forged quotes under a test root for
 * the CRL path (the vectors hold no CRL current at that time).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { intelSgxRootCa } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import {
  forgeQeIdentity,
  forgeSgxQuote,
  forgeSgxTcbInfo,
  makeTdxPki,
  pemChain,
  TDX_TEST_TIME,
  TEST_FMSPC,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { buildCrl } from "@veritee/testkit/x509";
import type { EvidenceReport } from "../src/commands/evidence.js";
import { detectEvidenceType } from "../src/commands/evidence-input.js";
import { EXIT } from "../src/exit-codes.js";
import { veritee } from "./run-cli.js";

const SGX = (name: string) => sharedPath("vectors", "sgx", name);
const AT = "2025-08-20T00:00:00Z";

let dir: string;
let collateral: string;
let occlum: string;
let v3: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "veritee-sgx-"));
  occlum = SGX("occlum_quote.dat");
  const hex = (await readFile(SGX("quotev3.hex"), "utf8")).trim();
  v3 = await temp("quotev3.dat", Buffer.from(hex, "hex"));
  // Intel's collateral, laid out as the CLI reads it (docs/CLI.md); PCS sends the signing chain as PEM.
  collateral = path.join(dir, "collateral");
  await temp("collateral/sgx-tcb-info/00606a000000", await readFile(SGX("sgx_tcbinfov3_00606a000000.json")));
  await temp("collateral/sgx-qe-identity/qe", await readFile(SGX("sgx_qeidentity_v4.json")));
  const signing = new Uint8Array(await readFile(SGX("intel_sgx_tcb_signing.der")));
  await temp("collateral/tcb-signing-chain/intel", pemChain([signing, intelSgxRootCa()]));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function temp(name: string, bytes: Uint8Array | string): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  return file;
}

function json(stdout: string): EvidenceReport {
  return JSON.parse(stdout) as EvidenceReport;
}

function claim(report: EvidenceReport, name: string) {
  const found = report.claims.find((c) => c.name === name);
  assert.ok(found, `claim ${name}`);
  return found;
}

function assertFailure(r: { code: number; stdout: string; stderr: string }, exit: number, kind: string, code: string) {
  assert.equal(r.code, exit, r.stderr);
  const report = json(r.stdout);
  assert.equal(report.verdict, "fail");
  assert.deepEqual([report.failure?.kind, report.failure?.code], [kind, code]);
  assert.match(r.stderr, new RegExp(`^veritee: ${kind} error ${code}:`));
  return report;
}

describe("veritee evidence verify --type sgx (real vectors)", () => {
  it("the v3 sample verifies fully: ✓ claims, TCB status SWHardeningNeeded, CRLs not checked", async () => {
    const [text, j] = await Promise.all([
      veritee("evidence", "verify", v3, "--type", "sgx", "--collateral", collateral, "--at", AT),
      veritee("evidence", "verify", v3, "--collateral", collateral, "--at", AT, "--json"),
    ]);
    assert.equal(text.code, EXIT.ok, text.stderr);
    assert.match(text.stdout, /^Intel SGX quote, at 2025-08-20T00:00:00\.000Z, against the vendor's embedded roots\n/);
    assert.match(text.stdout, /\n {2}✓ MRENCLAVE +a4f45c39dac622cb1dd32ddb35a52ec92db41d0fa88a1c911c49e59c534f61cd\n/);
    assert.match(text.stdout, /\n {2}✓ TCB status +platform SWHardeningNeeded, QE UpToDate\n/);
    assert.match(text.stdout, /\n {2}· PCK CRL +not checked/);
    assert.match(text.stdout, /\nPASS\n$/);
    assert.equal(j.code, EXIT.ok, j.stderr);
    const report = json(j.stdout);
    assert.deepEqual([report.type, report.verdict, report.mode], ["sgx", "pass", "full"]);
    assert.equal(claim(report, "FMSPC").value, "00606a000000");
    assert.equal(claim(report, "attributes").value, "0500000000000000e700000000000000 (debug off)");
    assert.equal(claim(report, "advisories").value, "INTEL-SA-00615");
    assert.equal(claim(report, "nonce").status, "not-checked");
  });

  it("the Occlum quote: OutOfDate, a debug enclave; --nonce checks its report data", async () => {
    const base = ["evidence", "verify", occlum, "--collateral", collateral, "--at", AT, "--json"];
    const first = await veritee(...base);
    const report = json(first.stdout);
    assert.match(claim(report, "TCB status").value, /^platform OutOfDate, QE UpToDate$/);
    assert.match(claim(report, "attributes").value, /\(debug on\)$/);
    const rd = claim(report, "report data").value;
    const [good, bad] = await Promise.all([
      veritee(...base, "--nonce", rd),
      veritee(...base, "--nonce", `${rd.slice(0, -2)}${rd.endsWith("00") ? "01" : "00"}`),
    ]);
    assert.equal(good.code, EXIT.ok, good.stderr);
    assert.equal(claim(json(good.stdout), "nonce").status, "verified");
    assertFailure(bad, EXIT.verification, "verification", "nonce-mismatch");
  });

  it("--signatures-only needs no collateral; zero padding is accepted and shown, other trailing bytes are exit 10", async () => {
    const bytes = new Uint8Array(await readFile(occlum));
    const padded = await temp("padded.dat", Uint8Array.from([...bytes, ...new Uint8Array(2048)]));
    const junk = await temp("junk.dat", Uint8Array.from([...bytes, 0, 0, 7]));
    const [sig, pad, trailing, allowed] = await Promise.all([
      veritee("evidence", "verify", occlum, "--signatures-only", "--at", AT, "--json"),
      veritee("evidence", "verify", padded, "--type", "sgx", "--signatures-only", "--at", AT, "--json"),
      veritee("evidence", "verify", junk, "--type", "sgx", "--signatures-only", "--at", AT, "--json"),
      veritee("evidence", "verify", junk, "--signatures-only", "--allow-trailing-data", "--at", AT, "--json"),
    ]);
    assert.equal(sig.code, EXIT.ok, sig.stderr);
    assert.deepEqual(
      [json(sig.stdout).mode, claim(json(sig.stdout), "TCB status").status],
      ["signatures-only", "not-checked"],
    );
    assert.equal(pad.code, EXIT.ok, pad.stderr);
    assert.match(claim(json(pad.stdout), "trailing bytes").value, /^2048 after the quote/);
    const r = assertFailure(trailing, EXIT.malformed, "malformed", "trailing-data");
    assert.equal(r.failure?.field, "SGX quote");
    assert.equal(allowed.code, EXIT.ok, allowed.stderr);
  });

  it("typed failures: a mutated enclave body (exit 11), no collateral (exit 13), a TDX quote as --type sgx (exit 10), --cert (exit 2)", async () => {
    const bytes = new Uint8Array(await readFile(v3));
    bytes[48 + 64]! ^= 1; // inside MRENCLAVE, signed by the attestation key
    const mutated = await temp("mutated.dat", bytes);
    const empty = path.join(dir, "empty");
    await mkdir(empty, { recursive: true });
    const tdx = sharedPath("vectors", "tdx", "quote_v5_sample.dat");
    const [sig, none, lacking, wrong, cert] = await Promise.all([
      veritee("evidence", "verify", mutated, "--signatures-only", "--at", AT, "--json"),
      veritee("evidence", "verify", v3, "--at", AT, "--json"),
      veritee("evidence", "verify", v3, "--collateral", empty, "--at", AT, "--json"),
      veritee("evidence", "verify", tdx, "--type", "sgx", "--signatures-only", "--at", AT, "--json"),
      veritee("evidence", "verify", v3, "--cert", occlum, "--signatures-only", "--at", AT),
    ]);
    assertFailure(sig, EXIT.verification, "verification", "sgx-quote-signature");
    assertFailure(none, EXIT.collateral, "collateral", "collateral-missing");
    const r = assertFailure(lacking, EXIT.collateral, "collateral", "collateral-missing");
    assert.match(r.failure?.message ?? "", /sgx-tcb-info\/00606a000000/);
    assertFailure(wrong, EXIT.malformed, "malformed", "unsupported");
    assert.equal(cert.code, EXIT.usage);
  });

  it("detects SGX quotes from their header", async () => {
    assert.equal(detectEvidenceType(new Uint8Array(await readFile(occlum))), "sgx");
    assert.equal(detectEvidenceType(new Uint8Array(await readFile(v3))), "sgx");
  });
});

describe("veritee evidence verify --type sgx (forged under a test root)", () => {
  it("full verification with both CRLs checked; a revoked PCK is exit 11", async () => {
    const pki = makeTdxPki();
    const quote = await temp("forged.dat", forgeSgxQuote(pki));
    const crlTime = new Date("2025-05-01T00:00:00Z");
    const forged = (name: string) => path.join(dir, name);
    for (const [d, pckCrl] of [
      ["forged", buildCrl({ issuer: pki.platformCa, thisUpdate: crlTime })],
      ["revoked", buildCrl({ issuer: pki.platformCa, thisUpdate: crlTime, revoked: [{ serial: pki.pck.serial }] })],
    ] as const) {
      await temp(`${d}/sgx-tcb-info/${TEST_FMSPC}`, forgeSgxTcbInfo(pki));
      await temp(`${d}/sgx-qe-identity/qe`, forgeQeIdentity(pki, { id: "QE" }));
      await temp(`${d}/tcb-signing-chain/intel`, tcbSigningChainPem(pki));
      await temp(`${d}/pck-crl/platform`, pckCrl);
      await temp(`${d}/root-crl/intel`, buildCrl({ issuer: pki.root, thisUpdate: crlTime }));
    }
    const root = await temp("forged-root.der", pki.root.cert);
    const at = TDX_TEST_TIME.toISOString();
    const [ok, revoked] = await Promise.all([
      veritee("evidence", "verify", quote, "--collateral", forged("forged"), "--root", root, "--at", at, "--json"),
      veritee("evidence", "verify", quote, "--collateral", forged("revoked"), "--root", root, "--at", at, "--json"),
    ]);
    assert.equal(ok.code, EXIT.ok, ok.stderr);
    const report = json(ok.stdout);
    assert.deepEqual([report.verdict, report.roots], ["pass", "custom"]);
    assert.equal(claim(report, "PCK CRL").status, "verified");
    assert.equal(claim(report, "root CA CRL").status, "verified");
    assert.match(claim(report, "TCB status").value, /^platform UpToDate, QE UpToDate$/);
    assertFailure(revoked, EXIT.verification, "verification", "cert-revoked");
  });
});
