/**
 * Verification of the attestation document's platform evidence (platform.ts):
 * every entry is verified at the pinned time with its vendor's verifier, and
 * bound to the verifier's nonce and the attested key set —
 *
 * - a GPU report's SPDM nonce must be `gpuNonceBinding({clientNonce, keySetDigest})`;
 * - an SEV-SNP REPORT_DATA or a TDX REPORTDATA must be
 *   {@link platformReportData} of the nonce, the key-set digest and the
 *   document's GPU reports (`platform-binding-mismatch`).
 *
 * An Azure vTPM entry (`azure-vtpm`) is bound differently: its SEV-SNP
 * report data is H(the paravisor's runtime claims), fixed at boot, so it
 * cannot carry the session. What binds it is the document's own TPM quote:
 * `verifyAzureVtpmAttestation` checks that the AK which signed that quote —
 * over extraData binding the nonce and the key set — is the claims'
 * `HCLAkPub` (`azure-ak-mismatch`), so the fresh, key-set-bound quote comes
 * from the vTPM of the VM the SEV-SNP report measured. GPU entries keep
 * their own nonce binding (they are not pinned by a CPU report data here).
 *
 * Nothing is fetched here: TDX collateral comes from the caller — given
 * (`tdx.collateral`), looked up (`tdx.collateralFor`), or resolved from the
 * injected `collateral` source by the quote's FMSPC and PCK CA
 * (`resolveTdxCollateral`; an absent item is a `CollateralError`
 * `collateral-missing`). A TDX entry with none of these fails with
 * `platform-collateral-missing`. The same source supplies AMD's CRL for an
 * SEV-SNP entry (`crl/<product>`, when present and no `snp.crl` is given), and for the
 * SEV-SNP report inside an `azure-vtpm` entry's HCL report alike;
 * the VCEK always comes with the document, which requires it. Whether the
 * evidence is *required*, and what it must say, is policy's business.
 */
import { bytesEqual, MalformedError } from "@veritee/core";
import { decodeHclReport } from "../azure-vtpm/decode.js";
import { type VerifiedAzureVtpm, verifyAzureVtpmAttestation } from "../azure-vtpm/verify.js";
import { collateralKeys, getCollateral } from "../collateral/keys.js";
import { resolveTdxCollateral } from "../collateral/resolve-tdx.js";
import type { CollateralSource } from "../collateral/source.js";
import { VerificationError } from "../errors.js";
import { type VerifiedGpuReport, verifyGpuReport } from "../nvidia/verify.js";
import { snpProductFromName } from "../sev-snp/product.js";
import { decodeSnpEndorsementExtensions } from "../sev-snp/vcek.js";
import { type SnpRoots, type VerifiedSnpReport, verifySnpReport } from "../sev-snp/verify.js";
import { decodeTdxQuote, type TdxQuote } from "../tdx/decode.js";
import { type TdxCollateral, type VerifiedTdxQuote, verifyTdxQuote } from "../tdx/verify.js";
import { decodeCertificate } from "../x509/certificate.js";
import { platformReportData } from "./binding.js";
import { gpuReportsOf, type PlatformEvidence } from "./platform.js";

/**
 * TDX collateral: given, looked up for the quote (by its FMSPC, say) from a
 * cache the caller owns, or (only `roots`, or no `tdx` at all) resolved from
 * {@link PlatformVerifyOptions.collateral}.
 */
export type TdxPlatformCollateral =
  | { readonly collateral: TdxCollateral; readonly roots?: readonly Uint8Array[] }
  | {
      readonly collateralFor: (quote: TdxQuote) => Promise<TdxCollateral>;
      readonly roots?: readonly Uint8Array[];
    }
  | { readonly roots?: readonly Uint8Array[] };

/** How platform evidence is verified: trust anchors and revocation data per kind. All optional. */
export interface PlatformVerifyOptions {
  /** SEV-SNP: AMD roots to use instead of the embedded ones (a test PKI in tests), and AMD's CRL. */
  readonly snp?: { readonly roots?: SnpRoots; readonly crl?: Uint8Array | string };
  /** TDX: the collateral (required for a TDX entry) and roots instead of the embedded Intel SGX Root CA. */
  readonly tdx?: TdxPlatformCollateral;
  /** NVIDIA GPUs: device identity roots instead of the embedded NVIDIA root. */
  readonly nvidia?: { readonly roots?: readonly Uint8Array[] };
  /**
   * Where collateral not given above comes from (e.g.
   * `cachedCollateral(directoryCollateral(dir), { maxEntries: 32 })`): TDX
   * TCB info, QE identity, signing chain and CRLs; AMD's CRL per product.
   */
  readonly collateral?: CollateralSource;
}

/** The verified platform evidence of a document. */
export interface VerifiedPlatform {
  /** The verified SEV-SNP report, when the document has one. */
  readonly sevSnp: VerifiedSnpReport | undefined;
  /** The verified TDX quote, when the document has one. */
  readonly tdx: VerifiedTdxQuote | undefined;
  /** The verified Azure vTPM attestation (HCL report → AK → the document's quote), when the document has one. */
  readonly azureVtpm: VerifiedAzureVtpm | undefined;
  /** The verified GPU reports, in document order. */
  readonly gpus: readonly VerifiedGpuReport[];
  /** The report data the CPU evidence was checked to hold (64 bytes), also when there is none to check. */
  readonly reportData: Uint8Array;
}

/** The document's TPM quote and AK, which an Azure vTPM entry binds to its hardware report. */
export interface PlatformQuote {
  /** TPMS_ATTEST bytes. */
  readonly attest: Uint8Array;
  /** TPMT_SIGNATURE bytes. */
  readonly signature: Uint8Array;
  /** The AK's TPM2B_PUBLIC. */
  readonly akPublic: Uint8Array;
  /** The extraData the quote must carry (`attestationExtraData(nonce, keySetDigest)`). */
  readonly extraData: Uint8Array;
}

/** The session platform evidence must answer. */
export interface PlatformSession {
  readonly nonce: Uint8Array;
  readonly keySetDigest: Uint8Array;
  readonly at: Date;
  /** The document's quote; required to verify an `azure-vtpm` entry (`platform-collateral-missing` without). */
  readonly quote?: PlatformQuote;
}

/**
 * Verify every entry of a document's platform evidence (see the module
 * comment). GPUs first (their bytes are what the CPU binding hashes, and each
 * answers the session's GPU nonce), then the CPU entry and its binding.
 *
 * @throws MalformedError for evidence that does not decode; VerificationError
 *   from the vendor verifiers (`snp-*`, `tdx-*`, `nvidia-*`, `cert-*`,
 *   `crl-*`, `collateral-*`, `signature-invalid`), `platform-binding-mismatch`,
 *   `platform-collateral-missing`; for `azure-vtpm`: `azure-ak-mismatch`,
 *   `azure-runtime-data-mismatch`, the quote's codes, and MalformedError
 *   `unsupported` for a TDX-backed HCL report.
 * @example
 * const platform = await verifyPlatformEvidence(doc.platform, { nonce, keySetDigest, at }, { snp: { roots } });
 */
export async function verifyPlatformEvidence(
  entries: readonly PlatformEvidence[],
  session: PlatformSession,
  options: PlatformVerifyOptions = {},
): Promise<VerifiedPlatform> {
  const { nonce, keySetDigest, at } = session;
  const gpus: VerifiedGpuReport[] = [];
  for (const entry of entries) {
    if (entry.kind !== "nvidia-gpu") continue;
    gpus.push(
      await verifyGpuReport({
        report: entry.report,
        certChain: entry.certificates,
        session: { clientNonce: nonce, keySetDigest },
        at,
        ...(options.nvidia?.roots ? { roots: options.nvidia.roots } : {}),
      }),
    );
  }
  const reportData = platformReportData({ nonce, keySetDigest, gpuReports: gpuReportsOf(entries) });
  let sevSnp: VerifiedSnpReport | undefined;
  let tdx: VerifiedTdxQuote | undefined;
  let azureVtpm: VerifiedAzureVtpm | undefined;
  for (const entry of entries) {
    if (entry.kind === "sev-snp") {
      const chain = {
        ...(entry.ask === null ? {} : { ask: entry.ask }),
        ...(entry.ark === null ? {} : { ark: entry.ark }),
      };
      const crl = options.snp?.crl ?? (await snpCrlFrom(options.collateral, entry.vcek));
      sevSnp = await verifySnpReport({
        report: entry.report,
        vcek: entry.vcek,
        chain,
        at,
        ...(options.snp?.roots ? { roots: options.snp.roots } : {}),
        ...(crl === undefined ? {} : { crl }),
      });
      checkBinding(sevSnp.report.reportData, reportData, "the SEV-SNP REPORT_DATA");
    } else if (entry.kind === "tdx") {
      const given = options.tdx ?? {};
      const quote = decodeTdxQuote(entry.quote);
      let collateral: TdxCollateral;
      if ("collateral" in given) collateral = given.collateral;
      else if ("collateralFor" in given) collateral = await given.collateralFor(quote);
      else if (options.collateral !== undefined) collateral = await resolveTdxCollateral(options.collateral, quote);
      else {
        throw new VerificationError(
          "platform-collateral-missing",
          "the document carries a TDX quote and no TDX collateral was given to verify it with",
        );
      }
      tdx = await verifyTdxQuote({ quote, collateral, at, ...(given.roots ? { roots: given.roots } : {}) });
      checkBinding(tdx.body.reportData, reportData, "the TDX REPORTDATA");
    } else if (entry.kind === "azure-vtpm") {
      azureVtpm = await verifyAzureEntry(entry.hclReport, entry, session, options);
    }
  }
  return Object.freeze({ sevSnp, tdx, azureVtpm, gpus: Object.freeze(gpus), reportData });
}

/** An `azure-vtpm` entry: the HCL report's SEV-SNP report, claims and AK, with the document's quote (module comment). */
async function verifyAzureEntry(
  hclReport: Uint8Array,
  certificates: { readonly vcek: Uint8Array; readonly ask: Uint8Array | null; readonly ark: Uint8Array | null },
  session: PlatformSession,
  options: PlatformVerifyOptions,
): Promise<VerifiedAzureVtpm> {
  // A TDX-backed HCL report needs a TD quote and collateral the entry does not carry.
  if (decodeHclReport(hclReport).hardware.kind !== "snp") {
    throw new MalformedError("unsupported", "AttestationDocument.platform.hclReport", "a TDX-backed HCL report");
  }
  const quote = session.quote;
  if (quote === undefined) {
    throw new VerificationError(
      "platform-collateral-missing",
      "an Azure vTPM entry is verified with the document's quote, which was not given",
    );
  }
  const chain = {
    ...(certificates.ask === null ? {} : { ask: certificates.ask }),
    ...(certificates.ark === null ? {} : { ark: certificates.ark }),
  };
  // AMD's CRL exactly as for an `sev-snp` entry: given, or from the collateral source by the VCEK's product.
  const crl = options.snp?.crl ?? (await snpCrlFrom(options.collateral, certificates.vcek));
  return verifyAzureVtpmAttestation({
    hclReport,
    snp: {
      vcek: certificates.vcek,
      chain,
      ...(options.snp?.roots ? { roots: options.snp.roots } : {}),
      ...(crl === undefined ? {} : { crl }),
    },
    quote: { attest: quote.attest, signature: quote.signature },
    akPublic: quote.akPublic,
    nonce: quote.extraData,
    at: session.at,
  });
}

/** AMD's CRL for the VCEK's product from the source, when it has one (the product only picks the file). */
async function snpCrlFrom(source: CollateralSource | undefined, vcek: Uint8Array): Promise<Uint8Array | undefined> {
  if (source === undefined) return undefined;
  const name = decodeSnpEndorsementExtensions(decodeCertificate(vcek)).productName;
  const product = name === undefined ? undefined : snpProductFromName(name);
  return product === undefined ? undefined : getCollateral(source, collateralKeys.snpCrl(product));
}

function checkBinding(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (!bytesEqual(actual, expected)) {
    throw new VerificationError(
      "platform-binding-mismatch",
      `${what} is not the binding of this nonce, key set and GPU reports (a replayed or foreign report)`,
    );
  }
}
