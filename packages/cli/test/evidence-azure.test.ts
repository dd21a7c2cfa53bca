/**
 * `veritee evidence verify FILE --type azure-vtpm` with FILE as Azure's own
 * capture, the az-cvm-vtpm attesters' evidence JSON, forged under test AMD
 * and Intel roots by @veritee/testkit/azure-vtpm (no swtpm, no server): the
 * AK comes from the HCL's runtime claims, no TPM2B_PUBLIC is asked for.
 * Then the attacks, each with its exit code and typed failure, and AMD's CRL
 * from --collateral DIR.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { toHex } from "@veritee/core";
import { defaultCvmPcrs, forgeAzCvmEvidence, forgeAzCvmTdxEvidence } from "@veritee/testkit/azure-vtpm";
import { snpTestPki } from "@veritee/testkit/snp";
import {
  forgeQeIdentity,
  forgeTcbInfo,
  makeTdxPki,
  TDX_TEST_TIME,
  TEST_FMSPC,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { buildCrl, rsaKey } from "@veritee/testkit/x509";
import type { EvidenceReport } from "../src/commands/evidence.js";
import { EXIT } from "../src/exit-codes.js";
import { veritee } from "./run-cli.js";

const pki = snpTestPki("Milan");
const AT = "2025-01-01T00:00:00Z";
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "veritee-azure-json-"));
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

function failure(r: { code: number; stdout: string; stderr: string }, exit: number, code: string): EvidenceReport {
  assert.equal(r.code, exit, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as EvidenceReport;
  assert.equal(report.verdict, "fail");
  assert.equal(report.failure?.code, code, report.failure?.message);
  return report;
}

describe("veritee evidence verify: az-cvm-vtpm evidence JSON (SEV-SNP)", () => {
  const good = forgeAzCvmEvidence(pki);
  let evidence: string;
  let anchors: string[];
  before(async () => {
    evidence = await temp("evidence.json", good.json);
    anchors = ["--root", await temp("ark.der", pki.ark.cert), "--cert", await temp("ask.der", pki.ask.cert)];
  });
  const run = (file: string, ...more: string[]) =>
    veritee("evidence", "verify", file, "--type", "azure-vtpm", ...anchors, "--at", AT, ...more);

  it("verifies with --nonce and no --ak-public: the AK is the HCL's HCLAkPub, every PCR is shown", async () => {
    const r = await run(evidence, "--nonce", toHex(good.nonce));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✓ AK\s+the claims' HCLAkPub \(the evidence carries no TPM public area\)/);
    assert.match(r.stdout, /✓ nonce\s+extraData equals --nonce/);
    assert.match(r.stdout, /✓ evidence\s+az-cvm-vtpm JSON, version 1/);
    assert.match(r.stdout, new RegExp(`✓ PCR 23 \\(sha256\\)\\s+${toHex(defaultCvmPcrs()[23]!)}`));
    assert.match(r.stdout, /· revocation\s+not checked \(no crl\/Milan collateral\)/);
    assert.match(r.stdout, /PASS/);
  });

  it("the type is detected from the JSON; without --nonce the nonce is not checked", async () => {
    const r = await veritee("evidence", "verify", evidence, ...anchors, "--at", AT, "--json");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as EvidenceReport;
    assert.equal(report.type, "azure-vtpm");
    const nonce = report.claims.find((c) => c.name === "nonce");
    assert.equal(nonce?.status, "not-checked");
    assert.match(nonce?.value ?? "", new RegExp(toHex(good.nonce)));
  });

  it("the evidence's VCEK may be given with --cert too; another VCEK is a usage error", async () => {
    const same = await run(evidence, "--cert", await temp("vcek.der", pki.vcek));
    assert.equal(same.code, 0, same.stdout + same.stderr);
    const other = snpTestPki("Genoa");
    const r = await run(evidence, "--cert", await temp("other-vcek.der", other.vcek));
    assert.equal(r.code, EXIT.usage, r.stdout + r.stderr);
  });

  it("attacks: another signer, other PCRs, a tampered HCL report, another nonce (exit 11)", async () => {
    const otherKey = rsaKey(2048).privateKey;
    const signer = await temp("signer.json", forgeAzCvmEvidence(pki, { signingKey: otherKey }).json);
    failure(await run(signer, "--json"), EXIT.verification, "signature-invalid");
    const pcrs = defaultCvmPcrs();
    pcrs[0] = new Uint8Array(32).fill(0xaa);
    const pcrFile = await temp("pcrs.json", forgeAzCvmEvidence(pki, { pcrs, quotedPcrs: defaultCvmPcrs() }).json);
    failure(await run(pcrFile, "--json"), EXIT.verification, "pcr-digest-mismatch");
    const unbound = forgeAzCvmEvidence(pki, { snp: { snp: { reportData: new Uint8Array(64).fill(1) } } });
    failure(
      await run(await temp("unbound.json", unbound.json), "--json"),
      EXIT.verification,
      "azure-runtime-data-mismatch",
    );
    failure(await run(evidence, "--nonce", "00".repeat(32), "--json"), EXIT.verification, "nonce-mismatch");
  });

  it("malformed JSON: an unknown member, a bad encoding (exit 10)", async () => {
    const unknown = forgeAzCvmEvidence(pki, { edit: (o) => ({ ...o, ak_pub: "AAAA" }) });
    failure(await run(await temp("unknown.json", unknown.json), "--json"), EXIT.malformed, "bad-value");
    const unpadded = forgeAzCvmEvidence(pki, { edit: (o) => ({ ...o, vcek: String(o.vcek).replace(/=+$/, "") }) });
    const r = await run(await temp("unpadded.json", unpadded.json), "--json");
    assert.equal(r.code, EXIT.malformed, r.stdout + r.stderr);
  });

  it("AMD's CRL from --collateral DIR: a revoked ASK fails (cert-revoked), a clean CRL is shown as checked", async () => {
    const pss = "rsa-pss-sha384" as const;
    await temp(
      "revoking/crl/Milan",
      buildCrl({ issuer: pki.ark, sigAlg: pss, revoked: [{ serial: Uint8Array.of(1) }] }),
    );
    await temp(
      "clean/crl/Milan",
      buildCrl({ issuer: pki.ark, sigAlg: pss, revoked: [{ serial: Uint8Array.of(0x42) }] }),
    );
    failure(
      await run(evidence, "--collateral", path.join(dir, "revoking"), "--json"),
      EXIT.verification,
      "cert-revoked",
    );
    const clean = await run(evidence, "--collateral", path.join(dir, "clean"));
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /✓ revocation\s+ASK not on AMD's CRL/);
  });

  it("usage: the quote flags with JSON evidence, or an HCL report without them (exit 2)", async () => {
    const withFlags = await run(
      evidence,
      "--quote-attest",
      evidence,
      "--quote-signature",
      evidence,
      "--ak-public",
      evidence,
      "--nonce",
      "00",
    );
    assert.equal(withFlags.code, EXIT.usage, withFlags.stdout + withFlags.stderr);
    assert.match(withFlags.stderr, /carries its quote/);
    const hcl = await run(await temp("hcl.bin", good.hclReport));
    assert.equal(hcl.code, EXIT.usage, hcl.stdout + hcl.stderr);
    assert.match(hcl.stderr, /az-cvm-vtpm evidence JSON/);
  });
});

describe("veritee evidence verify: az-cvm-vtpm evidence JSON (TDX)", () => {
  const tdxPki = makeTdxPki();
  const forged = forgeAzCvmTdxEvidence(tdxPki);

  it("needs Intel collateral (exit 13); with it and the test root it verifies", async () => {
    const file = await temp("tdx.json", forged.json);
    const at = TDX_TEST_TIME.toISOString();
    const none = await veritee("evidence", "verify", file, "--at", at, "--json");
    failure(none, EXIT.collateral, "collateral-missing");
    await temp(`tdx-collateral/tdx-tcb-info/${TEST_FMSPC}`, forgeTcbInfo(tdxPki));
    await temp("tdx-collateral/tdx-qe-identity/td", forgeQeIdentity(tdxPki));
    await temp("tdx-collateral/tcb-signing-chain/intel", tcbSigningChainPem(tdxPki));
    const root = await temp("intel-root.der", tdxPki.root.cert);
    const args = ["--collateral", path.join(dir, "tdx-collateral"), "--root", root, "--at", at];
    const r = await veritee("evidence", "verify", file, ...args, "--nonce", toHex(forged.nonce));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✓ hardware\s+Intel TDX/);
    assert.match(r.stdout, /✓ AK\s+the claims' HCLAkPub/);
  });
});
