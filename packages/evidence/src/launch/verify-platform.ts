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
 * No collateral is fetched here: TDX collateral comes from the caller
 * (`collateral`, or `collateralFor`, e.g. over a `CollateralSource`); a TDX
 * entry without it fails with `platform-collateral-missing`. Whether the
 * evidence is *required*, and what it must say, is policy's business.
 */
import { bytesEqual } from "@veritee/core";
import { VerificationError } from "../errors.js";
import { type VerifiedGpuReport, verifyGpuReport } from "../nvidia/verify.js";
import { type SnpRoots, type VerifiedSnpReport, verifySnpReport } from "../sev-snp/verify.js";
import { decodeTdxQuote, type TdxQuote } from "../tdx/decode.js";
import { type TdxCollateral, type VerifiedTdxQuote, verifyTdxQuote } from "../tdx/verify.js";
import { platformReportData } from "./binding.js";
import { gpuReportsOf, type PlatformEvidence } from "./platform.js";

/** TDX collateral: given, or looked up for the quote (by its FMSPC, say) from a cache the caller owns. */
export type TdxPlatformCollateral =
  | { readonly collateral: TdxCollateral; readonly roots?: readonly Uint8Array[] }
  | {
      readonly collateralFor: (quote: TdxQuote) => Promise<TdxCollateral>;
      readonly roots?: readonly Uint8Array[];
    };

/** How platform evidence is verified: trust anchors and revocation data per kind. All optional. */
export interface PlatformVerifyOptions {
  /** SEV-SNP: AMD roots to use instead of the embedded ones (a test PKI in tests), and AMD's CRL. */
  readonly snp?: { readonly roots?: SnpRoots; readonly crl?: Uint8Array | string };
  /** TDX: the collateral (required for a TDX entry) and roots instead of the embedded Intel SGX Root CA. */
  readonly tdx?: TdxPlatformCollateral;
  /** NVIDIA GPUs: device identity roots instead of the embedded NVIDIA root. */
  readonly nvidia?: { readonly roots?: readonly Uint8Array[] };
}

/** The verified platform evidence of a document. */
export interface VerifiedPlatform {
  /** The verified SEV-SNP report, when the document has one. */
  readonly sevSnp: VerifiedSnpReport | undefined;
  /** The verified TDX quote, when the document has one. */
  readonly tdx: VerifiedTdxQuote | undefined;
  /** The verified GPU reports, in document order. */
  readonly gpus: readonly VerifiedGpuReport[];
  /** The report data the CPU evidence was checked to hold (64 bytes), also when there is none to check. */
  readonly reportData: Uint8Array;
}

/** The session platform evidence must answer. */
export interface PlatformSession {
  readonly nonce: Uint8Array;
  readonly keySetDigest: Uint8Array;
  readonly at: Date;
}

/**
 * Verify every entry of a document's platform evidence (see the module
 * comment). GPUs first (their bytes are what the CPU binding hashes, and each
 * answers the session's GPU nonce), then the CPU entry and its binding.
 *
 * @throws MalformedError for evidence that does not decode; VerificationError
 *   from the vendor verifiers (`snp-*`, `tdx-*`, `nvidia-*`, `cert-*`,
 *   `crl-*`, `collateral-*`, `signature-invalid`), `platform-binding-mismatch`,
 *   `platform-collateral-missing`.
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
  for (const entry of entries) {
    if (entry.kind === "sev-snp") {
      const chain = {
        ...(entry.ask === null ? {} : { ask: entry.ask }),
        ...(entry.ark === null ? {} : { ark: entry.ark }),
      };
      sevSnp = await verifySnpReport({
        report: entry.report,
        vcek: entry.vcek,
        chain,
        at,
        ...(options.snp?.roots ? { roots: options.snp.roots } : {}),
        ...(options.snp?.crl === undefined ? {} : { crl: options.snp.crl }),
      });
      checkBinding(sevSnp.report.reportData, reportData, "the SEV-SNP REPORT_DATA");
    } else if (entry.kind === "tdx") {
      const source = options.tdx;
      if (source === undefined) {
        throw new VerificationError(
          "platform-collateral-missing",
          "the document carries a TDX quote and no TDX collateral was given to verify it with",
        );
      }
      const quote = decodeTdxQuote(entry.quote);
      const collateral = "collateral" in source ? source.collateral : await source.collateralFor(quote);
      tdx = await verifyTdxQuote({ quote, collateral, at, ...(source.roots ? { roots: source.roots } : {}) });
      checkBinding(tdx.body.reportData, reportData, "the TDX REPORTDATA");
    }
  }
  return Object.freeze({ sevSnp, tdx, gpus: Object.freeze(gpus), reportData });
}

function checkBinding(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (!bytesEqual(actual, expected)) {
    throw new VerificationError(
      "platform-binding-mismatch",
      `${what} is not the binding of this nonce, key set and GPU reports (a replayed or foreign report)`,
    );
  }
}
