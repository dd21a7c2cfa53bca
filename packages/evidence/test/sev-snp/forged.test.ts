/**
 * One-field negatives for every check of verifySnpReport, on reports and
 * certificates forged under a test AMD root (@veritee/testkit/snp).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import {
  defaultSnpReportFields,
  forgeSnpReport,
  issueSnpEndorsement,
  SNP_TEST_TCB,
  snpTcbValue,
  snpTestPki,
} from "@veritee/testkit/snp";
import { buildCrl, ecKey, ext } from "@veritee/testkit/x509";
import { VerificationError } from "../../src/errors.js";
import { verifySnpReport } from "../../src/sev-snp/verify.js";

const AT = new Date("2025-01-01T00:00:00Z");
const milan = snpTestPki("Milan");

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VerificationError, `expected VerificationError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const verify = (report: Uint8Array, vcek: Uint8Array = milan.vcek, pki = milan) =>
  verifySnpReport({ report, vcek, at: AT, roots: pki.roots });

describe("forged SEV-SNP evidence under a test root", () => {
  it("an unchanged forged report verifies (the baseline of every negative below)", async () => {
    const v = await verify(forgeSnpReport(milan));
    assert.equal(v.product, "Milan");
    assert.equal(v.signer, "vcek");
    assert.equal(v.report.reportedTcb.snp, SNP_TEST_TCB.snp);
  });

  it("the test root is not trusted by default: only AMD's embedded roots are", async () => {
    await rejects(verifySnpReport({ report: forgeSnpReport(milan), vcek: milan.vcek, at: AT }), "cert-untrusted-root");
  });

  it("a report signed by another key: signature-invalid", async () => {
    const other = ecKey("P-384");
    await rejects(verify(forgeSnpReport(milan, {}, { signingKey: other.privateKey })), "signature-invalid");
  });

  it("SIGNING_KEY must name the certificate's kind, and a report must be signed", async () => {
    await rejects(verify(forgeSnpReport(milan, { keyInfo: 1 << 2 })), "snp-signing-key-mismatch", /VLEK/);
    await rejects(verify(forgeSnpReport(milan, { keyInfo: 7 << 2 })), "snp-unsigned");
  });

  it("a VLEK issued by the ASK, or a VCEK issued by the ASVK, is refused even when it chains to the ARK", async () => {
    // 57230 §2: the ASVK issues VLEKs and the ASK issues VCEKs. A host that supplies the
    // other intermediate gets a chain that builds, and is still refused.
    const vlekUnderAsk = issueSnpEndorsement({ ask: milan.ask, asvk: milan.ask, product: "Milan" }, { vlek: true });
    const vlekReport = forgeSnpReport(milan, { keyInfo: 1 << 2 }, { signingKey: vlekUnderAsk.key.privateKey });
    await rejects(verify(vlekReport, vlekUnderAsk.cert), "cert-untrusted-root");
    await rejects(
      verifySnpReport({
        report: vlekReport,
        vcek: vlekUnderAsk.cert,
        chain: { ask: milan.ask.cert },
        at: AT,
        roots: milan.roots,
      }),
      "snp-chain-mismatch",
      /VLEK is not issued by AMD's ASVK/,
    );
    const vcekUnderAsvk = issueSnpEndorsement(
      { ask: milan.asvk, asvk: milan.asvk, product: "Milan" },
      { key: milan.vcekKey },
    );
    await rejects(
      verifySnpReport({
        report: forgeSnpReport(milan),
        vcek: vcekUnderAsvk.cert,
        chain: { ask: milan.asvk.cert },
        at: AT,
        roots: milan.roots,
      }),
      "snp-chain-mismatch",
      /VCEK is not issued by AMD's ASK/,
    );
  });

  it("a VLEK carries a CSP id and no hwID: a certificate with both is malformed, whatever signed it", async () => {
    const both = issueSnpEndorsement(milan, {
      vlek: true,
      extra: [{ oid: "1.3.6.1.4.1.3704.1.4", value: defaultSnpReportFields().chipId }],
    });
    const report = forgeSnpReport(milan, { keyInfo: 1 << 2 }, { signingKey: both.key.privateKey });
    await assert.rejects(
      verify(report, both.cert),
      (e: unknown) => e instanceof MalformedError && /exactly one of hwID/.test(e.message),
    );
  });

  it("a VLEK without productName takes its product from the report's CPUID", async () => {
    const genoa = snpTestPki("Genoa");
    const vlek = issueSnpEndorsement(genoa, { vlek: true, productName: null });
    const report = forgeSnpReport(genoa, { keyInfo: 1 << 2 }, { signingKey: vlek.key.privateKey });
    const v = await verify(report, vlek.cert, genoa);
    assert.equal(v.product, "Genoa");
    assert.equal(v.signer, "vlek");
    assert.equal(v.endorsement.extensions.hwId, undefined);
    // A version 2 report carries no CPUID: without productName or a caller's product nothing says which root.
    const v2 = forgeSnpReport(genoa, { keyInfo: 1 << 2, version: 2 }, { signingKey: vlek.key.privateKey });
    await rejects(verify(v2, vlek.cert, genoa), "snp-product-unknown");
  });

  it("a VLEK verifies through the ASVK when SIGNING_KEY says VLEK, and only then", async () => {
    const vlek = issueSnpEndorsement(milan, { vlek: true });
    const signed = { signingKey: vlek.key.privateKey };
    const v = await verify(forgeSnpReport(milan, { keyInfo: 1 << 2 }, signed), vlek.cert);
    assert.equal(v.signer, "vlek");
    assert.equal(v.endorsement.extensions.cspId, "veritee-test-csp");
    await rejects(verify(forgeSnpReport(milan, {}, signed), vlek.cert), "snp-signing-key-mismatch");
    // A VLEK offered with the ASK (not the ASVK) does not chain.
    await rejects(
      verifySnpReport({
        report: forgeSnpReport(milan, { keyInfo: 1 << 2 }, signed),
        vcek: vlek.cert,
        chain: { ask: milan.ask.cert },
        at: AT,
        roots: milan.roots,
      }),
      "cert-untrusted-root",
    );
  });

  for (const component of ["bootloader", "tee", "snp", "microcode"] as const) {
    it(`REPORTED_TCB.${component} must equal the VCEK's SPL`, async () => {
      const reportedTcb = snpTcbValue({ ...SNP_TEST_TCB, [component]: SNP_TEST_TCB[component] + 1 });
      await rejects(verify(forgeSnpReport(milan, { reportedTcb })), "snp-tcb-mismatch", new RegExp(component));
    });
  }

  it("CHIP_ID must equal the hwID, unless masked", async () => {
    const chipId = new Uint8Array(64).fill(0xc2);
    await rejects(verify(forgeSnpReport(milan, { chipId })), "snp-chip-id-mismatch");
    const masked = await verify(forgeSnpReport(milan, { keyInfo: 2, chipId: new Uint8Array(64) }));
    assert.equal(masked.report.maskChipKey, true);
  });

  it("the VCEK must carry every TCB extension, a P-384 key and AMD's signature algorithm", async () => {
    const noUcode = issueSnpEndorsement(milan, { tcb: { microcode: null }, key: milan.vcekKey });
    await rejects(verify(forgeSnpReport(milan), noUcode.cert), "snp-certificate-invalid", /ucodeSPL/);
    const p256 = issueSnpEndorsement(milan, { key: ecKey("P-256") });
    await rejects(verify(forgeSnpReport(milan), p256.cert), "snp-certificate-invalid", /P-384/);
    const sha256 = issueSnpEndorsement(milan, { key: milan.vcekKey, sigAlg: "rsa-pss-sha256" });
    await rejects(verify(forgeSnpReport(milan), sha256.cert), "snp-certificate-invalid", /SHA-384/);
    const critical = issueSnpEndorsement(milan, { key: milan.vcekKey, extra: [ext.custom("1.2.3.4", true)] });
    await rejects(verify(forgeSnpReport(milan), critical.cert), "cert-unknown-critical-extension");
  });

  it("the product comes from productName or the caller, and they must agree", async () => {
    const unnamed = issueSnpEndorsement(milan, { productName: null, key: milan.vcekKey });
    // A version 2 report has no CPUID, so nothing names the product; version 3+ names it.
    const v2 = forgeSnpReport(milan, { version: 2 });
    await rejects(verify(v2, unnamed.cert), "snp-product-unknown");
    assert.equal((await verify(forgeSnpReport(milan), unnamed.cert)).product, "Milan");
    const v = await verifySnpReport({
      report: forgeSnpReport(milan),
      vcek: unnamed.cert,
      product: "Milan",
      at: AT,
      roots: milan.roots,
    });
    assert.equal(v.product, "Milan");
    const bergamo = issueSnpEndorsement(milan, { productName: "Bergamo-A0", key: milan.vcekKey });
    await rejects(verify(v2, bergamo.cert), "snp-product-unknown");
    await rejects(verify(forgeSnpReport(milan), bergamo.cert), "snp-product-mismatch", /Bergamo-A0/);
    await rejects(
      verifySnpReport({
        report: forgeSnpReport(milan),
        vcek: milan.vcek,
        product: "Genoa",
        at: AT,
        roots: milan.roots,
      }),
      "snp-product-mismatch",
    );
  });

  it("the report's CPU family must be the certificate product's", async () => {
    // Every field from a Turin report (its TCB layout included), signed by the Milan chip.
    await rejects(verify(forgeSnpReport(milan, defaultSnpReportFields("Turin"))), "snp-product-mismatch", /Turin/);
  });

  it("the report's CPUID model must name the product the caller and the certificate name", async () => {
    // A Genoa CPUID (family 19h, model 11h) with Milan's TCB layout, signed by the Milan chip.
    const genoaCpuid = { cpuid: defaultSnpReportFields("Genoa").cpuid };
    await rejects(verify(forgeSnpReport(milan, genoaCpuid)), "snp-product-mismatch", /Genoa/);
    await rejects(
      verifySnpReport({
        report: forgeSnpReport(milan, genoaCpuid),
        vcek: milan.vcek,
        at: AT,
        roots: milan.roots,
        product: "Milan",
      }),
      "snp-product-mismatch",
      /CPUID names Genoa/,
    );
    // An unlisted model of the Zen 3/4 family leaves the decision to the certificate.
    const v = await verify(forgeSnpReport(milan, { cpuid: { family: 0x19, model: 0x50, stepping: 0 } }));
    assert.equal(v.product, "Milan");
  });

  it("a VCEK issued directly by the ARK is refused (the path must be VCEK → ASK → ARK)", async () => {
    const direct = issueSnpEndorsement({ ask: milan.ark, asvk: milan.ark, product: "Milan" }, { key: milan.vcekKey });
    await rejects(verify(forgeSnpReport(milan), direct.cert), "snp-chain-mismatch");
  });

  it("validity windows of the forged VCEK are enforced", async () => {
    const old = issueSnpEndorsement(milan, { key: milan.vcekKey, notAfter: new Date("2024-06-01T00:00:00Z") });
    await rejects(verify(forgeSnpReport(milan), old.cert), "cert-expired");
  });
});

describe("AMD's ARK-signed CRL of ASKs", () => {
  const withCrl = (crl: Uint8Array) =>
    verifySnpReport({ report: forgeSnpReport(milan), vcek: milan.vcek, at: AT, roots: milan.roots, crl });
  const pss = "rsa-pss-sha384" as const;

  it("a current CRL that does not list the ASK passes", async () => {
    const v = await withCrl(buildCrl({ issuer: milan.ark, sigAlg: pss, revoked: [{ serial: Uint8Array.of(0x42) }] }));
    assert.equal(v.product, "Milan");
  });

  it("a revoked ASK: cert-revoked", async () => {
    await rejects(
      withCrl(buildCrl({ issuer: milan.ark, sigAlg: pss, revoked: [{ serial: Uint8Array.of(1) }] })),
      "cert-revoked",
      /ASK/,
    );
  });

  it("a CRL not signed by the ARK, stale, or from another CA is refused", async () => {
    const other = ecKey("P-384");
    await rejects(
      withCrl(buildCrl({ issuer: milan.ark, sigAlg: "ecdsa-sha384", signingKey: other.privateKey })),
      "crl-signature-invalid",
    );
    await rejects(
      withCrl(buildCrl({ issuer: milan.ark, sigAlg: pss, nextUpdate: new Date("2024-06-01") })),
      "crl-expired",
    );
    await rejects(withCrl(buildCrl({ issuer: milan.ask, sigAlg: pss })), "crl-issuer-mismatch");
  });
});

describe("forged Turin evidence (roots injected, FMC in the TCB)", () => {
  const turin = snpTestPki("Turin");

  it("verifies with injected roots and checks the FMC SPL", async () => {
    const v = await verify(forgeSnpReport(turin, { version: 5 }), turin.vcek, turin);
    assert.equal(v.product, "Turin");
    assert.equal(v.report.tcbLayout, "turin");
    assert.equal(v.report.reportedTcb.fmc, SNP_TEST_TCB.fmc);
    const reportedTcb = snpTcbValue({ ...SNP_TEST_TCB, fmc: 9 }, "Turin");
    await rejects(verify(forgeSnpReport(turin, { reportedTcb }), turin.vcek, turin), "snp-tcb-mismatch", /fmc/);
  });

  it("a Turin VCEK without fmcSPL is refused; a test Turin chain is not AMD's embedded Turin root", async () => {
    const noFmc = issueSnpEndorsement(turin, { tcb: { fmc: null }, key: turin.vcekKey });
    await rejects(verify(forgeSnpReport(turin), noFmc.cert, turin), "snp-certificate-invalid", /fmcSPL/);
    await rejects(verifySnpReport({ report: forgeSnpReport(turin), vcek: turin.vcek, at: AT }), "cert-untrusted-root");
  });

  it("a Turin VLEK verifies through the Turin ASVK, with the FMC SPL bound", async () => {
    const vlek = issueSnpEndorsement(turin, { vlek: true });
    const signed = { signingKey: vlek.key.privateKey };
    const v = await verify(forgeSnpReport(turin, { keyInfo: 1 << 2, version: 5 }, signed), vlek.cert, turin);
    assert.equal(v.product, "Turin");
    assert.equal(v.signer, "vlek");
    await rejects(verify(forgeSnpReport(turin, {}, signed), vlek.cert, turin), "snp-signing-key-mismatch");
    const reportedTcb = snpTcbValue({ ...SNP_TEST_TCB, fmc: 7 }, "Turin");
    await rejects(
      verify(forgeSnpReport(turin, { keyInfo: 1 << 2, reportedTcb }, signed), vlek.cert, turin),
      "snp-tcb-mismatch",
    );
  });

  it("a Milan-family report under a Turin VCEK is refused", async () => {
    await rejects(
      verify(forgeSnpReport(turin, defaultSnpReportFields("Milan")), turin.vcek, turin),
      "snp-product-mismatch",
    );
    await rejects(
      verify(forgeSnpReport(turin, { ...defaultSnpReportFields("Milan"), version: 2 }), turin.vcek, turin),
      "snp-product-mismatch",
    );
  });
});
