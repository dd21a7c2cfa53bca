/**
 * `veritee evidence verify`: every SEV-SNP, TDX and NVIDIA vector in
 * ../shared/vectors through the CLI at a pinned time, forged evidence under
 * a test root (--root) for the full TDX path, one-byte mutations rejected
 * with the typed code and exit code, --json, usage errors and --help; the
 * --at parser and type detection in process, with property tests.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { sharedPath } from "@veritee/testkit";
import { defaultGpuReportFields, forgeGpuReport, makeGpuDeviceChain } from "@veritee/testkit/nvidia";
import {
  defaultTdxBody,
  forgeQeIdentity,
  forgeTcbInfo,
  forgeTdxQuote,
  INTEL_TCB_SIGNING_PEM,
  makeTdxPki,
  TDX_TEST_TIME,
  TEST_FMSPC,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import fc from "fast-check";
import { CliError } from "../src/cli-error.js";
import type { EvidenceReport } from "../src/commands/evidence.js";
import { detectEvidenceType, parseIsoTime } from "../src/commands/evidence-input.js";
import { EXIT } from "../src/exit-codes.js";
import { veritee } from "./run-cli.js";

const SNP = (name: string) => sharedPath("vectors", "sev-snp", name);
const TDX = (name: string) => sharedPath("vectors", "tdx", name);
const GPU = (name: string) => sharedPath("vectors", "nvidia", name);

const SNP_AT = "2023-01-01T00:00:00Z";
const TDX_AT = "2023-06-20T00:00:00Z";
const TDX_V5_AT = "2026-06-01T00:00:00Z";
const GPU_AT = "2024-06-01T00:00:00Z";
/** The nonce in the H100 vector's request (PROVENANCE.md). */
const GPU_NONCE = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb";

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "veritee-evidence-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Write `bytes` to a fresh file in the temp directory and return its path. */
async function temp(name: string, bytes: Uint8Array | string): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  return file;
}

/** A copy of `file` with byte `offset` XOR-ed with `mask`. */
async function mutated(file: string, offset: number, mask = 0x01, name = `m-${offset}-${path.basename(file)}`) {
  const bytes = new Uint8Array(await readFile(file));
  bytes[offset]! ^= mask;
  return temp(name, bytes);
}

function json(stdout: string): EvidenceReport {
  return JSON.parse(stdout) as EvidenceReport;
}

function claim(report: EvidenceReport, name: string) {
  const found = report.claims.find((c) => c.name === name);
  assert.ok(found, `claim ${name}`);
  return found;
}

/** Assert a failed run: exit code, failure kind and code in --json output and on stderr. */
function assertFailure(
  r: { code: number; stdout: string; stderr: string },
  exit: number,
  kind: string,
  code: string,
): EvidenceReport {
  assert.equal(r.code, exit, r.stderr);
  const report = json(r.stdout);
  assert.equal(report.verdict, "fail");
  assert.deepEqual([report.failure?.kind, report.failure?.code], [kind, code]);
  assert.deepEqual(report.claims, []);
  assert.match(r.stderr, new RegExp(`^veritee: ${kind} error ${code}:`));
  return report;
}

describe("SEV-SNP", () => {
  const snpArgs = (report = SNP("attestation.bin"), ...more: string[]) => [
    "evidence",
    "verify",
    report,
    "--cert",
    SNP("vcek.der"),
    "--cert",
    SNP("milan.testcer"),
    "--at",
    SNP_AT,
    ...more,
  ];

  it("verifies attestation.bin with its VCEK and the Milan ASK/ARK (type detected), printing the claims", async () => {
    const r = await veritee(...snpArgs());
    assert.equal(r.code, EXIT.ok, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(
      lines[0],
      `AMD SEV-SNP attestation report, at 2023-01-01T00:00:00.000Z, against the vendor's embedded roots`,
    );
    assert.match(r.stdout, /\n {2}✓ product +Milan\n/);
    assert.match(r.stdout, /\n {2}✓ signer +VCEK → ARK-Milan \(3 certificates\)\n/);
    assert.match(r.stdout, /\n {2}✓ measurement +[0-9a-f]{96}\n/);
    assert.match(
      r.stdout,
      /\n {2}✓ reported TCB +bootloader \d+, tee \d+, snp \d+, microcode \d+ \(0x[0-9a-f]{16}\)\n/,
    );
    assert.match(r.stdout, /\n {2}✓ chip id +[0-9a-f]{128}\n/);
    assert.match(r.stdout, /\n {2}· nonce +not checked \(no --nonce\)\n/);
    assert.match(r.stdout, /\n {2}· revocation +not checked/);
    assert.equal(lines.at(-1), "PASS");
  });

  it("--json: type, verdict, claims; --nonce equal to the report data passes, any other fails with nonce-mismatch", async () => {
    const r = await veritee(...snpArgs(undefined, "--type", "snp", "--json"));
    assert.equal(r.code, EXIT.ok, r.stderr);
    const report = json(r.stdout);
    assert.deepEqual(
      [report.type, report.verdict, report.mode, report.roots, report.failure],
      ["snp", "pass", "full", "embedded", null],
    );
    assert.equal(report.at, "2023-01-01T00:00:00.000Z");
    const reportData = claim(report, "report data").value;
    assert.match(reportData, /^[0-9a-f]{128}$/);
    assert.equal(claim(report, "measurement").status, "verified");
    assert.equal(claim(report, "nonce").status, "not-checked");

    const ok = json((await veritee(...snpArgs(undefined, "--nonce", reportData, "--json"))).stdout);
    assert.deepEqual(claim(ok, "nonce"), { name: "nonce", value: "REPORT_DATA equals --nonce", status: "verified" });
    const flipped = (reportData[0] === "0" ? "1" : "0") + reportData.slice(1);
    assertFailure(
      await veritee(...snpArgs(undefined, "--nonce", flipped, "--json")),
      EXIT.verification,
      "verification",
      "nonce-mismatch",
    );
  });

  it("a one-byte change in the signed part, the signature or a reserved field is refused with its typed code", async () => {
    const report = SNP("attestation.bin");
    const [measurement, signature, reserved] = await Promise.all([
      mutated(report, 0x90), // MEASUREMENT (56860 Table 23)
      mutated(report, 0x2a0 + 10), // signature r
      mutated(report, 0x250), // a must-be-zero range (0x208–0x29F)
    ]);
    const runs = await Promise.all([
      veritee(...snpArgs(measurement, "--json")),
      veritee(...snpArgs(signature, "--json")),
      veritee(...snpArgs(reserved)),
    ]);
    assertFailure(runs[0]!, EXIT.verification, "verification", "signature-invalid");
    assertFailure(runs[1]!, EXIT.verification, "verification", "signature-invalid");
    // Human output of a failure: ✗ with the typed error, then FAIL with the field that did not decode.
    const text = runs[2]!;
    assert.equal(text.code, EXIT.malformed, text.stderr);
    assert.match(text.stdout, /\n {2}✗ malformed error reserved-nonzero: /);
    assert.match(
      text.stdout,
      /\nFAIL — malformed error reserved-nonzero \(ATTESTATION_REPORT\.reserved 0x[0-9A-F]+\)\n$/,
    );
    assert.match(text.stderr, /^veritee: malformed error reserved-nonzero: /);
  });

  it("a mutated VCEK, an expired validation time and another root are refused", async () => {
    const vcek = await mutated(SNP("vcek.der"), 600, 0x01, "vcek-mutated.der");
    const other = makeTdxPki().root.cert;
    const rootFile = await temp("other-root.der", other);
    const [badCert, expired, wrongRoot] = await Promise.all([
      veritee("evidence", "verify", SNP("attestation.bin"), "--cert", vcek, "--at", SNP_AT, "--json"),
      veritee(...snpArgs(undefined, "--at", "2035-01-01", "--json")),
      veritee(...snpArgs(undefined, "--root", rootFile, "--json")),
    ]);
    assert.ok(badCert.code === EXIT.verification || badCert.code === EXIT.malformed, badCert.stderr);
    assert.equal(json(badCert.stdout).verdict, "fail");
    assertFailure(expired, EXIT.verification, "verification", "cert-expired");
    const custom = json(wrongRoot.stdout);
    assert.equal(custom.roots, "custom");
    assert.equal(wrongRoot.code, EXIT.verification);
  });

  it("without the VCEK, or with TDX-only flags: usage errors", async () => {
    const runs = await Promise.all([
      veritee("evidence", "verify", SNP("attestation.bin"), "--at", SNP_AT),
      veritee(...snpArgs(undefined, "--signatures-only")),
    ]);
    for (const r of runs) {
      assert.equal(r.code, EXIT.usage, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^veritee: usage error bad-argument: /);
    }
  });
});

describe("Intel TDX", () => {
  let collateral: string;
  before(async () => {
    // The vectors' collateral, laid out as `veritee evidence verify` reads it (docs/CLI.md).
    collateral = path.join(dir, "tdx-collateral");
    await temp("tdx-collateral/tdx-tcb-info/50806f000000", await readFile(TDX("sample_tcbInfo_response")));
    await temp("tdx-collateral/tdx-qe-identity/td", await readFile(TDX("sample_qeIdentity_response")));
    await temp("tdx-collateral/tcb-signing-chain/intel", INTEL_TCB_SIGNING_PEM);
    await temp("tdx-collateral/pck-crl/platform", await readFile(TDX("pckcrl")));
    await temp("tdx-collateral/root-crl/intel", await readFile(TDX("rootcrl.der")));
  });
  const prod = TDX("tdx_prod_quote_SPR_E4.dat");

  it("the production quote has a note appended: refused as trailing-data unless --allow-trailing-data", async () => {
    const r = await veritee("evidence", "verify", prod, "--collateral", collateral, "--at", TDX_AT, "--json");
    const report = assertFailure(r, EXIT.malformed, "malformed", "trailing-data");
    assert.equal(report.type, "tdx");
    assert.equal(report.failure?.field, "TDX quote");
  });

  it("with the vectors' collateral: every check up to the TCB level passes, and the platform is below every level (tdx-tcb-not-supported)", async () => {
    const args = ["evidence", "verify", prod, "--allow-trailing-data", "--collateral", collateral, "--at", TDX_AT];
    const text = await veritee(...args);
    assert.equal(text.code, EXIT.verification, text.stderr);
    assert.match(text.stderr, /^veritee: verification error tdx-tcb-not-supported: /);
    assert.match(text.stdout, /^Intel TDX quote, at 2023-06-20T00:00:00\.000Z, against the vendor's embedded roots\n/);
    assert.match(text.stdout, /\n {2}✗ verification error tdx-tcb-not-supported: /);
    assert.match(text.stdout, /\nFAIL — verification error tdx-tcb-not-supported\n$/);
  });

  it("--signatures-only: PCK chain with both CRLs, QE report, attestation key and quote signatures; no TCB status", async () => {
    const r = await veritee(
      "evidence",
      "verify",
      prod,
      "--signatures-only",
      "--allow-trailing-data",
      "--collateral",
      collateral,
      "--at",
      TDX_AT,
      "--json",
    );
    assert.equal(r.code, EXIT.ok, r.stderr);
    const report = json(r.stdout);
    assert.deepEqual([report.type, report.verdict, report.mode], ["tdx", "pass", "signatures-only"]);
    assert.equal(claim(report, "FMSPC").value, "50806f000000");
    assert.equal(claim(report, "PCK CRL").status, "verified");
    assert.equal(claim(report, "root CA CRL").status, "verified");
    assert.match(claim(report, "PCK chain").value, /Intel SGX Root CA/);
    assert.match(claim(report, "MRTD").value, /^[0-9a-f]{96}$/);
    for (const i of [0, 1, 2, 3]) assert.match(claim(report, `RTMR${i}`).value, /^[0-9a-f]{96}$/);
    assert.equal(claim(report, "TCB status").status, "not-checked");
    const text = await veritee(
      "evidence",
      "verify",
      prod,
      "--signatures-only",
      "--allow-trailing-data",
      "--at",
      TDX_AT,
    );
    assert.equal(text.code, EXIT.ok, text.stderr);
    assert.match(text.stdout, /\n {2}· PCK CRL +not checked/);
    assert.match(text.stdout, /\nPASS — signatures only: TCB status not evaluated\n$/);
  });

  it("the v5 sample verifies signatures-only at its own pinned time", async () => {
    const r = await veritee(
      "evidence",
      "verify",
      TDX("quote_v5_sample.dat"),
      "--signatures-only",
      "--at",
      TDX_V5_AT,
      "--json",
    );
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(claim(json(r.stdout), "quote").value, /^version 5, TD 1\.[05] body$/);
  });

  it("missing collateral is exit 13: no --collateral, or a directory without the TCB info", async () => {
    const empty = path.join(dir, "empty-collateral");
    await mkdir(empty, { recursive: true });
    const [none, lacking] = await Promise.all([
      veritee("evidence", "verify", prod, "--allow-trailing-data", "--at", TDX_AT, "--json"),
      veritee("evidence", "verify", prod, "--allow-trailing-data", "--collateral", empty, "--at", TDX_AT, "--json"),
    ]);
    assertFailure(none, EXIT.collateral, "collateral", "collateral-missing");
    const r = assertFailure(lacking, EXIT.collateral, "collateral", "collateral-missing");
    assert.match(r.failure?.message ?? "", /tdx-tcb-info\/50806f000000/);
  });

  it("a one-byte change in the body is refused (exit 11)", async () => {
    // Byte 48 + 200 is inside MRTD (TD_QUOTE_BODY), signed by the attestation key.
    const body = await mutated(prod, 48 + 200);
    const r = await veritee(
      "evidence",
      "verify",
      body,
      "--signatures-only",
      "--allow-trailing-data",
      "--at",
      TDX_AT,
      "--json",
    );
    assertFailure(r, EXIT.verification, "verification", "tdx-quote-signature");
  });

  it("full verification to a TCB status on a forged quote and collateral under a test root (--root)", async () => {
    const pki = makeTdxPki();
    const reportData = new Uint8Array(64).fill(0x5a);
    const quote = await temp("forged.dat", forgeTdxQuote(pki, { body: { ...defaultTdxBody(), reportData } }));
    const forged = path.join(dir, "forged-collateral");
    await temp(`forged-collateral/tdx-tcb-info/${TEST_FMSPC}`, forgeTcbInfo(pki));
    await temp("forged-collateral/tdx-qe-identity/td", forgeQeIdentity(pki));
    await temp("forged-collateral/tcb-signing-chain/intel", tcbSigningChainPem(pki));
    const root = await temp("forged-root.der", pki.root.cert);
    const at = TDX_TEST_TIME.toISOString();
    const args = ["evidence", "verify", quote, "--collateral", forged, "--root", root, "--at", at];
    const [j, text, bad, embedded] = await Promise.all([
      veritee(...args, "--nonce", "5a".repeat(64), "--json"),
      veritee(...args),
      veritee(...args, "--nonce", "5a".repeat(63), "--json"),
      veritee("evidence", "verify", quote, "--collateral", forged, "--at", at, "--json"),
    ]);
    assert.equal(j.code, EXIT.ok, j.stderr);
    const report = json(j.stdout);
    assert.deepEqual([report.verdict, report.mode, report.roots], ["pass", "full", "custom"]);
    assert.match(claim(report, "TCB status").value, /^platform UpToDate, QE UpToDate/);
    assert.equal(claim(report, "FMSPC").value, TEST_FMSPC);
    assert.match(text.stdout, /^⚠ trust anchors from --root, not the vendor's embedded roots\n/);
    assert.match(text.stdout, /\n {2}✓ TCB status +platform UpToDate/);
    assert.equal(claim(report, "nonce").status, "verified");
    // 63 bytes of 0x5a, zero-padded: the 64th byte differs.
    assertFailure(bad, EXIT.verification, "verification", "nonce-mismatch");
    // Without --root the forged chain does not reach Intel's root.
    assertFailure(embedded, EXIT.verification, "verification", "cert-untrusted-root");
  });

  it("--cert is refused for TDX (the PCK chain is in the quote)", async () => {
    const r = await veritee("evidence", "verify", prod, "--cert", SNP("vcek.der"), "--signatures-only", "--at", TDX_AT);
    assert.equal(r.code, EXIT.usage);
  });
});

describe("NVIDIA", () => {
  const report = GPU("hopperAttestationReport.txt");
  const chain = GPU("hopperCertChain.txt");

  it("verifies the H100 report with its chain at 2024-06-01 (type detected) and prints versions and measurements", async () => {
    const r = await veritee("evidence", "verify", report, "--cert", chain, "--at", GPU_AT);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(r.stdout, /^NVIDIA GPU attestation report, at 2024-06-01T00:00:00\.000Z/);
    assert.match(r.stdout, /\n {2}✓ device chain +device certificate → NVIDIA Device Identity CA \(5 certificates\)\n/);
    assert.match(r.stdout, /\n {2}✓ chip +GH100\n/);
    assert.match(r.stdout, /\n {2}✓ driver version +\d+\.\d+\.\d+\n/);
    assert.match(r.stdout, /\n {2}✓ VBIOS version +[0-9A-Fa-f.]+\n/);
    assert.match(r.stdout, /\n {2}✓ measurement 1 +[0-9a-f]{96}\n/);
    assert.match(
      r.stdout,
      new RegExp(`\\n {2}· nonce +not checked \\(no --nonce\\); the report answers ${GPU_NONCE}\\n`),
    );
    assert.match(r.stdout, /\nPASS\n$/);
  });

  it("--nonce: the vector's nonce passes, another fails with nvidia-nonce-mismatch, a short one is a usage error", async () => {
    const base = ["evidence", "verify", report, "--type", "nvidia", "--cert", chain, "--at", GPU_AT, "--json"];
    const [ok, other, short] = await Promise.all([
      veritee(...base, "--nonce", GPU_NONCE),
      veritee(...base, "--nonce", "00".repeat(32)),
      veritee(...base, "--nonce", "00".repeat(16)),
    ]);
    assert.equal(ok.code, EXIT.ok, ok.stderr);
    assert.equal(claim(json(ok.stdout), "nonce").status, "verified");
    assertFailure(other, EXIT.verification, "verification", "nvidia-nonce-mismatch");
    assert.equal(short.code, EXIT.usage);
  });

  it("a one-digit change in the report or the chain is refused with a typed error", async () => {
    const text = await readFile(report, "utf8");
    // Hex digit 200 lies in the measurement record (signed); flip it to another hex digit.
    const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === "0" ? "1" : "0") + t.slice(i + 1);
    const changed = await temp("gpu-mutated.txt", flip(text, 200));
    const pem = await readFile(chain, "utf8");
    const badChain = await temp("chain-mutated.txt", flip(pem, pem.indexOf("\n", 40) + 30));
    const [r1, r2, expired] = await Promise.all([
      veritee("evidence", "verify", changed, "--cert", chain, "--at", GPU_AT, "--json"),
      veritee("evidence", "verify", report, "--cert", badChain, "--at", GPU_AT, "--json"),
      veritee("evidence", "verify", report, "--cert", chain, "--at", "2020-01-01", "--json"),
    ]);
    assertFailure(r1, EXIT.verification, "verification", "signature-invalid");
    assert.ok([EXIT.malformed, EXIT.verification].includes(r2.code as 10 | 11), r2.stderr);
    assert.equal(json(r2.stdout).verdict, "fail");
    assertFailure(expired, EXIT.verification, "verification", "cert-not-yet-valid");
  });

  it("newer opaque fields, unknown ones shown as found, and zero padding after the signature", async () => {
    const device = makeGpuDeviceChain();
    const fields = defaultGpuReportFields();
    fields.opaque.push({ type: 36, value: Uint8Array.of(1) }, { type: 0x40, value: Uint8Array.of(0xde, 0xad) });
    const file = await temp("newer-gpu.bin", Uint8Array.from([...forgeGpuReport(device, fields), 0]));
    const chainFile = await temp("newer-gpu-chain.der", device.device);
    const intermediates = await temp("newer-gpu-ica.der", device.intermediate.cert);
    const root = await temp("newer-gpu-root.der", device.root.cert);
    const nonce = Buffer.from(fields.nonce).toString("hex");
    const r = await veritee(
      ...["evidence", "verify", file, "--type", "nvidia", "--cert", chainFile, "--cert", intermediates],
      ...["--root", root, "--nonce", nonce, "--at", GPU_AT],
    );
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(r.stdout, /\n {2}✓ feature mode +mpt\n/);
    assert.match(r.stdout, /\n {2}✓ opaque field 64 +dead\n/);
  });

  it("a forged report under a test root verifies only with that root given (--root)", async () => {
    const device = makeGpuDeviceChain();
    const fields = defaultGpuReportFields();
    const file = await temp("forged-gpu.bin", forgeGpuReport(device, fields));
    const chainFile = await temp("forged-gpu-chain.der", device.device);
    const intermediates = await temp("forged-gpu-ica.der", device.intermediate.cert);
    const root = await temp("forged-gpu-root.der", device.root.cert);
    const args = ["evidence", "verify", file, "--type", "nvidia", "--cert", chainFile, "--cert", intermediates];
    const nonce = Buffer.from(fields.nonce).toString("hex");
    const [ok, untrusted] = await Promise.all([
      veritee(...args, "--root", root, "--nonce", nonce, "--json"),
      veritee(...args, "--nonce", nonce, "--json"),
    ]);
    assert.equal(ok.code, EXIT.ok, ok.stderr);
    assert.equal(json(ok.stdout).roots, "custom");
    assertFailure(untrusted, EXIT.verification, "verification", "cert-untrusted-root");
  });
});

describe("usage", () => {
  it("bad --at, --type, --nonce, an undetectable, missing file or directory", async () => {
    const snp = SNP("attestation.bin");
    const cert = ["--cert", SNP("vcek.der")];
    const [at, type, nonce, undetectable, azure, missing, noDir] = await Promise.all([
      veritee("evidence", "verify", snp, ...cert, "--at", "2023-06-20T00:00:00"),
      veritee("evidence", "verify", snp, ...cert, "--type", "sev"),
      veritee("evidence", "verify", snp, ...cert, "--nonce", "xyz"),
      veritee("evidence", "verify", GPU("1010_0200_882_96005E0001_PROD.swidtag")),
      veritee("evidence", "verify", snp, "--type", "azure-vtpm"),
      veritee("evidence", "verify", path.join(dir, "no-such-file"), "--at", SNP_AT),
      veritee("evidence", "verify", snp, ...cert, "--collateral", path.join(dir, "no-such-dir")),
    ]);
    for (const r of [at, type, nonce, undetectable, azure]) assert.equal(r.code, EXIT.usage, `${r.stdout}${r.stderr}`);
    assert.match(at.stderr, /--at must be an ISO 8601 date or date-time with a zone/);
    assert.match(nonce.stderr, /--nonce must be hex/);
    assert.match(undetectable.stderr, /give --type snp\|tdx\|sgx\|nvidia/);
    assert.match(azure.stderr, /--type azure-vtpm needs --quote-attest/);
    for (const r of [missing, noDir]) {
      assert.equal(r.code, EXIT.environment, r.stderr);
      assert.match(r.stderr, /file-not-found/);
    }
  });

  it("--help lists every option", async () => {
    const r = await veritee("evidence", "verify", "--help");
    assert.equal(r.code, EXIT.ok);
    for (const option of [
      "--type",
      "--cert",
      "--collateral",
      "--at",
      "--nonce",
      "--root",
      "--signatures-only",
      "--allow-trailing-data",
      "--json",
    ]) {
      assert.ok(r.stdout.includes(option), option);
    }
    assert.match(r.stdout, /Exit codes: 0 verified, 2 usage, 10 malformed evidence, 11 verification failed, 13/);
  });
});

describe("--at parsing and type detection (in process)", () => {
  it("accepts dates and zoned date-times, refuses everything else", () => {
    assert.equal(parseIsoTime("2023-06-20").toISOString(), "2023-06-20T00:00:00.000Z");
    assert.equal(parseIsoTime("2023-06-20T12:34Z").toISOString(), "2023-06-20T12:34:00.000Z");
    assert.equal(parseIsoTime("2023-06-20T14:00:00+02:00").toISOString(), "2023-06-20T12:00:00.000Z");
    assert.equal(parseIsoTime("2023-06-20T00:30:00-01:15").toISOString(), "2023-06-20T01:45:00.000Z");
    assert.equal(parseIsoTime("2024-02-29T23:59:59.123456Z").toISOString(), "2024-02-29T23:59:59.123Z");
    for (const bad of [
      "",
      "2023-6-20",
      "2023-02-29",
      "2023-04-31",
      "2023-00-10",
      "2023-06-20T24:00:00Z",
      "2023-06-20T12:60Z",
      "2023-06-20T12:00:60Z",
      "2023-06-20T12:00:00",
      "2023-06-20T12:00:00+0200",
      "2023-06-20T12:00:00+02:60",
      "2023-06-20 12:00:00Z",
      "2023-06-20T12:00:00.Z",
      " 2023-06-20",
      "20230620",
      "0050-01-01",
    ]) {
      assert.throws(
        () => parseIsoTime(bad),
        (e: unknown) => e instanceof CliError && e.code === "bad-argument",
        bad,
      );
    }
  });

  it("property: any string gives a Date or a usage error; every ISO instant round-trips", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          assert.ok(!Number.isNaN(parseIsoTime(s).getTime()));
        } catch (e) {
          assert.ok(e instanceof CliError && e.code === "bad-argument");
        }
      }),
    );
    fc.assert(
      fc.property(
        fc.date({ min: new Date("1000-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }),
        (d) => {
          assert.equal(parseIsoTime(d.toISOString()).getTime(), d.getTime());
        },
      ),
    );
  });

  it("detects each vector's type and nothing in random bytes but what the header says", async () => {
    const read = async (f: string) => new Uint8Array(await readFile(f));
    assert.equal(detectEvidenceType(await read(SNP("attestation.bin"))), "snp");
    assert.equal(detectEvidenceType(await read(TDX("tdx_prod_quote_SPR_E4.dat"))), "tdx");
    assert.equal(detectEvidenceType(await read(TDX("quote_v5_sample.dat"))), "tdx");
    assert.equal(detectEvidenceType(await read(GPU("hopperAttestationReport.txt"))), "nvidia");
    assert.equal(detectEvidenceType(await read(GPU("hopperCertChain.txt"))), undefined);
    assert.equal(detectEvidenceType(await read(SNP("vcek.der"))), undefined);
    assert.equal(detectEvidenceType(new Uint8Array(0)), undefined);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1300 }), (bytes) => {
        const type = detectEvidenceType(bytes);
        assert.ok(type === undefined || type === "snp" || type === "tdx" || type === "sgx" || type === "nvidia");
        if (type === "snp") assert.equal(bytes.length, 1184);
        if (type === "tdx") assert.equal(bytes[4], 0x81);
        if (type === "sgx") assert.deepEqual([...bytes.subarray(0, 8)], [3, 0, 2, 0, 0, 0, 0, 0]);
      }),
    );
  });
});
