/**
 * Decoding of the Azure confidential VM "HCL report": the attestation report
 * the paravisor (HCL, OpenHCL) writes into the vTPM's NV index 0x01400001.
 * Decoding only: nothing here checks a signature or a binding; that is
 * `verify.ts`. An {@link HclReport} is therefore untrusted data.
 *
 * Layout (all integers little-endian; Microsoft "Guest attestation for
 * confidential VMs", attestation report format; OpenHCL
 * `openhcl_attestation_protocol` IgvmAttestRequestBase):
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0x000 | 32 | header: signature "HCLA", version, report_size, request_type, status, 3 reserved u32 |
 * | 0x020 | 1184 | hardware report: an SEV-SNP ATTESTATION_REPORT, or a TDX TDREPORT (1024) zero-padded |
 * | 0x4C0 | 20 | IGVM request data: data_size, version, report_type, report_data_hash_type, variable_data_size |
 * | 0x4D4 | n | variable data: the runtime claims (JSON) |
 *
 * `report_size` covers header, hardware report and request data;
 * `data_size` covers the request data (20 + n). The NV index is larger than
 * the report and zero-filled after it, so zero bytes after `report_size`
 * are accepted and anything else there is refused.
 *
 * The decoder is strict: the signature, known versions, request type and
 * report types, a success status, zero reserved fields, sizes that agree
 * with each other, the hardware report decoded strictly, and a bound on
 * every length.
 */
import { ByteReader, type HashAlg, MalformedError } from "@veritee/core";
import { decodeSnpReport, SNP_REPORT_SIZE, type SnpReport } from "../sev-snp/decode.js";

/** "HCLA" as the little-endian u32 the header starts with. */
export const HCL_SIGNATURE = 0x414c4348;
/** Header versions seen: 1 (the original HCL) and 2 (OpenHCL). */
export const HCL_VERSIONS: readonly number[] = Object.freeze([1, 2]);
/** IGVM_REQUEST_TYPE of the report the HCL keeps in NV: the AK certificate request. */
export const HCL_REQUEST_TYPE_AK_CERT = 2;
/** IgvmAttestRequestData version this decoder knows. */
export const HCL_REQUEST_DATA_VERSION = 1;
/** IGVM report types (Reserved = 1 and TVM = 3 are not hardware reports this verifier knows). */
export const HCL_REPORT_TYPE = Object.freeze({ snp: 2, tdx: 4 } as const);
/** Size of the header. */
export const HCL_HEADER_SIZE = 32;
/** Size of the hardware report area: the largest report, an SNP one (IGVM_ATTESTATION_REPORT_SIZE_MAX). */
export const HCL_HW_REPORT_SIZE = SNP_REPORT_SIZE;
/** Size of the fixed part of the IGVM request data. */
export const HCL_REQUEST_DATA_SIZE = 20;
/** Offset of the IGVM request data. */
export const HCL_REQUEST_DATA_OFFSET = HCL_HEADER_SIZE + HCL_HW_REPORT_SIZE;
/** Size of an Intel TDX TDREPORT_STRUCT (TDX Module ABI, TDG.MR.REPORT). */
export const TD_REPORT_SIZE = 1024;
/** Largest HCL report (with its NV padding) accepted; Azure's NV index is a few KiB. */
export const MAX_HCL_REPORT_SIZE = 16 * 1024;
/** Largest runtime claims accepted. */
export const MAX_RUNTIME_CLAIMS_SIZE = MAX_HCL_REPORT_SIZE - HCL_REQUEST_DATA_OFFSET - HCL_REQUEST_DATA_SIZE;

/** REPORTTYPE.TYPE of a TDX TDREPORT (TDX Module ABI, REPORTTYPE: 0x81 = TDX). */
const TDX_REPORT_TYPE = 0x81;

/**
 * A decoded Intel TDX TDREPORT_STRUCT (Intel TDX Module ABI specification,
 * TDREPORT_STRUCT: REPORTMACSTRUCT, TEE_TCB_INFO, reserved, TDINFO). It is
 * MAC'd for the local platform only; a verifier trusts its contents only
 * through a TD quote with the same values.
 */
export interface TdReport {
  /** REPORTTYPE: type (0x81), subtype, version. */
  readonly reportType: { readonly type: number; readonly subtype: number; readonly version: number };
  readonly cpuSvn: Uint8Array;
  readonly teeTcbInfoHash: Uint8Array;
  readonly teeInfoHash: Uint8Array;
  /** REPORTDATA (64 bytes): here, the hash of the runtime claims. */
  readonly reportData: Uint8Array;
  readonly mac: Uint8Array;
  /** TEE_TCB_INFO (239 bytes), as found. */
  readonly teeTcbInfo: Uint8Array;
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly rtmrs: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly servTdHash: Uint8Array;
}

/** The hardware report inside an HCL report. */
export type HclHardwareReport =
  | {
      readonly kind: "snp";
      /** The ATTESTATION_REPORT bytes (1184), for `verifySnpReport`. */
      readonly bytes: Uint8Array;
      readonly report: SnpReport;
    }
  | {
      readonly kind: "tdx";
      /** The TDREPORT bytes (1024). */
      readonly bytes: Uint8Array;
      readonly report: TdReport;
    };

/** A decoded, unverified HCL report. Byte arrays are copies. */
export interface HclReport {
  /** Header version (1 or 2). */
  readonly version: number;
  /** report_size: header + hardware report + request data. */
  readonly reportSize: number;
  readonly requestType: number;
  readonly hardware: HclHardwareReport;
  /** The IGVM request data version (1). */
  readonly requestDataVersion: number;
  /** report_data_hash_type: how the runtime claims are hashed into the hardware report's report data. */
  readonly hashType: HashAlg;
  /** The runtime claims bytes (JSON) exactly as hashed; decode them with `decodeRuntimeClaims`. */
  readonly runtimeClaims: Uint8Array;
  /** The hardware report's 64-byte report data (SNP REPORT_DATA, TDX REPORTDATA). */
  readonly reportData: Uint8Array;
}

const HASH_TYPES: Readonly<Record<number, HashAlg>> = { 1: "sha256", 2: "sha384", 3: "sha512" };

function zero(bytes: Uint8Array, what: string): void {
  for (const b of bytes) if (b !== 0) throw new MalformedError("reserved-nonzero", what, "must be zero");
}

/**
 * Decode a TDX TDREPORT_STRUCT (1024 bytes). Strict where the ABI is fixed:
 * REPORTTYPE.TYPE 0x81 with subtype 0, and the reserved bytes of
 * REPORTMACSTRUCT and after TEE_TCB_INFO zero. TDINFO's trailing bytes are
 * kept unchecked: TDX 1.5 modules define fields there.
 *
 * @throws MalformedError naming the field.
 * @example
 * const td = decodeTdReport(hclReport.hardware.bytes);
 */
export function decodeTdReport(bytes: Uint8Array): TdReport {
  if (bytes.length !== TD_REPORT_SIZE) {
    throw new MalformedError("bad-length", "TDREPORT", `must be ${TD_REPORT_SIZE} bytes, not ${bytes.length}`);
  }
  const r = new ByteReader(bytes, "TDREPORT");
  const type = r.u8("reportType.type");
  const subtype = r.u8("reportType.subtype");
  const version = r.u8("reportType.version");
  if (type !== TDX_REPORT_TYPE) throw new MalformedError("bad-value", "TDREPORT.reportType.type", "not a TDX report");
  if (subtype !== 0) throw new MalformedError("bad-value", "TDREPORT.reportType.subtype", "must be 0");
  zero(r.borrow(1, "reportType.reserved"), "TDREPORT.reportType.reserved");
  zero(r.borrow(12, "reserved1"), "TDREPORT.reserved1");
  const cpuSvn = r.bytes(16, "cpuSvn");
  const teeTcbInfoHash = r.bytes(48, "teeTcbInfoHash");
  const teeInfoHash = r.bytes(48, "teeInfoHash");
  const reportData = r.bytes(64, "reportData");
  zero(r.borrow(32, "reserved2"), "TDREPORT.reserved2");
  const mac = r.bytes(32, "mac");
  const teeTcbInfo = r.bytes(239, "teeTcbInfo");
  zero(r.borrow(17, "reserved3"), "TDREPORT.reserved3");
  const tdAttributes = r.bytes(8, "tdInfo.attributes");
  const xfam = r.bytes(8, "tdInfo.xfam");
  const mrTd = r.bytes(48, "tdInfo.mrTd");
  const mrConfigId = r.bytes(48, "tdInfo.mrConfigId");
  const mrOwner = r.bytes(48, "tdInfo.mrOwner");
  const mrOwnerConfig = r.bytes(48, "tdInfo.mrOwnerConfig");
  const rtmrs = [
    r.bytes(48, "tdInfo.rtmr0"),
    r.bytes(48, "tdInfo.rtmr1"),
    r.bytes(48, "tdInfo.rtmr2"),
    r.bytes(48, "tdInfo.rtmr3"),
  ] as const;
  const servTdHash = r.bytes(48, "tdInfo.servTdHash");
  r.borrow(64, "tdInfo.reserved");
  r.end();
  return Object.freeze({
    reportType: Object.freeze({ type, subtype, version }),
    cpuSvn,
    teeTcbInfoHash,
    teeInfoHash,
    reportData,
    mac,
    teeTcbInfo,
    tdAttributes,
    xfam,
    mrTd,
    mrConfigId,
    mrOwner,
    mrOwnerConfig,
    rtmrs: Object.freeze(rtmrs) as TdReport["rtmrs"],
    servTdHash,
  });
}

/**
 * Decode an HCL report as read from vTPM NV index 0x01400001 (the layout is
 * in this module's comment). Padding after `report_size` must be zero.
 *
 * @throws MalformedError naming the field: `bad-magic` (not "HCLA"),
 *   `unsupported` (an unknown version, request type or report type),
 *   `bad-value` (a failed status, an unknown hash type),
 *   `reserved-nonzero`, `bad-length` (sizes that disagree), `too-large`,
 *   `truncated`, `trailing-data` (non-zero bytes after the report), and
 *   everything `decodeSnpReport` or {@link decodeTdReport} throws.
 * @example
 * const hcl = decodeHclReport(nvBytes);
 * const claims = decodeRuntimeClaims(hcl.runtimeClaims);
 */
export function decodeHclReport(bytes: Uint8Array): HclReport {
  if (bytes.length > MAX_HCL_REPORT_SIZE) {
    throw new MalformedError("too-large", "HCL report", `${bytes.length} bytes exceeds ${MAX_HCL_REPORT_SIZE}`);
  }
  const r = new ByteReader(bytes, "HCL report");
  if (r.u32le("header.signature") !== HCL_SIGNATURE) {
    throw new MalformedError("bad-magic", "HCL report.header.signature", 'not "HCLA"');
  }
  const version = r.u32le("header.version");
  if (!HCL_VERSIONS.includes(version)) {
    throw new MalformedError("unsupported", "HCL report.header.version", `version ${version}`);
  }
  const reportSize = r.u32le("header.reportSize");
  const requestType = r.u32le("header.requestType");
  if (requestType !== HCL_REQUEST_TYPE_AK_CERT) {
    throw new MalformedError("unsupported", "HCL report.header.requestType", `request type ${requestType}`);
  }
  if (r.u32le("header.status") !== 0) {
    throw new MalformedError("bad-value", "HCL report.header.status", "not a successful report");
  }
  zero(r.borrow(12, "header.reserved"), "HCL report.header.reserved");
  const hwBytes = r.borrow(HCL_HW_REPORT_SIZE, "hardwareReport");

  const dataSize = r.u32le("requestData.dataSize");
  const requestDataVersion = r.u32le("requestData.version");
  if (requestDataVersion !== HCL_REQUEST_DATA_VERSION) {
    throw new MalformedError("unsupported", "HCL report.requestData.version", `version ${requestDataVersion}`);
  }
  const reportType = r.u32le("requestData.reportType");
  const hashTypeValue = r.u32le("requestData.hashType");
  const hashType = HASH_TYPES[hashTypeValue];
  if (hashType === undefined) {
    throw new MalformedError("bad-value", "HCL report.requestData.hashType", `hash type ${hashTypeValue}`);
  }
  const variableDataSize = r.u32le("requestData.variableDataSize");
  if (variableDataSize > MAX_RUNTIME_CLAIMS_SIZE) {
    throw new MalformedError(
      "too-large",
      "HCL report.requestData.variableDataSize",
      `exceeds ${MAX_RUNTIME_CLAIMS_SIZE}`,
    );
  }
  if (dataSize !== HCL_REQUEST_DATA_SIZE + variableDataSize) {
    throw new MalformedError("bad-length", "HCL report.requestData.dataSize", "disagrees with variableDataSize");
  }
  if (reportSize !== HCL_REQUEST_DATA_OFFSET + dataSize) {
    throw new MalformedError("bad-length", "HCL report.header.reportSize", "disagrees with dataSize");
  }
  const runtimeClaims = r.bytes(variableDataSize, "runtimeClaims");
  // The rest of the NV index: zero fill only.
  const padding = r.borrow(r.remaining, "padding");
  for (const b of padding) {
    if (b !== 0) throw new MalformedError("trailing-data", "HCL report", "non-zero bytes after report_size");
  }

  let hardware: HclHardwareReport;
  let reportData: Uint8Array;
  if (reportType === HCL_REPORT_TYPE.snp) {
    const snpBytes = Uint8Array.prototype.slice.call(hwBytes);
    const report = decodeSnpReport(snpBytes);
    hardware = Object.freeze({ kind: "snp", bytes: snpBytes, report });
    reportData = report.reportData;
  } else if (reportType === HCL_REPORT_TYPE.tdx) {
    zero(hwBytes.subarray(TD_REPORT_SIZE), "HCL report.hardwareReport.padding");
    const tdBytes = Uint8Array.prototype.slice.call(hwBytes, 0, TD_REPORT_SIZE);
    const report = decodeTdReport(tdBytes);
    hardware = Object.freeze({ kind: "tdx", bytes: tdBytes, report });
    reportData = report.reportData;
  } else {
    throw new MalformedError("unsupported", "HCL report.requestData.reportType", `report type ${reportType}`);
  }
  return Object.freeze({
    version,
    reportSize,
    requestType,
    hardware,
    requestDataVersion,
    hashType,
    runtimeClaims,
    reportData: Uint8Array.prototype.slice.call(reportData),
  });
}
