/** Shared forged Azure vTPM evidence for the azure-vtpm tests (test root, software AK, forged quote). */
import assert from "node:assert/strict";
import { MalformedError } from "@veritee/core";
import { forgeAzureSnp, type RuntimeClaimsSpec, runtimeClaimsJson } from "@veritee/testkit/azure-vtpm";
import { snpTestPki } from "@veritee/testkit/snp";
import { VerificationError } from "../../src/errors.js";
import { verifySnpEndorsement } from "../../src/sev-snp/verify.js";
import { decodeTpm2bPublic } from "../../src/tpm/public.js";
import { publicKeyJwk } from "../../src/tpm/public-key.js";
import { forgeQuote, makeTestAk, type TestAkKind } from "../tpm/forge.js";

/** A time inside the test PKI's validity. */
export const AT = new Date("2025-01-01T00:00:00Z");
export const milan = snpTestPki("Milan");
/** The test VCEK verified once, so each verification costs one ECDSA check. */
export const endorsement = await verifySnpEndorsement({ vcek: milan.vcek, at: AT, roots: milan.roots });

/** The JWK of a TPM2B_PUBLIC's key, as the HCL writes HCLAkPub. */
export function akJwk(tpm2bPublic: Uint8Array): JsonWebKey {
  return publicKeyJwk(decodeTpm2bPublic(tpm2bPublic));
}

/** A complete, valid forged attestation: an HCL report (SNP) naming a software AK, and that AK's quote. */
export function forgedAttestation(kind: TestAkKind = "rsa-2048", claims: Partial<RuntimeClaimsSpec> = {}) {
  const ak = makeTestAk(kind);
  const quote = forgeQuote(ak);
  const claimsBytes = runtimeClaimsJson({ akPub: akJwk(ak.tpm2b), ...claims });
  const { hclReport, snpReport } = forgeAzureSnp(milan, claimsBytes);
  return { ak, quote, claimsBytes, hclReport, snpReport };
}

/** The options of verifyAzureVtpmAttestation for a forged attestation. */
export function optionsFor(f: ReturnType<typeof forgedAttestation>) {
  return {
    hclReport: f.hclReport,
    snp: { vcek: endorsement },
    quote: { attest: f.quote.attest, signature: f.quote.signature },
    akPublic: f.quote.akPublic,
    nonce: f.quote.nonce,
    pcrValues: f.quote.pcrValues,
    at: AT,
  };
}

/** `p` rejects with a VerificationError of `code`. */
export async function rejectsVerification(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VerificationError, `expected VerificationError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** `fn` throws a MalformedError of `code`, optionally naming `what`. */
export function throwsMalformed(fn: () => unknown, code: string, what?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MalformedError, `expected MalformedError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (what) assert.match(e.what, what);
    return true;
  });
}
