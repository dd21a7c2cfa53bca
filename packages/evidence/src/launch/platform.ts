/**
 * The `platform` member of the attestation document: confidential-computing
 * evidence beside the TPM quote — at most one CPU report (AMD SEV-SNP or
 * Intel TDX) and up to 8 NVIDIA GPU reports. A TPM-only server sends `[]`.
 *
 *     { "kind": "sev-snp", "report": b64, "vcek": b64, "ask": b64 | null, "ark": b64 | null }
 *     { "kind": "tdx", "quote": b64 }
 *     { "kind": "nvidia-gpu", "report": b64, "certificates": [ b64, ... ] }
 *     { "kind": "azure-vtpm", "hclReport": b64, "vcek": b64, "ask": b64 | null, "ark": b64 | null }
 *
 * `vcek` is the VCEK or VLEK certificate from the host's certificate table
 * (GHCB 2.0 §4.1.8.1); `ask`/`ark` are the host's copies, when it has them
 * (the verifier falls back to its embedded AMD roots and never trusts an ARK
 * for being supplied). GPU `certificates` are the device chain, device
 * certificate first. `azure-vtpm` is an Azure confidential VM's HCL report
 * (vTPM NV index 0x01400001, docs/TEE.md) with the VCEK chain of its
 * SEV-SNP report; it is the CPU entry of such a VM (its report data binds
 * the paravisor's runtime claims, not the session: the document's TPM quote,
 * signed by the AK those claims name, carries the freshness). The CPU entry, when present, comes first, so an entry
 * list has one spelling; GPU entries keep the order the binding hashes them
 * in (binding.ts, {@link platformReportData}).
 *
 * Decoding is strict like the rest of the document: exact members per kind,
 * canonical base64, bounded sizes. The reports stay bytes; verification
 * decodes them with their own strict decoders.
 */
import { base64Decode, base64Encode, expectArray, expectMembers, expectObject, MalformedError } from "@veritee/core";
import { MAX_HCL_REPORT_SIZE } from "../azure-vtpm/decode.js";
import { MAX_GPU_CHAIN_LENGTH } from "../nvidia/cert-chain.js";
import { GPU_REPORT_LIMITS } from "../nvidia/decode.js";
import { SNP_REPORT_SIZE } from "../sev-snp/decode.js";
import { MAX_CERTIFICATE_SIZE } from "../x509/certificate.js";

/** Bounds of the `platform` member. */
export const PLATFORM_EVIDENCE_LIMITS = Object.freeze({
  /** Entries in all: one CPU report and up to 8 GPUs. */
  maxEntries: 9,
  /** GPU entries (an HGX board has 8). */
  maxGpus: 8,
  /** A TDX quote with its PCK chain (configfs-tsm's outblob is at most 32 KiB). */
  maxTdxQuote: 32 * 1024,
  /** A GPU report (request ‖ response). */
  maxGpuReport: GPU_REPORT_LIMITS.maxReportSize,
  /** Certificates of a GPU device chain. */
  maxGpuCertificates: MAX_GPU_CHAIN_LENGTH,
  maxCertificate: MAX_CERTIFICATE_SIZE,
  /** An Azure HCL report with the NV index's zero padding (azure-vtpm/decode.ts). */
  maxHclReport: MAX_HCL_REPORT_SIZE,
});

/** An AMD SEV-SNP attestation report with the host's certificates. */
export interface SnpPlatformEvidence {
  readonly kind: "sev-snp";
  /** The ATTESTATION_REPORT (1184 bytes). */
  readonly report: Uint8Array;
  /** The VCEK (or VLEK) certificate, DER. */
  readonly vcek: Uint8Array;
  /** The host's ASK (or ASVK), DER; null when the host has none. */
  readonly ask: Uint8Array | null;
  /** The host's ARK, DER; null when the host has none. Never a trust anchor. */
  readonly ark: Uint8Array | null;
}

/** An Intel TDX quote (its PCK chain is inside the quote's certification data). */
export interface TdxPlatformEvidence {
  readonly kind: "tdx";
  readonly quote: Uint8Array;
}

/** An NVIDIA GPU attestation report with its device certificate chain. */
export interface GpuPlatformEvidence {
  readonly kind: "nvidia-gpu";
  /** The SPDM GET_MEASUREMENTS request ‖ signed response. */
  readonly report: Uint8Array;
  /** The device certificate chain, DER, device certificate first. */
  readonly certificates: readonly Uint8Array[];
}

/**
 * An Azure confidential VM's HCL report (SEV-SNP-backed) with the VCEK
 * chain of the SEV-SNP report inside it. A TDX-backed HCL report would need
 * a TD quote and Intel collateral besides; it is refused at verification
 * (MalformedError `unsupported`).
 */
export interface AzureVtpmPlatformEvidence {
  readonly kind: "azure-vtpm";
  /** The HCL report as read from vTPM NV index 0x01400001 (zero padding included). */
  readonly hclReport: Uint8Array;
  /** The VCEK certificate of the SEV-SNP report, DER. */
  readonly vcek: Uint8Array;
  /** The ASK, DER; null when not sent. */
  readonly ask: Uint8Array | null;
  /** The ARK, DER; null when not sent. Never a trust anchor. */
  readonly ark: Uint8Array | null;
}

/** One entry of the document's `platform` member. */
export type PlatformEvidence =
  | SnpPlatformEvidence
  | TdxPlatformEvidence
  | GpuPlatformEvidence
  | AzureVtpmPlatformEvidence;

/** The JSON form of one entry. */
export type PlatformEvidenceJson =
  | {
      readonly ark: string | null;
      readonly ask: string | null;
      readonly kind: "sev-snp";
      readonly report: string;
      readonly vcek: string;
    }
  | { readonly kind: "tdx"; readonly quote: string }
  | {
      readonly ark: string | null;
      readonly ask: string | null;
      readonly hclReport: string;
      readonly kind: "azure-vtpm";
      readonly vcek: string;
    }
  | { readonly certificates: readonly string[]; readonly kind: "nvidia-gpu"; readonly report: string };

const L = PLATFORM_EVIDENCE_LIMITS;

/** The JSON form of the `platform` member, members in RFC 8785 order. */
export function platformEvidenceToJson(entries: readonly PlatformEvidence[]): PlatformEvidenceJson[] {
  return entries.map((e): PlatformEvidenceJson => {
    switch (e.kind) {
      case "sev-snp":
        return {
          ark: e.ark === null ? null : base64Encode(e.ark),
          ask: e.ask === null ? null : base64Encode(e.ask),
          kind: e.kind,
          report: base64Encode(e.report),
          vcek: base64Encode(e.vcek),
        };
      case "tdx":
        return { kind: e.kind, quote: base64Encode(e.quote) };
      case "azure-vtpm":
        return {
          ark: e.ark === null ? null : base64Encode(e.ark),
          ask: e.ask === null ? null : base64Encode(e.ask),
          hclReport: base64Encode(e.hclReport),
          kind: e.kind,
          vcek: base64Encode(e.vcek),
        };
      default:
        return { certificates: e.certificates.map(base64Encode), kind: e.kind, report: base64Encode(e.report) };
    }
  });
}

function nullableCertificate(value: unknown, what: string): Uint8Array | null {
  return value === null ? null : base64Decode(value, what, L.maxCertificate);
}

function nonEmpty(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length === 0) throw new MalformedError("bad-length", what, "empty");
  return bytes;
}

/**
 * Decode the `platform` member (already parsed JSON), strictly: at most 9
 * entries, at most one CPU entry (sev-snp, tdx or azure-vtpm) and it first, at most 8
 * GPU entries, exactly the members of each kind, canonical non-empty base64
 * within bounds. An SNP report must be exactly 1184 bytes here already, so
 * that nothing of another size reaches the binding.
 *
 * @throws MalformedError naming the field.
 * @example
 * const entries = decodePlatformEvidence(json.platform, "AttestationDocument.platform");
 */
export function decodePlatformEvidence(value: unknown, what: string): readonly PlatformEvidence[] {
  const items = expectArray(value, what, L.maxEntries);
  let gpus = 0;
  const out = items.map((item, i): PlatformEvidence => {
    const at = `${what}[${i}]`;
    const kind = expectObject(item, at).kind;
    switch (kind) {
      case "sev-snp": {
        if (i !== 0) throw new MalformedError("bad-value", at, "the CPU entry must come first, and only once");
        const o = expectMembers(item, at, ["kind", "report", "vcek", "ask", "ark"]);
        const report = base64Decode(o.report, `${at}.report`, SNP_REPORT_SIZE);
        if (report.length !== SNP_REPORT_SIZE) {
          throw new MalformedError("bad-length", `${at}.report`, `an SNP report is ${SNP_REPORT_SIZE} bytes`);
        }
        return Object.freeze({
          kind,
          report,
          vcek: nonEmpty(base64Decode(o.vcek, `${at}.vcek`, L.maxCertificate), `${at}.vcek`),
          ask: nullableCertificate(o.ask, `${at}.ask`),
          ark: nullableCertificate(o.ark, `${at}.ark`),
        });
      }
      case "tdx": {
        if (i !== 0) throw new MalformedError("bad-value", at, "the CPU entry must come first, and only once");
        const o = expectMembers(item, at, ["kind", "quote"]);
        return Object.freeze({
          kind,
          quote: nonEmpty(base64Decode(o.quote, `${at}.quote`, L.maxTdxQuote), `${at}.quote`),
        });
      }
      case "azure-vtpm": {
        if (i !== 0) throw new MalformedError("bad-value", at, "the CPU entry must come first, and only once");
        const o = expectMembers(item, at, ["kind", "hclReport", "vcek", "ask", "ark"]);
        return Object.freeze({
          kind,
          hclReport: nonEmpty(base64Decode(o.hclReport, `${at}.hclReport`, L.maxHclReport), `${at}.hclReport`),
          vcek: nonEmpty(base64Decode(o.vcek, `${at}.vcek`, L.maxCertificate), `${at}.vcek`),
          ask: nullableCertificate(o.ask, `${at}.ask`),
          ark: nullableCertificate(o.ark, `${at}.ark`),
        });
      }
      case "nvidia-gpu": {
        gpus++;
        if (gpus > L.maxGpus) throw new MalformedError("too-large", what, `more than ${L.maxGpus} GPU entries`);
        const o = expectMembers(item, at, ["kind", "report", "certificates"]);
        const certificates = expectArray(o.certificates, `${at}.certificates`, L.maxGpuCertificates).map((c, j) =>
          nonEmpty(base64Decode(c, `${at}.certificates[${j}]`, L.maxCertificate), `${at}.certificates[${j}]`),
        );
        if (certificates.length === 0) throw new MalformedError("bad-length", `${at}.certificates`, "empty");
        return Object.freeze({
          kind,
          report: nonEmpty(base64Decode(o.report, `${at}.report`, L.maxGpuReport), `${at}.report`),
          certificates: Object.freeze(certificates),
        });
      }
      default:
        throw new MalformedError("unsupported", `${at}.kind`, "unknown platform evidence kind");
    }
  });
  return Object.freeze(out);
}

/** The GPU reports of a `platform` member, in order (what the CPU binding hashes). */
export function gpuReportsOf(entries: readonly PlatformEvidence[]): Uint8Array[] {
  return entries.filter((e): e is GpuPlatformEvidence => e.kind === "nvidia-gpu").map((e) => e.report);
}
