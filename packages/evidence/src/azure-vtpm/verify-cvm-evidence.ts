/**
 * Verification of `az-cvm-vtpm` evidence JSON (`cvm-evidence.ts`): the same
 * chain as `verifyAzureVtpmAttestation` — hardware report → runtime claims
 * → AK → TPM quote — with what such evidence carries instead of a TPM
 * public area:
 *
 * - the AK is the runtime claims' `HCLAkPub` itself: the claims are bound
 *   by the hardware-signed report data, so the key is as trusted as the
 *   report (`verifyQuoteWithKey`); no TPM2B_PUBLIC is needed or accepted;
 * - the bare signature octets become the TPMT_SIGNATURE the vTPM made —
 *   RSASSA with SHA-256 (the attester refuses any other signature and its
 *   verifiers check SHA-256 PKCS#1 v1.5), so an EC HCLAkPub fails
 *   `signature-scheme-mismatch`;
 * - `pcrs` are the SHA-256 values of the PCRs the quote selects, in order:
 *   required, and checked against the signed PCR digest
 *   (`pcr-digest-mismatch`);
 * - SEV-SNP: the VCEK comes from the evidence; ASK, ARK, CRL and roots from
 *   the caller. TDX: the TD quote comes from the evidence; Intel's
 *   collateral from the caller.
 */
import { MalformedError } from "@veritee/core";
import { decodeTpmsAttest } from "../tpm/attest.js";
import type { PcrValues } from "../tpm/pcr-selection.js";
import { encodeTpmtSignature } from "../tpm/signature.js";
import { type AzCvmEvidence, decodeAzCvmEvidence } from "./cvm-evidence.js";
import {
  type AzureSnpInputs,
  type AzureTdxInputs,
  type VerifiedAzureVtpm,
  verifyAzureVtpmAttestation,
} from "./verify.js";

/** Inputs of {@link verifyAzCvmEvidence}. */
export interface VerifyAzCvmEvidenceOptions {
  /** The evidence JSON bytes, or the result of `decodeAzCvmEvidence` (every byte in it is verified). */
  readonly evidence: Uint8Array | AzCvmEvidence;
  /** The verifier's nonce: the quote's extraData must equal it. */
  readonly nonce: Uint8Array;
  /** SEV-SNP evidence: the ASK/ARK chain, AMD's CRL, roots (the VCEK is the evidence's). */
  readonly snp?: Omit<AzureSnpInputs, "vcek">;
  /** TDX evidence: Intel's collateral and roots (the TD quote is the evidence's). */
  readonly tdx?: Omit<AzureTdxInputs, "quote">;
  /** The time to validate certificates and collateral at. Required: never an implicit "now". */
  readonly at: Date;
}

/**
 * The bare RSASSA signature as the TPMT_SIGNATURE the vTPM returned (TPM 2.0
 * Part 2 §11.3.4: sigAlg TPM_ALG_RSASSA, hash TPM_ALG_SHA256, TPM2B).
 */
function rsassaSha256Signature(octets: Uint8Array): Uint8Array {
  return encodeTpmtSignature({ sigAlg: "rsassa", hash: "sha256", sig: octets });
}

/**
 * The evidence's `pcrs` as PCR values of the quote's selection, or
 * undefined when the message is no quote (verification then fails with
 * `attest-type`). The selection is only read here; the signed digest is
 * what the values are checked against.
 */
function pcrValuesOf(evidence: AzCvmEvidence): PcrValues | undefined {
  const attest = decodeTpmsAttest(evidence.tpmQuote.message);
  if (attest.attested.type !== "quote") return undefined;
  const banks = attest.attested.pcrSelect;
  const what = "az-cvm-vtpm evidence.tpm_quote.pcrs";
  if (banks.length !== 1 || banks[0]!.hash !== "sha256") {
    throw new MalformedError("bad-value", what, "the quote selects other than one SHA-256 bank");
  }
  const selected = banks[0]!.pcrs;
  if (selected.length !== evidence.tpmQuote.pcrs.length) {
    throw new MalformedError("bad-length", what, `${evidence.tpmQuote.pcrs.length} values for ${selected.length} PCRs`);
  }
  const values = new Map(selected.map((pcr, i) => [pcr, evidence.tpmQuote.pcrs[i]!]));
  return new Map([["sha256", values]]);
}

/**
 * Verify `az-cvm-vtpm` evidence (see the module comment) at the pinned time `at`.
 *
 * @throws MalformedError for evidence that does not decode (see
 *   `decodeAzCvmEvidence`, `decodeHclReport`) or whose `pcrs` do not fit
 *   the quote's selection; VerificationError as `verifyAzureVtpmAttestation`
 *   — `azure-platform-mismatch` (an HCL report of the other platform, or
 *   TDX evidence without `tdx` collateral), `azure-runtime-data-mismatch`,
 *   `signature-invalid` (the quote is not signed by HCLAkPub),
 *   `nonce-mismatch`, `pcr-digest-mismatch`, the `snp-*`, `tdx-*`, `cert-*`
 *   and `crl-*` codes.
 * @example
 * const v = await verifyAzCvmEvidence({ evidence: json, nonce, at: new Date(), snp: { crl } });
 * v.claims.vmConfiguration.secureBoot;
 */
export async function verifyAzCvmEvidence(options: VerifyAzCvmEvidenceOptions): Promise<VerifiedAzureVtpm> {
  const evidence = options.evidence instanceof Uint8Array ? decodeAzCvmEvidence(options.evidence) : options.evidence;
  const pcrValues = pcrValuesOf(evidence);
  const hardware =
    evidence.platform === "snp"
      ? { snp: { ...options.snp, vcek: evidence.vcek } }
      : options.tdx === undefined
        ? {}
        : { tdx: { ...options.tdx, quote: evidence.tdQuote } };
  return verifyAzureVtpmAttestation({
    hclReport: evidence.hclReport,
    ...hardware,
    quote: { attest: evidence.tpmQuote.message, signature: rsassaSha256Signature(evidence.tpmQuote.signature) },
    nonce: options.nonce,
    ...(pcrValues === undefined ? {} : { pcrValues }),
    requirePcrValues: true,
    at: options.at,
  });
}
