/**
 * Verification of an Azure confidential VM's vTPM attestation, offline, at
 * a pinned time. The chain of trust (Microsoft "Guest attestation for
 * confidential VMs"):
 *
 * 1. the hardware report verifies: an SEV-SNP report under AMD's chain
 *    (`verifySnpReport`) made at VMPL 0, the paravisor's level (`azure-hcl-vmpl`), or for TDX a TD quote under Intel's chain and
 *    collateral (`verifyTdxQuote`) whose body carries the same values as
 *    the HCL's TDREPORT (the quote is made from that TDREPORT);
 * 2. the hardware report's report data is H(runtime claims) with the hash
 *    the HCL names, followed by zero bytes: the claims come from the
 *    paravisor inside the TEE;
 * 3. the attestation key in the claims (kid "HCLAkPub") is the key of the
 *    TPM2B_PUBLIC the quote is checked with — or, for evidence without a
 *    public area (`az-cvm-vtpm` JSON, `cvm-evidence.ts`), is the key itself;
 * 4. the TPM quote verifies under that AK with the verifier's nonce
 *    (`verifyQuote`, or `verifyQuoteWithKey` under the bare key), and its
 *    PCRs when given.
 *
 * Only then is a {@link VerifiedAzureVtpm} made. Policy (secure boot, the
 * console, SNP/TDX rules, PCR values) is decided elsewhere (@veritee/policy).
 */
import { base64urlEncode, bytesEqual, digestSize, hash } from "@veritee/core";
import { VerificationError } from "../errors.js";
import type { SnpProduct } from "../sev-snp/product.js";
import {
  type SnpRoots,
  type VerifiedSnpEndorsement,
  type VerifiedSnpReport,
  type VerifySnpEndorsementOptions,
  verifySnpReport,
} from "../sev-snp/verify.js";
import { type TdxCollateral, type VerifiedTdxQuote, verifyTdxQuote } from "../tdx/verify.js";
import { type AkPublic, decodeAkPublic } from "../tpm/ak.js";
import type { PcrValues } from "../tpm/pcr-selection.js";
import type { DecodedTpmtPublic } from "../tpm/public.js";
import { type VerifiedKeyQuote, VerifiedQuote, verifyQuote, verifyQuoteWithKey } from "../tpm/quote.js";
import { decodeRuntimeClaims, type RuntimeClaims, type RuntimeClaimsKey } from "./claims.js";
import { decodeHclReport, type HclReport, type TdReport } from "./decode.js";

/** The SEV-SNP inputs: the VCEK (or a verified endorsement) and its chain, as for `verifySnpReport`. */
export interface AzureSnpInputs {
  readonly vcek: Uint8Array | VerifiedSnpEndorsement;
  readonly chain?: VerifySnpEndorsementOptions["chain"];
  readonly product?: SnpProduct;
  readonly crl?: Uint8Array | string;
  /** Trust anchors instead of AMD's embedded roots (a test root in tests). */
  readonly roots?: SnpRoots;
}

/** The TDX inputs: the TD quote made from the HCL's TDREPORT, and Intel's collateral, as for `verifyTdxQuote`. */
export interface AzureTdxInputs {
  readonly quote: Uint8Array;
  readonly collateral: TdxCollateral;
  /** Trust anchors instead of Intel's embedded root (a test root in tests). */
  readonly roots?: readonly Uint8Array[];
}

/** Inputs of {@link verifyAzureVtpmAttestation}. */
export interface VerifyAzureVtpmOptions {
  /**
   * The HCL report bytes from vTPM NV index 0x01400001. Bytes only, never a
   * decoded value: the header is not signed, so what is checked must be
   * decoded here from what was received.
   */
  readonly hclReport: Uint8Array;
  /** Required when the HCL report carries an SEV-SNP report. */
  readonly snp?: AzureSnpInputs;
  /** Required when the HCL report carries a TDX TDREPORT. */
  readonly tdx?: AzureTdxInputs;
  /** The TPM2_Quote: TPMS_ATTEST bytes and TPMT_SIGNATURE bytes. */
  readonly quote: { readonly attest: Uint8Array; readonly signature: Uint8Array };
  /**
   * The AK's TPM2B_PUBLIC (or an `AkPublic`), which must be the claims'
   * HCLAkPub and is checked as an AK (`verifyQuote`). Absent — evidence such
   * as `az-cvm-vtpm`'s JSON carries no public area — the quote is verified
   * under the claims' HCLAkPub itself (`verifyQuoteWithKey`): the hardware
   * report vouches for that key, and the HCL made it a restricted signing key.
   */
  readonly akPublic?: Uint8Array | AkPublic;
  /** The verifier's fresh nonce, which the quote's extraData must equal. */
  readonly nonce: Uint8Array;
  /** The PCR values the attester claims, checked against the quote's digest. */
  readonly pcrValues?: PcrValues;
  /** Fail when `pcrValues` is not given (default false). */
  readonly requirePcrValues?: boolean;
  /** The time to validate certificates and collateral at. Required: never an implicit "now". */
  readonly at: Date;
}

const TOKEN: unique symbol = Symbol("VerifiedAzureVtpm");

/** The verified hardware evidence of an Azure confidential VM. */
export type VerifiedAzureHardware =
  | { readonly kind: "snp"; readonly snp: VerifiedSnpReport }
  | { readonly kind: "tdx"; readonly tdx: VerifiedTdxQuote; readonly tdReport: TdReport };

/**
 * An Azure confidential VM attestation whose every binding verified:
 * hardware report → runtime claims → AK → TPM quote. Only
 * {@link verifyAzureVtpmAttestation} constructs it.
 */
export class VerifiedAzureVtpm {
  /** The decoded HCL report (now authenticated through the hardware report). */
  readonly hclReport: HclReport;
  /** The runtime claims, proven to come from inside the TEE. */
  readonly claims: RuntimeClaims;
  readonly hardware: VerifiedAzureHardware;
  /**
   * The TPM quote, proven signed by the AK the claims name: a `VerifiedQuote`
   * when a TPM2B_PUBLIC was given, else a `VerifiedKeyQuote` under HCLAkPub.
   */
  readonly quote: VerifiedQuote | VerifiedKeyQuote;
  /** Where the AK came from: a given TPM2B_PUBLIC equal to HCLAkPub, or HCLAkPub alone. */
  readonly akSource: "tpm-public" | "runtime-claims";
  /** The 64 bytes the hardware report's report data holds: H(claims) then zero bytes. */
  readonly expectedReportData: Uint8Array;
  readonly verifiedAt: Date;

  /** @internal Use {@link verifyAzureVtpmAttestation}. */
  constructor(
    token: typeof TOKEN,
    init: {
      hclReport: HclReport;
      claims: RuntimeClaims;
      hardware: VerifiedAzureHardware;
      quote: VerifiedQuote | VerifiedKeyQuote;
      expectedReportData: Uint8Array;
      at: Date;
    },
  ) {
    if (token !== TOKEN) throw new TypeError("VerifiedAzureVtpm is created by verifyAzureVtpmAttestation only");
    this.hclReport = init.hclReport;
    this.claims = init.claims;
    this.hardware = Object.freeze(init.hardware);
    this.quote = init.quote;
    this.akSource = VerifiedQuote.is(init.quote) ? "tpm-public" : "runtime-claims";
    this.expectedReportData = init.expectedReportData;
    this.verifiedAt = new Date(init.at.getTime());
    Object.freeze(this);
  }

  /** "snp" or "tdx". */
  get platform(): "snp" | "tdx" {
    return this.hardware.kind;
  }

  /** True only for values made by {@link verifyAzureVtpmAttestation}. */
  static is(value: unknown): value is VerifiedAzureVtpm {
    return value instanceof VerifiedAzureVtpm;
  }
}

/** Strip leading zero bytes of a big-endian integer. */
function minimal(v: Uint8Array): Uint8Array {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v.subarray(i);
}

function u32Bytes(v: number): Uint8Array {
  return minimal(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
}

const CURVE_OF = { p256: "P-256", p384: "P-384", p521: "P-521" } as const;

/** Whether the claims' key is the key of the TPM public area: RSA n and e, or the EC curve and point. */
function sameKey(claimed: RuntimeClaimsKey, tpm: DecodedTpmtPublic): boolean {
  if (claimed.kty === "RSA") {
    if (tpm.type !== "rsa") return false;
    // TPM 2.0 Part 2 §12.2.3.5: an exponent of zero means 2^16 + 1.
    const e = u32Bytes(tpm.exponent === 0 ? 65537 : tpm.exponent);
    return bytesEqual(minimal(claimed.n), minimal(tpm.modulus)) && bytesEqual(minimal(claimed.e), e);
  }
  if (tpm.type !== "ecc" || CURVE_OF[tpm.curve] !== claimed.crv) return false;
  const pad = (v: Uint8Array, n: number) => {
    const out = new Uint8Array(Math.max(n, v.length));
    out.set(v, out.length - v.length);
    return out;
  };
  const size = claimed.x.length;
  return bytesEqual(claimed.x, pad(tpm.x, size)) && bytesEqual(claimed.y, pad(tpm.y, size));
}

/** The JWK of a runtime claims key (its members were decoded strictly, so they re-encode canonically). */
function runtimeKeyJwk(key: RuntimeClaimsKey): JsonWebKey {
  if (key.kty === "RSA") return { kty: "RSA", n: base64urlEncode(key.n), e: base64urlEncode(key.e) };
  return { kty: "EC", crv: key.crv, x: base64urlEncode(key.x), y: base64urlEncode(key.y) };
}

/** TDX: the quote is made from the HCL's TDREPORT, so every TD measurement in both must agree. */
function checkTdReport(td: TdReport, quote: VerifiedTdxQuote): void {
  const body = quote.body;
  const pairs: [string, Uint8Array, Uint8Array][] = [
    ["REPORTDATA", td.reportData, body.reportData],
    ["MRTD", td.mrTd, body.mrTd],
    ["TDATTRIBUTES", td.tdAttributes, body.tdAttributes],
    ["XFAM", td.xfam, body.xfam],
    ["MRCONFIGID", td.mrConfigId, body.mrConfigId],
    ["MROWNER", td.mrOwner, body.mrOwner],
    ["MROWNERCONFIG", td.mrOwnerConfig, body.mrOwnerConfig],
    ["RTMR0", td.rtmrs[0], body.rtmrs[0]],
    ["RTMR1", td.rtmrs[1], body.rtmrs[1]],
    ["RTMR2", td.rtmrs[2], body.rtmrs[2]],
    ["RTMR3", td.rtmrs[3], body.rtmrs[3]],
  ];
  for (const [name, a, b] of pairs) {
    if (!bytesEqual(a, b)) throw new VerificationError("azure-tdreport-mismatch", `the TD quote's ${name} differs`);
  }
}

function checkAt(at: Date): void {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new TypeError("`at` must be a valid Date");
}

/**
 * Verify an Azure confidential VM attestation (the steps are listed in this
 * module's comment), at the pinned time `at`.
 *
 * @throws MalformedError for an HCL report, runtime claims, hardware
 *   report, certificate, AK or quote that does not decode.
 * @throws VerificationError: `azure-platform-mismatch` (an SNP report
 *   without `snp` inputs, a TDREPORT without `tdx` inputs); `azure-hcl-vmpl`
 *   (an SNP report not from VMPL 0);
 *   everything `verifySnpReport` or `verifyTdxQuote` throws;
 *   `azure-tdreport-mismatch` (the TD quote is not of the HCL's TDREPORT);
 *   `azure-runtime-data-mismatch` (report data is not H(claims) ‖ zeros);
 *   `azure-ak-mismatch` (the quote's AK is not the claims' HCLAkPub);
 *   everything `verifyQuote` throws (`nonce-mismatch`,
 *   `signature-invalid`, `pcr-digest-mismatch`, …).
 * @example
 * const verified = await verifyAzureVtpmAttestation({
 *   hclReport: nv, snp: { vcek }, quote: { attest, signature }, akPublic, nonce, at: new Date(),
 * });
 * verified.claims.vmConfiguration.secureBoot;
 */
export async function verifyAzureVtpmAttestation(options: VerifyAzureVtpmOptions): Promise<VerifiedAzureVtpm> {
  checkAt(options.at);
  const hcl = decodeHclReport(options.hclReport);
  const claims = decodeRuntimeClaims(hcl.runtimeClaims);

  // 1. The hardware report.
  let hardware: VerifiedAzureHardware;
  let reportData: Uint8Array;
  if (hcl.hardware.kind === "snp") {
    if (options.snp === undefined) {
      throw new VerificationError("azure-platform-mismatch", "an SEV-SNP report needs SEV-SNP inputs");
    }
    const snp = await verifySnpReport({ ...options.snp, report: hcl.hardware.bytes, at: options.at });
    // Only the paravisor runs at VMPL 0; the guest OS under it (VMPL 2 on Azure) can request reports
    // with any REPORT_DATA, including H(claims naming its own key), so a report from any other VMPL
    // proves nothing about the vTPM.
    if (snp.report.vmpl !== 0) {
      throw new VerificationError(
        "azure-hcl-vmpl",
        "the HCL report's SEV-SNP report is not from VMPL 0 (the paravisor)",
      );
    }
    hardware = { kind: "snp", snp };
    reportData = snp.report.reportData;
  } else {
    if (options.tdx === undefined) {
      throw new VerificationError("azure-platform-mismatch", "a TDX TDREPORT needs a TD quote and collateral");
    }
    const tdx = await verifyTdxQuote({ ...options.tdx, at: options.at });
    checkTdReport(hcl.hardware.report, tdx);
    hardware = { kind: "tdx", tdx, tdReport: hcl.hardware.report };
    reportData = tdx.body.reportData;
  }

  // 2. report_data = H(runtime claims) ‖ zero bytes, with the HCL's hash type.
  const expectedReportData = new Uint8Array(64);
  expectedReportData.set(hash(hcl.hashType, claims.raw));
  if (digestSize(hcl.hashType) > 64 || !bytesEqual(reportData, expectedReportData)) {
    throw new VerificationError(
      "azure-runtime-data-mismatch",
      "the hardware report's report data is not the hash of the runtime claims",
    );
  }

  // 3 and 4. The quote's AK is the one the claims name, and the quote verifies under it with the
  // verifier's nonce. Without a public area, the claims' key is the AK (nothing to compare).
  const quoteChecks = {
    attest: options.quote.attest,
    signature: options.quote.signature,
    expectedExtraData: options.nonce,
    ...(options.pcrValues === undefined ? {} : { pcrValues: options.pcrValues }),
    ...(options.requirePcrValues === undefined ? {} : { requirePcrValues: options.requirePcrValues }),
  };
  let quote: VerifiedQuote | VerifiedKeyQuote;
  if (options.akPublic === undefined) {
    quote = await verifyQuoteWithKey({ ...quoteChecks, key: runtimeKeyJwk(claims.akPub) });
  } else {
    const ak = options.akPublic instanceof Uint8Array ? decodeAkPublic(options.akPublic) : options.akPublic;
    if (!sameKey(claims.akPub, ak.public)) {
      throw new VerificationError("azure-ak-mismatch", "the AK is not the runtime claims' HCLAkPub");
    }
    quote = await verifyQuote({ ...quoteChecks, akPublic: ak });
  }

  return new VerifiedAzureVtpm(TOKEN, { hclReport: hcl, claims, hardware, quote, expectedReportData, at: options.at });
}
