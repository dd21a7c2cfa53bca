/**
 * verifyAzureVtpmAttestation on forged evidence (test AMD/Intel roots,
 * software AKs): the round trip, then every binding broken one at a time,
 * and single-byte mutations of the HCL header, request data and claims.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import {
  encodeHclReport,
  forgeAzureSnp,
  forgeAzureTdx,
  hclReportData,
  runtimeClaimsJson,
} from "@veritee/testkit/azure-vtpm";
import { forgeQeIdentity, forgeTcbInfo, makeTdxPki, TDX_TEST_TIME, tcbSigningChainPem } from "@veritee/testkit/tdx";
import { ecKey } from "@veritee/testkit/x509";
import { HCL_REQUEST_DATA_OFFSET } from "../../src/azure-vtpm/decode.js";
import { VerifiedAzureVtpm, verifyAzureVtpmAttestation } from "../../src/azure-vtpm/verify.js";
import { VerificationError } from "../../src/errors.js";
import { forgeQuote, makeTestAk } from "../tpm/forge.js";
import { AT, akJwk, forgedAttestation, milan, optionsFor, rejectsVerification } from "./fixtures.js";

const good = forgedAttestation();
const options = optionsFor(good);

describe("verifyAzureVtpmAttestation (SEV-SNP)", () => {
  it("a forged attestation verifies: hardware, claims, AK and quote", async () => {
    const v = await verifyAzureVtpmAttestation(options);
    assert.ok(VerifiedAzureVtpm.is(v));
    assert.equal(v.platform, "snp");
    assert.equal(v.claims.vmConfiguration.secureBoot, true);
    assert.deepEqual(v.expectedReportData, hclReportData(good.claimsBytes));
    assert.deepEqual(v.quote.extraData, good.quote.nonce);
    assert.equal(v.hardware.kind === "snp" && v.hardware.snp.product, "Milan");
    assert.throws(
      () => new (VerifiedAzureVtpm as unknown as new (...a: unknown[]) => unknown)(Symbol(), {}),
      TypeError,
    );
  });

  it("ECDSA AKs and SHA-384/512 bindings verify too", async () => {
    for (const kind of ["ecc-p256", "ecc-p384"] as const) {
      const f = forgedAttestation(kind);
      assert.equal((await verifyAzureVtpmAttestation(optionsFor(f))).claims.akPub.kty, "EC");
    }
    for (const hash of ["sha384", "sha512"] as const) {
      const { hclReport } = forgeAzureSnp(milan, good.claimsBytes, { hash });
      assert.equal((await verifyAzureVtpmAttestation({ ...options, hclReport })).hclReport.hashType, hash);
    }
  });

  it("claims changed after the report was made: azure-runtime-data-mismatch", async () => {
    const other = runtimeClaimsJson({ akPub: akJwk(good.ak.tpm2b), vmConfiguration: { "console-enabled": true } });
    const hclReport = encodeHclReport(good.snpReport, other);
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, hclReport }), "azure-runtime-data-mismatch");
  });

  it("report data with a non-zero tail, or hashed with another hash than the HCL names: mismatch", async () => {
    const tail = hclReportData(good.claimsBytes);
    tail[63] = 1;
    const a = forgeAzureSnp(milan, good.claimsBytes, { snp: { reportData: tail } }).hclReport;
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, hclReport: a }), "azure-runtime-data-mismatch");
    const b = forgeAzureSnp(milan, good.claimsBytes, { hash: "sha384", hcl: { hashType: 1 } }).hclReport;
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, hclReport: b }), "azure-runtime-data-mismatch");
  });

  it("another AK in the claims: azure-ak-mismatch (RSA and EC)", async () => {
    const other = forgedAttestation("ecc-p256");
    const claims = runtimeClaimsJson({ akPub: akJwk(other.ak.tpm2b) });
    const { hclReport } = forgeAzureSnp(milan, claims);
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, hclReport }), "azure-ak-mismatch");
    const flipped = { ...akJwk(good.ak.tpm2b) };
    flipped.e = "AQAD";
    const h2 = forgeAzureSnp(milan, runtimeClaimsJson({ akPub: flipped })).hclReport;
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, hclReport: h2 }), "azure-ak-mismatch");
    const ec = forgedAttestation("ecc-p384");
    const p384 = akJwk(ec.ak.tpm2b);
    const h3 = forgeAzureSnp(milan, runtimeClaimsJson({ akPub: { ...p384, y: p384.x } })).hclReport;
    await rejectsVerification(verifyAzureVtpmAttestation({ ...optionsFor(ec), hclReport: h3 }), "azure-ak-mismatch");
  });

  it("a quote by another AK: the claims' AK differs (azure-ak-mismatch) or the signature fails", async () => {
    const other = forgeQuote(makeTestAk("ecc-p256"));
    await rejectsVerification(
      verifyAzureVtpmAttestation({ ...options, quote: other, akPublic: other.akPublic }),
      "azure-ak-mismatch",
    );
    // The claims' AK with a quote another RSA key signed.
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const forged = forgeQuote(good.ak, { signingKey: privateKey });
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, quote: forged }), "signature-invalid");
  });

  it("a wrong nonce: nonce-mismatch; changed PCR values: pcr-digest-mismatch", async () => {
    const nonce = Uint8Array.from(good.quote.nonce);
    nonce[0]! ^= 1;
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, nonce }), "nonce-mismatch");
    const pcrValues = new Map(good.quote.pcrValues);
    const [bank, values] = [...pcrValues][0]!;
    pcrValues.set(bank, new Map([...values].map(([i, v]) => [i, v.map((b) => b ^ 1)])));
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, pcrValues }), "pcr-digest-mismatch");
  });

  it("an SNP report not signed by the VCEK, and no SNP inputs: rejected", async () => {
    const { hclReport } = forgeAzureSnp(milan, good.claimsBytes, { signingKey: ecKey("P-384").privateKey });
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, hclReport }), "signature-invalid");
    const { snp: _, ...noSnp } = options;
    await rejectsVerification(verifyAzureVtpmAttestation(noSnp), "azure-platform-mismatch");
    await rejectsVerification(
      verifyAzureVtpmAttestation({ ...options, snp: { vcek: milan.vcek } }),
      "cert-untrusted-root",
    );
  });

  it("every single-byte change of the header, request data and claims is rejected with a typed error", async () => {
    const bytes = encodeHclReport(good.snpReport, good.claimsBytes, { padding: 8 });
    const offsets = [
      ...Array.from({ length: 32 }, (_, i) => i),
      ...Array.from({ length: bytes.length - HCL_REQUEST_DATA_OFFSET }, (_, i) => HCL_REQUEST_DATA_OFFSET + i),
    ];
    const seen = new Set<string>();
    for (const at of offsets) {
      const b = Uint8Array.from(bytes);
      b[at]! ^= 0x01;
      try {
        await verifyAzureVtpmAttestation({ ...options, hclReport: b });
        assert.fail(`a change at ${at} was accepted`);
      } catch (e) {
        assert.ok(e instanceof MalformedError || e instanceof VerificationError, `offset ${at}: ${String(e)}`);
        seen.add(e.code);
      }
    }
    // Both kinds occur: structure errors and the broken binding.
    assert.ok(seen.has("azure-runtime-data-mismatch"));
    assert.ok(seen.has("bad-magic") && seen.has("bad-value"));
  });

  it("single-byte changes across the SNP report are rejected", async () => {
    const bytes = good.hclReport;
    for (let at = 32; at < HCL_REQUEST_DATA_OFFSET; at += 7) {
      const b = Uint8Array.from(bytes);
      b[at]! ^= 0x80;
      await assert.rejects(
        verifyAzureVtpmAttestation({ ...options, hclReport: b }),
        (e: unknown) => e instanceof MalformedError || e instanceof VerificationError,
        `offset ${at}`,
      );
    }
  });

  it("refuses an invalid time", async () => {
    await assert.rejects(verifyAzureVtpmAttestation({ ...options, at: new Date(Number.NaN) }), TypeError);
  });
});

describe("verifyAzureVtpmAttestation (TDX)", async () => {
  const pki = makeTdxPki();
  const collateral = {
    tcbInfo: forgeTcbInfo(pki),
    qeIdentity: forgeQeIdentity(pki),
    tcbSigningChain: tcbSigningChainPem(pki),
  };
  const tdx = (quote: Uint8Array) => ({ quote, collateral, roots: [pki.root.cert] });
  const forged = forgeAzureTdx(pki, good.claimsBytes);
  const tdxOptions = {
    ...options,
    snp: undefined,
    hclReport: forged.hclReport,
    tdx: tdx(forged.quote),
    at: TDX_TEST_TIME,
  };

  it("a forged TDX attestation verifies", async () => {
    const v = await verifyAzureVtpmAttestation(tdxOptions);
    assert.equal(v.platform, "tdx");
    assert.deepEqual(v.hardware.kind === "tdx" && v.hardware.tdx.body.reportData, hclReportData(good.claimsBytes));
  });

  it("a TD quote of another TDREPORT: azure-tdreport-mismatch, naming the field", async () => {
    for (const field of ["mrTd", "mrOwner", "xfam"] as const) {
      const size = field === "xfam" ? 8 : 48;
      const f = forgeAzureTdx(pki, good.claimsBytes, { tdReport: { [field]: new Uint8Array(size).fill(0xee) } });
      await rejectsVerification(
        verifyAzureVtpmAttestation({ ...tdxOptions, hclReport: f.hclReport, tdx: tdx(f.quote) }),
        "azure-tdreport-mismatch",
      );
    }
    const rtmr = forgeAzureTdx(pki, good.claimsBytes, {
      tdReport: { rtmrs: [new Uint8Array(48), new Uint8Array(48), new Uint8Array(48), new Uint8Array(48)] },
    });
    await rejectsVerification(
      verifyAzureVtpmAttestation({ ...tdxOptions, hclReport: rtmr.hclReport, tdx: tdx(rtmr.quote) }),
      "azure-tdreport-mismatch",
    );
  });

  it("claims not bound by the quote's REPORTDATA: azure-runtime-data-mismatch", async () => {
    const other = runtimeClaimsJson({ akPub: akJwk(good.ak.tpm2b), vmConfiguration: { "secure-boot": false } });
    const f = forgeAzureTdx(pki, good.claimsBytes);
    const hclReport = forgeAzureTdx(pki, other, { body: { reportData: hclReportData(good.claimsBytes) } }).hclReport;
    await rejectsVerification(
      verifyAzureVtpmAttestation({ ...tdxOptions, hclReport, tdx: tdx(f.quote) }),
      "azure-runtime-data-mismatch",
    );
  });

  it("no TDX inputs, and a quote signed by another key: rejected", async () => {
    const { tdx: _, ...noTdx } = tdxOptions;
    await rejectsVerification(verifyAzureVtpmAttestation({ ...noTdx, snp: options.snp }), "azure-platform-mismatch");
    const bad = forgeAzureTdx(pki, good.claimsBytes, { quote: { quoteSigningKey: ecKey("P-256").privateKey } });
    await rejectsVerification(
      verifyAzureVtpmAttestation({ ...tdxOptions, hclReport: bad.hclReport, tdx: tdx(bad.quote) }),
      "tdx-quote-signature",
    );
  });
});

it("AT is within the forged SNP PKI's validity", () => assert.ok(AT.getTime() > 0));
