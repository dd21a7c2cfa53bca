/**
 * An `azure-vtpm` platform entry verified by verifyPlatformEvidence with the
 * document's quote: the HCL report's AK must be the quote's AK, the quote must
 * carry the session's extraData, and a TDX-backed HCL report is refused.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MalformedError } from "@veritee/core";
import { encodeHclReport, forgeAzureSnp, runtimeClaimsJson } from "@veritee/testkit/azure-vtpm";
import { snpTestPki } from "@veritee/testkit/snp";
import { buildCrl } from "@veritee/testkit/x509";
import { VerifiedAzureVtpm } from "../../src/azure-vtpm/verify.js";
import {
  type AzureVtpmPlatformEvidence,
  type CollateralSource,
  type PlatformSession,
  verifyPlatformEvidence,
} from "../../src/index.js";
import { AT, akJwk, forgedAttestation, milan, rejectsVerification } from "../azure-vtpm/fixtures.js";
import { makeTestAk } from "../tpm/forge.js";

const NONCE = new Uint8Array(32).fill(7);
const KEY_SET = new Uint8Array(32).fill(9);

function entry(hclReport: Uint8Array, vcek = milan.vcek): AzureVtpmPlatformEvidence {
  return { kind: "azure-vtpm", hclReport, vcek, ask: milan.ask.cert, ark: null };
}

function session(f: ReturnType<typeof forgedAttestation>, extraData = f.quote.nonce): PlatformSession {
  return {
    nonce: NONCE,
    keySetDigest: KEY_SET,
    at: AT,
    quote: { attest: f.quote.attest, signature: f.quote.signature, akPublic: f.quote.akPublic, extraData },
  };
}

const options = { snp: { roots: milan.roots } };

describe("an azure-vtpm platform entry", () => {
  test("verifies with the document's quote: the HCL's AK signed it", async () => {
    for (const kind of ["rsa-2048", "ecc-p256"] as const) {
      const f = forgedAttestation(kind);
      const verified = await verifyPlatformEvidence([entry(f.hclReport)], session(f), options);
      assert.ok(VerifiedAzureVtpm.is(verified.azureVtpm));
      assert.equal(verified.azureVtpm.platform, "snp");
      assert.equal(verified.sevSnp, undefined);
      assert.equal(verified.azureVtpm.claims.vmConfiguration.secureBoot, true);
    }
  });

  test("an HCL report naming another AK is refused (azure-ak-mismatch)", async () => {
    const f = forgedAttestation("rsa-2048");
    const other = makeTestAk("ecc-p256");
    const claims = runtimeClaimsJson({ akPub: akJwk(other.tpm2b) });
    const { hclReport } = forgeAzureSnp(milan, claims);
    await rejectsVerification(verifyPlatformEvidence([entry(hclReport)], session(f), options), "azure-ak-mismatch");
  });

  test("a quote over other extraData (another nonce or key set) is refused (nonce-mismatch)", async () => {
    const f = forgedAttestation();
    await rejectsVerification(
      verifyPlatformEvidence([entry(f.hclReport)], session(f, new Uint8Array(32).fill(1)), options),
      "nonce-mismatch",
    );
  });

  test("a quote whose signature is altered is refused (signature-invalid)", async () => {
    const f = forgedAttestation();
    const forged = { signature: f.quote.signature.slice() };
    forged.signature[forged.signature.length - 9]! ^= 1;
    const s = session(f);
    await rejectsVerification(
      verifyPlatformEvidence(
        [entry(f.hclReport)],
        { ...s, quote: { ...s.quote!, signature: forged.signature } },
        options,
      ),
      "signature-invalid",
    );
  });

  test("claims not bound by the SNP report, a Genoa VCEK, or the embedded roots only: refused", async () => {
    const f = forgedAttestation();
    const claims = runtimeClaimsJson({ akPub: akJwk(f.quote.akPublic.subarray(0)), userData: "00" });
    const swapped = encodeHclReport(f.snpReport, claims);
    await rejectsVerification(
      verifyPlatformEvidence([entry(swapped)], session(f), options),
      "azure-runtime-data-mismatch",
    );
    const otherChip = snpTestPki("Genoa");
    await assert.rejects(
      verifyPlatformEvidence([entry(f.hclReport, otherChip.vcek)], session(f), options),
      (e: unknown) => e instanceof Error && "code" in e && /^(snp|cert)-/.test(String(e.code)),
    );
    await assert.rejects(
      verifyPlatformEvidence([entry(f.hclReport)], session(f)),
      (e: unknown) => e instanceof Error && "code" in e && /^(snp|cert)-/.test(String(e.code)),
    );
  });

  test("without the document's quote it is not verified (platform-collateral-missing)", async () => {
    const f = forgedAttestation();
    const { quote: _q, ...bare } = session(f);
    await rejectsVerification(
      verifyPlatformEvidence([entry(f.hclReport)], bare, options),
      "platform-collateral-missing",
    );
  });

  test("a TDX-backed HCL report is unsupported in the document (MalformedError)", async () => {
    const f = forgedAttestation();
    const tdx = encodeHclReport(new Uint8Array(1184), f.claimsBytes, { reportType: 4 });
    await assert.rejects(
      verifyPlatformEvidence([entry(tdx)], session(f), options),
      (e: unknown) => e instanceof MalformedError && (e.code === "unsupported" || e.code === "bad-value"),
    );
  });

  describe("AMD's CRL, applied as for an sev-snp entry", () => {
    const pss = "rsa-pss-sha384" as const;
    // The test ASK's serial is 1 (testkit makeIntermediate); 0x42 is some other certificate.
    const revoking = buildCrl({ issuer: milan.ark, sigAlg: pss, revoked: [{ serial: Uint8Array.of(1) }] });
    const clean = buildCrl({ issuer: milan.ark, sigAlg: pss, revoked: [{ serial: Uint8Array.of(0x42) }] });
    const source = (crl: Uint8Array): CollateralSource & { asked: string[] } => {
      const asked: string[] = [];
      return {
        asked,
        async get(kind, key) {
          asked.push(`${kind}/${key}`);
          return kind === "crl" && key === "Milan" ? crl : undefined;
        },
      };
    };

    test("a revoked ASK in the collateral source's crl/<product> is refused (cert-revoked)", async () => {
      const f = forgedAttestation();
      const collateral = source(revoking);
      await rejectsVerification(
        verifyPlatformEvidence([entry(f.hclReport)], session(f), { ...options, collateral }),
        "cert-revoked",
      );
      assert.deepEqual(collateral.asked, ["crl/Milan"]);
    });

    test("a revoked ASK in a given snp.crl is refused too; a CRL that does not list it passes", async () => {
      const f = forgedAttestation();
      await rejectsVerification(
        verifyPlatformEvidence([entry(f.hclReport)], session(f), { snp: { ...options.snp, crl: revoking } }),
        "cert-revoked",
      );
      const verified = await verifyPlatformEvidence([entry(f.hclReport)], session(f), {
        ...options,
        collateral: source(clean),
      });
      assert.ok(VerifiedAzureVtpm.is(verified.azureVtpm));
    });

    test("a stale CRL or one not signed by the ARK is refused (crl-*)", async () => {
      const f = forgedAttestation();
      const stale = buildCrl({ issuer: milan.ark, sigAlg: pss, nextUpdate: new Date("2024-06-01") });
      await rejectsVerification(
        verifyPlatformEvidence([entry(f.hclReport)], session(f), { ...options, collateral: source(stale) }),
        "crl-expired",
      );
      await rejectsVerification(
        verifyPlatformEvidence([entry(f.hclReport)], session(f), {
          ...options,
          collateral: source(buildCrl({ issuer: milan.ask, sigAlg: pss })),
        }),
        "crl-issuer-mismatch",
      );
    });
  });
});
