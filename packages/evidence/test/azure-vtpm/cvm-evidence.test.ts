/**
 * `az-cvm-vtpm` evidence JSON (decodeAzCvmEvidence, verifyAzCvmEvidence) on
 * evidence forged by @veritee/testkit/azure-vtpm: the round trip for SEV-SNP
 * (versions 1 and 2) and TDX, then every binding broken one at a time — a
 * quote signed by another key than HCLAkPub, PCRs that are not the quoted
 * ones, a tampered HCL report, another nonce, a revoked ASK — and a strict
 * decoder (unknown members, encodings) checked with fast-check.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import {
  defaultCvmPcrs,
  forgeAzCvmEvidence,
  forgeAzCvmTdxEvidence,
  paddedBase64url,
} from "@veritee/testkit/azure-vtpm";
import { forgeQeIdentity, forgeTcbInfo, makeTdxPki, TDX_TEST_TIME, tcbSigningChainPem } from "@veritee/testkit/tdx";
import { buildCrl } from "@veritee/testkit/x509";
import fc from "fast-check";
import { decodeAzCvmEvidence } from "../../src/azure-vtpm/cvm-evidence.js";
import { HCL_REQUEST_DATA_OFFSET } from "../../src/azure-vtpm/decode.js";
import { VerifiedAzureVtpm } from "../../src/azure-vtpm/verify.js";
import { verifyAzCvmEvidence } from "../../src/azure-vtpm/verify-cvm-evidence.js";
import { VerificationError } from "../../src/errors.js";
import { VerifiedKeyQuote, VerifiedQuote, verifyQuoteWithKey } from "../../src/tpm/quote.js";
import { forgeQuote, makeTestAk } from "../tpm/forge.js";
import { AT, akJwk, milan, rejectsVerification, throwsMalformed } from "./fixtures.js";

const good = forgeAzCvmEvidence(milan);
const snp = { roots: milan.roots, chain: { ask: milan.ask.cert } };
const verify = (json: Uint8Array, nonce = good.nonce, more: object = {}) =>
  verifyAzCvmEvidence({ evidence: json, nonce, at: AT, snp, ...more });
const edited = (edit: (o: Record<string, unknown>) => Record<string, unknown>) =>
  forgeAzCvmEvidence(milan, { edit }).json;
const withQuote = (edit: (q: Record<string, unknown>) => Record<string, unknown>) =>
  edited((o) => ({ ...o, tpm_quote: edit({ ...(o.tpm_quote as Record<string, unknown>) }) }));

describe("az-cvm-vtpm evidence (SEV-SNP)", () => {
  it("verifies: HCL report, claims, the quote under HCLAkPub, all 24 PCRs", async () => {
    const v = await verify(good.json);
    assert.ok(VerifiedAzureVtpm.is(v));
    assert.equal(v.platform, "snp");
    assert.equal(v.akSource, "runtime-claims");
    assert.ok(VerifiedKeyQuote.is(v.quote));
    assert.ok(!VerifiedQuote.is(v.quote));
    assert.deepEqual(v.quote.extraData, good.nonce);
    const pcrs = v.quote.pcrValues?.get("sha256");
    assert.equal(pcrs?.size, 24);
    assert.deepEqual(pcrs?.get(23), defaultCvmPcrs()[23]);
    const decoded = decodeAzCvmEvidence(good.json);
    assert.equal(decoded.platform, "snp");
    assert.equal(decoded.version, 1);
    assert.deepEqual(decoded.platform === "snp" && decoded.vcek, milan.vcek);
    // A decoded value verifies too: every byte in it is still checked.
    assert.equal((await verifyAzCvmEvidence({ evidence: decoded, nonce: good.nonce, at: AT, snp })).platform, "snp");
  });

  it("version 2 verifies; other versions are refused", async () => {
    await verify(forgeAzCvmEvidence(milan, { version: 2 }).json);
    for (const version of [0, 3, -1, 1.5, "1"]) {
      throwsMalformed(() => decodeAzCvmEvidence(edited((o) => ({ ...o, version }))), "bad-value", /version/);
    }
  });

  it("a quote signed by another key than the HCL's HCLAkPub is refused (signature-invalid)", async () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    await rejectsVerification(verify(forgeAzCvmEvidence(milan, { signingKey: other }).json), "signature-invalid");
    // The HCL names another AK than the one that quoted.
    const otherPub = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
    await rejectsVerification(
      verify(forgeAzCvmEvidence(milan, { claims: { akPub: otherPub } }).json),
      "signature-invalid",
    );
  });

  it("an EC HCLAkPub cannot have made the bare RSASSA signature (signature-scheme-mismatch)", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
    await rejectsVerification(
      verify(forgeAzCvmEvidence(milan, { claims: { akPub: ec } }).json),
      "signature-scheme-mismatch",
    );
  });

  it("PCR values that are not the quoted ones are refused (pcr-digest-mismatch), a count that is not the selection's is malformed", async () => {
    const pcrs = defaultCvmPcrs();
    pcrs[7] = new Uint8Array(32).fill(0xee);
    await rejectsVerification(
      verify(forgeAzCvmEvidence(milan, { pcrs, quotedPcrs: defaultCvmPcrs() }).json),
      "pcr-digest-mismatch",
    );
    await assert.rejects(
      verify(withQuote((q) => ({ ...q, pcrs: (q.pcrs as string[]).slice(0, 23) }))),
      (e: unknown) => e instanceof MalformedError && e.code === "bad-length" && /pcrs/.test(e.what),
    );
    const sha1Bank = forgeAzCvmEvidence(milan, { quote: { bankAlg: 0x0004 } }).json;
    await assert.rejects(verify(sha1Bank), (e: unknown) => e instanceof MalformedError && /pcrs/.test(e.what));
  });

  it("another nonce is refused (nonce-mismatch)", async () => {
    await rejectsVerification(verify(good.json, new Uint8Array(32)), "nonce-mismatch");
  });

  it("a tampered HCL report is refused: claims (azure-runtime-data-mismatch), SNP report (signature-invalid)", async () => {
    // Change the claims' vmUniqueId by one character: still compact JSON, so only the binding catches it.
    const text = new TextDecoder().decode(good.claims);
    const at = text.indexOf("c0de");
    assert.ok(at > 0);
    const claimsTampered = good.hclReport.slice();
    claimsTampered[HCL_REQUEST_DATA_OFFSET + 20 + at + 3] = "f".charCodeAt(0);
    await rejectsVerification(
      verify(edited((o) => ({ ...o, hcl_report: paddedBase64url(claimsTampered) }))),
      "azure-runtime-data-mismatch",
    );
    const reportTampered = good.hclReport.slice();
    reportTampered[32 + 0x90]! ^= 0x01; // MEASUREMENT, inside the signed SNP report
    await rejectsVerification(
      verify(edited((o) => ({ ...o, hcl_report: paddedBase64url(reportTampered) }))),
      "signature-invalid", // the SNP report's, checked first
    );
  });

  it("an SNP report from a VMPL other than 0 is not the paravisor's (azure-hcl-vmpl)", async () => {
    // The guest OS runs at VMPL 2 under the HCL and can ask for its own report with any REPORT_DATA:
    // H(claims naming a key it holds). Only a VMPL-0 report comes from the paravisor.
    for (const vmpl of [1, 2, 3]) {
      await rejectsVerification(verify(forgeAzCvmEvidence(milan, { snp: { snp: { vmpl } } }).json), "azure-hcl-vmpl");
    }
  });

  it("the HCL report binding other claims is refused (azure-runtime-data-mismatch)", async () => {
    const forged = forgeAzCvmEvidence(milan, { snp: { snp: { reportData: new Uint8Array(64).fill(3) } } });
    await rejectsVerification(verify(forged.json), "azure-runtime-data-mismatch");
  });

  it("a revoked ASK on AMD's CRL is refused (cert-revoked); a CRL that does not list it passes", async () => {
    const pss = "rsa-pss-sha384" as const;
    const revoking = buildCrl({ issuer: milan.ark, sigAlg: pss, revoked: [{ serial: Uint8Array.of(1) }] });
    await rejectsVerification(verify(good.json, good.nonce, { snp: { ...snp, crl: revoking } }), "cert-revoked");
    const clean = buildCrl({ issuer: milan.ark, sigAlg: pss, revoked: [{ serial: Uint8Array.of(0x42) }] });
    await verify(good.json, good.nonce, { snp: { ...snp, crl: clean } });
  });

  it("the embedded AMD roots do not accept the test chain", async () => {
    await assert.rejects(
      verifyAzCvmEvidence({ evidence: good.json, nonce: good.nonce, at: AT }),
      (e: unknown) => e instanceof Error && "code" in e && /^(snp|cert)-/.test(String(e.code)),
    );
  });
});

describe("az-cvm-vtpm evidence (TDX)", () => {
  const pki = makeTdxPki();
  const collateral = {
    tcbInfo: forgeTcbInfo(pki),
    qeIdentity: forgeQeIdentity(pki),
    tcbSigningChain: tcbSigningChainPem(pki),
  };
  const tdx = forgeAzCvmTdxEvidence(pki);

  it("verifies with Intel collateral: the TD quote of the HCL's TDREPORT, the quote under HCLAkPub", async () => {
    const v = await verifyAzCvmEvidence({
      evidence: tdx.json,
      nonce: tdx.nonce,
      at: TDX_TEST_TIME,
      tdx: { collateral, roots: [pki.root.cert] },
    });
    assert.equal(v.platform, "tdx");
    assert.equal(v.akSource, "runtime-claims");
    assert.equal(decodeAzCvmEvidence(tdx.json).platform, "tdx");
  });

  it("without collateral (azure-platform-mismatch); a TD quote of another TDREPORT (azure-tdreport-mismatch)", async () => {
    await rejectsVerification(
      verifyAzCvmEvidence({ evidence: tdx.json, nonce: tdx.nonce, at: TDX_TEST_TIME }),
      "azure-platform-mismatch",
    );
    const other = forgeAzCvmTdxEvidence(pki, { tdx: { tdReport: { mrTd: new Uint8Array(48).fill(0xee) } } });
    await rejectsVerification(
      verifyAzCvmEvidence({
        evidence: other.json,
        nonce: other.nonce,
        at: TDX_TEST_TIME,
        tdx: { collateral, roots: [pki.root.cert] },
      }),
      "azure-tdreport-mismatch",
    );
    throwsMalformed(() => decodeAzCvmEvidence(forgeAzCvmTdxEvidence(pki, { version: 2 }).json), "bad-value", /version/);
  });
});

describe("decodeAzCvmEvidence is strict", () => {
  it("unknown, missing and extra members are refused", () => {
    throwsMalformed(() => decodeAzCvmEvidence(edited((o) => ({ ...o, ak_pub: "x" }))), "bad-value", /evidence$/);
    throwsMalformed(() => decodeAzCvmEvidence(edited(({ vcek: _, ...o }) => o)), "bad-value");
    throwsMalformed(() => decodeAzCvmEvidence(edited((o) => ({ ...o, td_quote: o.vcek }))), "bad-value");
    throwsMalformed(() => decodeAzCvmEvidence(withQuote((q) => ({ ...q, nonce: "00" }))), "bad-value", /tpm_quote/);
    throwsMalformed(() => decodeAzCvmEvidence(withQuote(({ pcrs: _, ...q }) => q)), "bad-value", /tpm_quote/);
  });

  it("the unversioned legacy format is unsupported", () => {
    const legacy = new TextEncoder().encode(JSON.stringify({ quote: { signature: [1] }, report: [1], vcek: "PEM" }));
    throwsMalformed(() => decodeAzCvmEvidence(legacy), "unsupported");
  });

  it("encodings exactly as the attesters write them", () => {
    const b64 = (o: Record<string, unknown>) => String(o.hcl_report);
    // Unpadded, standard alphabet, wrong padding.
    throwsMalformed(
      () => decodeAzCvmEvidence(edited((o) => ({ ...o, hcl_report: b64(o).replace(/=+$/, "") }))),
      "bad-length",
      /hcl_report/,
    );
    const std = paddedBase64url(Uint8Array.of(0xfb, 0xff, 0xfe, 0x01))
      .replace("-", "+")
      .replace("_", "/");
    throwsMalformed(() => decodeAzCvmEvidence(edited((o) => ({ ...o, vcek: std }))), "bad-value", /vcek/);
    throwsMalformed(() => decodeAzCvmEvidence(edited((o) => ({ ...o, vcek: "AAAA====" }))), "bad-value", /vcek/);
    throwsMalformed(() => decodeAzCvmEvidence(edited((o) => ({ ...o, vcek: "AA=A" }))), "bad-value", /vcek/);
    // Hex: a 0x prefix, odd length, a non-hex digit, numbers instead of strings.
    throwsMalformed(() => decodeAzCvmEvidence(withQuote((q) => ({ ...q, message: `0x${q.message}` }))), "bad-hex");
    throwsMalformed(() => decodeAzCvmEvidence(withQuote((q) => ({ ...q, signature: `${q.signature}0` }))), "bad-hex");
    throwsMalformed(() => decodeAzCvmEvidence(withQuote((q) => ({ ...q, signature: [1, 2] }))), "bad-hex");
    throwsMalformed(() => decodeAzCvmEvidence(withQuote((q) => ({ ...q, pcrs: ["00"] }))), "bad-length", /pcrs\[0\]/);
    throwsMalformed(() => decodeAzCvmEvidence(withQuote((q) => ({ ...q, pcrs: [] }))), "bad-length", /pcrs/);
    throwsMalformed(() => decodeAzCvmEvidence(new TextEncoder().encode("[]")), "bad-value");
    throwsMalformed(() => decodeAzCvmEvidence(new TextEncoder().encode("{")), "bad-value");
    // Upper-case hex is what serde's hex decoder accepts too.
    assert.equal(
      decodeAzCvmEvidence(withQuote((q) => ({ ...q, message: String(q.message).toUpperCase() }))).version,
      1,
    );
  });

  it("property: every mutation of the JSON decodes or fails with a MalformedError; encode → decode is the identity", () => {
    const bytes = good.json;
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const mutated = bytes.slice();
        mutated[at] = value;
        try {
          decodeAzCvmEvidence(mutated);
        } catch (e) {
          assert.ok(e instanceof MalformedError, String(e));
        }
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 24 }),
        fc.constantFrom(1, 2),
        (message, signature, blob, pcrs, version) => {
          const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
          const json = JSON.stringify({
            version,
            tpm_quote: { signature: hex(signature), message: hex(message), pcrs: pcrs.map(hex) },
            hcl_report: paddedBase64url(blob),
            vcek: paddedBase64url(blob.subarray(1)),
          });
          if (blob.length === 1) return; // an empty vcek is refused
          const d = decodeAzCvmEvidence(new TextEncoder().encode(json));
          assert.equal(d.platform === "snp" && d.version, version);
          assert.deepEqual(d.tpmQuote.message, message);
          assert.deepEqual(d.tpmQuote.signature, signature);
          assert.deepEqual([...d.tpmQuote.pcrs], pcrs);
          assert.deepEqual(d.hclReport, blob);
          assert.deepEqual(d.platform === "snp" && d.vcek, blob.subarray(1));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("verifyQuoteWithKey", () => {
  it("verifies a TPMT_SIGNATURE quote under the bare key of an ECC or RSA AK, with its PCRs", async () => {
    for (const kind of ["ecc-p256", "ecc-p384", "rsa-2048"] as const) {
      const q = forgeQuote(makeTestAk(kind));
      const input = { attest: q.attest, signature: q.signature, expectedExtraData: q.nonce, pcrValues: q.pcrValues };
      const v = await verifyQuoteWithKey({ ...input, key: akJwk(q.akPublic) });
      assert.ok(VerifiedKeyQuote.is(v));
      assert.deepEqual(v.pcrValues, q.pcrValues);
      // A key of the other type, or another key of the same type, does not verify it.
      const other = akJwk(makeTestAk(kind === "rsa-2048" ? "ecc-p256" : "rsa-2048").tpm2b);
      await assert.rejects(verifyQuoteWithKey({ ...input, key: other }), VerificationError);
    }
  });

  it("refuses a short RSA key, a non-key JWK, and a quote signed by another key", async () => {
    const input = { attest: good.message, signature: new Uint8Array(0), expectedExtraData: good.nonce };
    const short = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
    await rejectsVerification(verifyQuoteWithKey({ ...input, key: short }), "unsupported-algorithm");
    await assert.rejects(verifyQuoteWithKey({ ...input, key: { kty: "oct", k: "AA" } }), MalformedError);
  });
});
