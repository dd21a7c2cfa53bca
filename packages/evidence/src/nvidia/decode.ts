/**
 * Decoding of an NVIDIA Hopper GPU attestation report: the SPDM
 * GET_MEASUREMENTS request the verifier sent followed by the GPU's signed
 * MEASUREMENTS response (DMTF DSP0274 SPDM 1.1 §10.11), and NVIDIA's TLV
 * fields in the response's opaque data. Decoding only: nothing here checks
 * the signature, the certificate chain or the nonce (that is `verify.ts`),
 * so every value here is untrusted.
 *
 * SPDM integers are little-endian (DSP0274 §7 "byte ordering"), unlike TPM
 * structures.
 */
import { ByteReader, fromHex, MalformedError } from "@veritee/core";

/** SPDM 1.1, the version Hopper firmware speaks (DSP0274 1.1 §10.2 SPDMVersion 0x11). */
export const SPDM_VERSION_1_1 = 0x11;
/** RequestResponseCode of GET_MEASUREMENTS (DSP0274 1.1 Table 4). */
export const SPDM_GET_MEASUREMENTS = 0xe0;
/** RequestResponseCode of MEASUREMENTS (DSP0274 1.1 Table 5). */
export const SPDM_MEASUREMENTS = 0x60;
/** GET_MEASUREMENTS Param2: return every measurement block (DSP0274 1.1 Table 45). */
export const SPDM_ALL_MEASUREMENTS = 0xff;
/** Nonce size of GET_MEASUREMENTS and MEASUREMENTS (DSP0274 1.1 Tables 45, 47). */
export const SPDM_NONCE_SIZE = 32;
/** An ECDSA P-384 signature, r‖s of 48 bytes each: the Hopper attestation key's algorithm (DSP0274 1.1 §14.4.1). */
export const GPU_SIGNATURE_SIZE = 96;
/** MeasurementSpecification bit 0: DMTF-defined measurement blocks (DSP0274 1.1 §10.11.2.1). */
export const SPDM_MEASUREMENT_SPEC_DMTF = 0x01;

/** Bounds that a decoder enforces whatever the input claims. */
export const GPU_REPORT_LIMITS = Object.freeze({
  /** A whole report (request and response); a Hopper one is about 4 KiB. */
  maxReportSize: 64 * 1024,
  /** OpaqueLength (DSP0274 1.1 Table 47: "shall be less than or equal to 1024"). */
  maxOpaqueSize: 1024,
  /** One text field of the opaque data (a version string, a project name). */
  maxOpaqueText: 64,
  /**
   * Zero bytes accepted after the signature: capture padding, at most the
   * size of NVML's attestation-report buffer (NVML_CC_GPU_ATTESTATION_REPORT_SIZE,
   * 0x2000). A Hopper report from a Confidential Containers guest has one.
   */
  maxPadding: 0x2000,
});

/** GET_MEASUREMENTS as sent by the verifier (DSP0274 1.1 §10.11.1, Table 45), signature requested. */
export interface SpdmGetMeasurementsRequest {
  /** SPDMVersion, 0x11. */
  readonly version: number;
  /** Param1 bit 0: the responder must sign the response. Always true here (an unsigned report proves nothing). */
  readonly signatureRequested: true;
  /** Param2: 0xFF for every block, or one measurement index 1..0xFE. */
  readonly measurementOperation: number;
  /** The verifier's 32-byte nonce. */
  readonly nonce: Uint8Array;
  /** SlotIDParam bits [3:0]: the certificate slot whose key signs (0..7). */
  readonly slotId: number;
}

/** One DMTF measurement block (DSP0274 1.1 §10.11.2.1, Tables 48–49). */
export interface SpdmMeasurementBlock {
  /** Measurement index, 1..0xFE (NVIDIA's RIM index is this minus one). */
  readonly index: number;
  /** DMTFSpecMeasurementValueType bits [6:0] (0 immutable ROM, 1 mutable firmware, ...). */
  readonly valueType: number;
  /** DMTFSpecMeasurementValueType bit 7: the value is a raw bit stream, not a digest. */
  readonly raw: boolean;
  /** DMTFSpecMeasurementValue: for Hopper, a 48-byte SHA-384 digest. */
  readonly value: Uint8Array;
}

/**
 * NVIDIA opaque data field types, as NVIDIA's verifiers name them (nvtrust
 * local GPU verifier `OpaqueData.OPAQUE_DATA_TYPES`; 22–36 are reported by
 * newer Hopper firmware and drivers, e.g. a 580-series driver reports 34 and
 * 36). A type outside this table is kept as an unknown field.
 */
export const NVIDIA_OPAQUE = Object.freeze({
  certIssuerName: 1,
  certAuthorityKeyIdentifier: 2,
  driverVersion: 3,
  gpuInfo: 4,
  sku: 5,
  vbiosVersion: 6,
  manufacturerId: 7,
  tamperDetection: 8,
  smc: 9,
  vpr: 10,
  nvdec0Status: 11,
  msrCount: 12,
  cprInfo: 13,
  boardId: 14,
  chipSku: 15,
  chipSkuMod: 16,
  project: 17,
  projectSku: 18,
  projectSkuMod: 19,
  fwid: 20,
  protectedPcieStatus: 21,
  switchPdi: 22,
  floorsweptPorts: 23,
  positionId: 24,
  lockSwitchStatus: 25,
  gpuLinkConn: 32,
  sysEnableStatus: 33,
  opaqueDataVersion: 34,
  chipInfo: 35,
  featureFlag: 36,
  /** NVIDIA's "invalid" marker: never a field of a genuine report, refused. */
  invalid: 255,
});

const KNOWN_OPAQUE_TYPES: ReadonlySet<number> = new Set(Object.values(NVIDIA_OPAQUE));

/** The GPU's mode of operation in opaque field 36 (FEATURE_FLAG): single-GPU, multi-GPU passthrough, protected PCIe. */
export type GpuFeatureMode = "spt" | "mpt" | "ppcie";

/** One opaque-data TLV as encoded: u16 type, u16 size, value (all little-endian). */
export interface GpuOpaqueField {
  readonly type: number;
  readonly value: Uint8Array;
}

/** The opaque-data fields that policy reads, decoded; `undefined` where the GPU did not report one. */
export interface GpuOpaqueData {
  /** Every field in report order (duplicates are refused by the decoder). */
  readonly fields: readonly GpuOpaqueField[];
  /** The driver version, e.g. "550.90.07". */
  readonly driverVersion?: string;
  /** The VBIOS version as NVIDIA writes it, e.g. "96.00.9F.00.01". */
  readonly vbiosVersion?: string;
  readonly project?: string;
  readonly projectSku?: string;
  readonly projectSkuMod?: string;
  readonly chipSku?: string;
  readonly chipSkuMod?: string;
  /** NVDEC0 status byte: 0xAA enabled, 0x55 disabled. */
  readonly nvdec0Status?: number;
  /** Protected PCIe (PPCIe) mode byte: 0xAA enabled, 0x55 disabled. */
  readonly protectedPcieStatus?: number;
  /** Per-measurement counters (MSRSCNT), u32 little-endian each. */
  readonly measurementCounts?: readonly number[];
  /** The firmware identifier (FWID), a SHA-384 digest. */
  readonly fwid?: Uint8Array;
  /** The NVSwitch PDIs (SWITCH_PDI, 8 bytes each) of a GPU attached to switches. */
  readonly switchPdis?: readonly Uint8Array[];
  /** The version of the opaque-data layout (OPAQUE_DATA_VERSION, a little-endian integer). */
  readonly opaqueDataVersion?: number;
  /** The chip description (CHIP_INFO text). */
  readonly chipInfo?: string;
  /** FEATURE_FLAG decoded: 0 "spt", 1 "mpt", 2 "ppcie"; another value is `MalformedError`. */
  readonly featureMode?: GpuFeatureMode;
  /**
   * Fields of a type outside {@link NVIDIA_OPAQUE}, in report order, as
   * found: a newer firmware's field is kept (and signed), never dropped and
   * never interpreted.
   */
  readonly unknown: readonly GpuOpaqueField[];
}

/** MEASUREMENTS as returned by the GPU (DSP0274 1.1 §10.11.2, Table 47). */
export interface SpdmMeasurementsResponse {
  readonly version: number;
  /** Param1: the number of indices when Param2 of the request was 0; reserved (0) otherwise. */
  readonly param1: number;
  /** Param2 bits [3:0]: the slot whose key signed. */
  readonly slotId: number;
  readonly blocks: readonly SpdmMeasurementBlock[];
  /** The responder's own 32-byte nonce (not the verifier's: that one is in the request). */
  readonly responderNonce: Uint8Array;
  readonly opaque: GpuOpaqueData;
  /** The 96-byte ECDSA P-384 signature, r‖s. */
  readonly signature: Uint8Array;
}

/** A decoded, unverified GPU attestation report. */
export interface GpuReport {
  readonly request: SpdmGetMeasurementsRequest;
  readonly response: SpdmMeasurementsResponse;
  /**
   * Zero bytes after the response's signature, outside the SPDM message
   * (a capture buffer's padding: a CoCo guest's Hopper report carries one).
   * Not signed and not interpreted; any non-zero byte there is refused.
   */
  readonly padding: number;
  /**
   * The signed bytes: the request and the response up to its signature
   * (the SPDM 1.1 measurement transcript L1/L2, DSP0274 1.1 §10.11.2.2).
   */
  readonly signedBytes: Uint8Array;
}

/** Size of a GET_MEASUREMENTS with a signature requested: header 4, nonce 32, SlotIDParam 1. */
export const GPU_REQUEST_SIZE = 4 + SPDM_NONCE_SIZE + 1;

const WHAT_REQUEST = "SPDM GET_MEASUREMENTS";
const WHAT_RESPONSE = "SPDM MEASUREMENTS";

function checkVersion(version: number, what: string): void {
  // SPDM 1.2 and later sign a prefixed digest (DSP0274 1.2 §15 combined_spdm_prefix)
  // and 1.3 adds RequesterContext to the request; neither layout is decoded here.
  if (version !== SPDM_VERSION_1_1) {
    throw new MalformedError("unsupported", `${what}.SPDMVersion`, `version 0x${version.toString(16)}`);
  }
}

/**
 * Decode a GET_MEASUREMENTS request (DSP0274 1.1 §10.11.1). Only requests
 * that ask for a signature are accepted: without one the response proves
 * nothing and has no nonce.
 *
 * @throws MalformedError naming the field.
 * @example
 * const request = decodeSpdmGetMeasurements(bytes.subarray(0, GPU_REQUEST_SIZE));
 */
export function decodeSpdmGetMeasurements(bytes: Uint8Array): SpdmGetMeasurementsRequest {
  const r = new ByteReader(bytes, WHAT_REQUEST);
  const version = r.u8("SPDMVersion");
  checkVersion(version, WHAT_REQUEST);
  if (r.u8("RequestResponseCode") !== SPDM_GET_MEASUREMENTS) {
    throw new MalformedError("bad-magic", `${WHAT_REQUEST}.RequestResponseCode`, "not GET_MEASUREMENTS (0xE0)");
  }
  const attributes = r.u8("Param1");
  if ((attributes & 0x01) === 0) {
    throw new MalformedError("unsupported", `${WHAT_REQUEST}.Param1`, "no signature requested");
  }
  // DSP0274 1.1 Table 46: bits [7:1] of the attributes are reserved.
  if ((attributes & 0xfe) !== 0) throw new MalformedError("reserved-nonzero", `${WHAT_REQUEST}.Param1`);
  const measurementOperation = r.u8("Param2");
  if (measurementOperation === 0) {
    // Operation 0 asks for the number of blocks only: there is nothing to attest.
    throw new MalformedError("unsupported", `${WHAT_REQUEST}.Param2`, "a count query carries no measurements");
  }
  const nonce = r.bytes(SPDM_NONCE_SIZE, "Nonce");
  const slot = r.u8("SlotIDParam");
  if ((slot & 0xf0) !== 0) throw new MalformedError("reserved-nonzero", `${WHAT_REQUEST}.SlotIDParam`);
  if (slot > 7) throw new MalformedError("bad-value", `${WHAT_REQUEST}.SlotIDParam`, "slot above 7");
  r.end();
  return Object.freeze({ version, signatureRequested: true, measurementOperation, nonce, slotId: slot });
}

function decodeBlocks(r: ByteReader, count: number): SpdmMeasurementBlock[] {
  const blocks: SpdmMeasurementBlock[] = [];
  for (let i = 0; i < count; i++) {
    const field = `MeasurementRecord[${i}]`;
    const index = r.u8(`${field}.Index`);
    // Index 0 and 0xFF are operations of the request, never a block's index.
    if (index === 0 || index === 0xff) throw new MalformedError("bad-value", `${r.what}.${field}.Index`);
    const spec = r.u8(`${field}.MeasurementSpecification`);
    if (spec !== SPDM_MEASUREMENT_SPEC_DMTF) {
      throw new MalformedError("unsupported", `${r.what}.${field}.MeasurementSpecification`, "not DMTF");
    }
    const size = r.u16le(`${field}.MeasurementSize`);
    const m = r.sub(size, `${field}.Measurement`);
    const type = m.u8("DMTFSpecMeasurementValueType");
    const valueSize = m.u16le("DMTFSpecMeasurementValueSize");
    const value = m.bytes(valueSize, "DMTFSpecMeasurementValue");
    m.end();
    blocks.push(Object.freeze({ index, valueType: type & 0x7f, raw: (type & 0x80) !== 0, value }));
  }
  return blocks;
}

/** A NUL-terminated ASCII text field, NUL-padded (how the GPU writes versions and names). */
function opaqueText(value: Uint8Array, what: string): string {
  const nul = value.indexOf(0);
  if (nul < 0) throw new MalformedError("bad-value", what, "not NUL-terminated");
  for (let i = nul; i < value.length; i++) {
    if (value[i] !== 0) throw new MalformedError("bad-value", what, "bytes after the terminating NUL");
  }
  if (nul > GPU_REPORT_LIMITS.maxOpaqueText) throw new MalformedError("too-large", what);
  let text = "";
  for (let i = 0; i < nul; i++) {
    const c = value[i]!;
    if (c < 0x20 || c > 0x7e) throw new MalformedError("bad-value", what, "not printable ASCII");
    text += String.fromCharCode(c);
  }
  return text;
}

function oneByte(value: Uint8Array, what: string): number {
  if (value.length !== 1) throw new MalformedError("bad-length", what, `${value.length} bytes, not 1`);
  return value[0]!;
}

/**
 * The VBIOS version field: 8 bytes, little-endian. NVIDIA prints it as the
 * four bytes of the low 32-bit word, most significant first, then the low
 * byte of the high word, in upper-case hex: "96.00.9F.00.01".
 */
function vbiosVersion(value: Uint8Array, what: string): string {
  if (value.length !== 8) throw new MalformedError("bad-length", what, `${value.length} bytes, not 8`);
  const hex = (b: number) => b.toString(16).toUpperCase().padStart(2, "0");
  return [value[3]!, value[2]!, value[1]!, value[0]!, value[4]!].map(hex).join(".");
}

/**
 * Decode NVIDIA's opaque data: a sequence of TLVs (u16 type, u16 size, value,
 * little-endian), each type at most once. Unknown types are kept as raw
 * fields; known ones that policy reads are checked and decoded.
 *
 * @throws MalformedError naming the field.
 */
export function decodeGpuOpaqueData(bytes: Uint8Array): GpuOpaqueData {
  if (bytes.length > GPU_REPORT_LIMITS.maxOpaqueSize) {
    throw new MalformedError("too-large", "GPU opaque data", `over ${GPU_REPORT_LIMITS.maxOpaqueSize} bytes`);
  }
  const r = new ByteReader(bytes, "GPU opaque data");
  const fields: GpuOpaqueField[] = [];
  const unknown: GpuOpaqueField[] = [];
  const out: {
    -readonly [K in keyof GpuOpaqueData]: GpuOpaqueData[K];
  } = { fields, unknown };
  const seen = new Set<number>();
  // Every byte belongs to a TLV: a header cut short or a DataSize past the
  // end is `truncated` (ByteReader), so nothing is left unaccounted for.
  while (r.remaining > 0) {
    const type = r.u16le(`field[${fields.length}].DataType`);
    const value = r.bytes(r.u16le(`field[${fields.length}].DataSize`), `field[${fields.length}].Data`);
    const what = `GPU opaque data.type ${type}`;
    if (seen.has(type)) throw new MalformedError("bad-value", what, "appears twice");
    seen.add(type);
    const field = Object.freeze({ type, value });
    fields.push(field);
    if (!KNOWN_OPAQUE_TYPES.has(type)) unknown.push(field);
    switch (type) {
      case NVIDIA_OPAQUE.invalid:
        throw new MalformedError("bad-value", what, "the invalid field type");
      case NVIDIA_OPAQUE.switchPdi: {
        if (value.length % 8 !== 0) throw new MalformedError("bad-length", what, "not a whole number of 8-byte PDIs");
        const pdis: Uint8Array[] = [];
        for (let i = 0; i < value.length; i += 8) pdis.push(value.slice(i, i + 8));
        out.switchPdis = Object.freeze(pdis);
        break;
      }
      case NVIDIA_OPAQUE.opaqueDataVersion:
        out.opaqueDataVersion = littleEndianInteger(value, what);
        break;
      case NVIDIA_OPAQUE.chipInfo:
        out.chipInfo = opaqueText(value, what);
        break;
      case NVIDIA_OPAQUE.featureFlag: {
        const flag = littleEndianInteger(value, what);
        const mode = (["spt", "mpt", "ppcie"] as const)[flag];
        if (mode === undefined) throw new MalformedError("bad-value", what, `unknown feature flag ${flag}`);
        out.featureMode = mode;
        break;
      }
      case NVIDIA_OPAQUE.driverVersion:
        out.driverVersion = opaqueText(value, what);
        break;
      case NVIDIA_OPAQUE.vbiosVersion:
        out.vbiosVersion = vbiosVersion(value, what);
        break;
      case NVIDIA_OPAQUE.project:
        out.project = opaqueText(value, what);
        break;
      case NVIDIA_OPAQUE.projectSku:
        out.projectSku = opaqueText(value, what);
        break;
      case NVIDIA_OPAQUE.projectSkuMod:
        out.projectSkuMod = opaqueText(value, what);
        break;
      case NVIDIA_OPAQUE.chipSku:
        out.chipSku = opaqueText(value, what);
        break;
      case NVIDIA_OPAQUE.chipSkuMod:
        out.chipSkuMod = opaqueText(value, what);
        break;
      case NVIDIA_OPAQUE.nvdec0Status:
        out.nvdec0Status = oneByte(value, what);
        break;
      case NVIDIA_OPAQUE.protectedPcieStatus:
        out.protectedPcieStatus = oneByte(value, what);
        break;
      case NVIDIA_OPAQUE.msrCount: {
        if (value.length % 4 !== 0) throw new MalformedError("bad-length", what, "not a whole number of u32");
        const c = new ByteReader(value, what);
        const counts: number[] = [];
        while (c.remaining > 0) counts.push(c.u32le(`[${counts.length}]`));
        out.measurementCounts = Object.freeze(counts);
        break;
      }
      case NVIDIA_OPAQUE.fwid:
        if (value.length !== 48) throw new MalformedError("bad-length", what, `${value.length} bytes, not 48`);
        out.fwid = value;
        break;
    }
  }
  Object.freeze(fields);
  Object.freeze(unknown);
  return Object.freeze(out);
}

/** A little-endian unsigned integer of 1..6 bytes (so it fits a JavaScript number exactly). */
function littleEndianInteger(value: Uint8Array, what: string): number {
  if (value.length === 0 || value.length > 6) {
    throw new MalformedError("bad-length", what, `${value.length} bytes, not 1..6`);
  }
  let n = 0;
  for (let i = value.length - 1; i >= 0; i--) n = n * 256 + value[i]!;
  return n;
}

/**
 * Decode a MEASUREMENTS response (DSP0274 1.1 §10.11.2) that carries a
 * signature of `signatureSize` bytes (96 for Hopper's ECDSA P-384 key).
 * The message is exactly what its length fields say: nothing may follow the
 * signature (see {@link decodeGpuReport} for a capture's zero padding).
 *
 * @throws MalformedError naming the field.
 */
export function decodeSpdmMeasurements(
  bytes: Uint8Array,
  signatureSize = GPU_SIGNATURE_SIZE,
): SpdmMeasurementsResponse {
  const { response, size } = readSpdmMeasurements(bytes, signatureSize);
  if (size !== bytes.length) {
    throw new MalformedError("trailing-data", WHAT_RESPONSE, `${bytes.length - size} bytes after the end`);
  }
  return response;
}

/**
 * Read one MEASUREMENTS message from the start of `bytes`, its extent given
 * by its own length fields (DSP0274 1.1 Table 47: 8 header bytes, the
 * MeasurementRecordLength bytes of records, the 32-byte nonce, OpaqueLength,
 * the opaque data, the signature). Returns the message and its size.
 */
function readSpdmMeasurements(
  bytes: Uint8Array,
  signatureSize: number,
): { response: SpdmMeasurementsResponse; size: number } {
  const r = new ByteReader(bytes, WHAT_RESPONSE);
  const version = r.u8("SPDMVersion");
  checkVersion(version, WHAT_RESPONSE);
  if (r.u8("RequestResponseCode") !== SPDM_MEASUREMENTS) {
    throw new MalformedError("bad-magic", `${WHAT_RESPONSE}.RequestResponseCode`, "not MEASUREMENTS (0x60)");
  }
  const param1 = r.u8("Param1");
  const param2 = r.u8("Param2");
  // DSP0274 1.1 Table 47: Param2 bits [7:4] are reserved.
  if ((param2 & 0xf0) !== 0) throw new MalformedError("reserved-nonzero", `${WHAT_RESPONSE}.Param2`);
  if (param2 > 7) throw new MalformedError("bad-value", `${WHAT_RESPONSE}.Param2`, "slot above 7");
  const count = r.u8("NumberOfBlocks");
  const recordLength = r.u16le("MeasurementRecordLength") | (r.u8("MeasurementRecordLength[2]") << 16);
  const record = r.sub(recordLength, "MeasurementRecord");
  const blocks = decodeBlocks(record, count);
  record.end();
  const responderNonce = r.bytes(SPDM_NONCE_SIZE, "Nonce");
  const opaqueLength = r.u16le("OpaqueLength");
  if (opaqueLength > GPU_REPORT_LIMITS.maxOpaqueSize) {
    throw new MalformedError("too-large", `${WHAT_RESPONSE}.OpaqueLength`, `over ${GPU_REPORT_LIMITS.maxOpaqueSize}`);
  }
  const opaque = decodeGpuOpaqueData(r.borrow(opaqueLength, "OpaqueData"));
  const signature = r.bytes(signatureSize, "Signature");
  const response = Object.freeze({
    version,
    param1,
    slotId: param2,
    blocks: Object.freeze(blocks),
    responderNonce,
    opaque,
    signature,
  });
  return { response, size: r.position };
}

/**
 * Decode a GPU attestation report: the GET_MEASUREMENTS request (37 bytes)
 * immediately followed by the MEASUREMENTS response, as NVIDIA's tools
 * capture it. Accepts the bytes or their hex text (surrounding whitespace
 * allowed, as in nvtrust's sample files). The response ends where its
 * length fields say; after it, only zero bytes (a capture buffer's padding,
 * counted in `padding`) are accepted, at most {@link GPU_REPORT_LIMITS}
 * `maxPadding`; a non-zero byte there is `trailing-data`.
 *
 * @throws MalformedError naming the field.
 * @example
 * const report = decodeGpuReport(readFileSync("hopperAttestationReport.txt", "utf8"));
 * report.response.opaque.driverVersion; // "550.90.07" (unverified)
 */
export function decodeGpuReport(input: Uint8Array | string): GpuReport {
  const bytes = typeof input === "string" ? reportFromHex(input) : input;
  if (bytes.length > GPU_REPORT_LIMITS.maxReportSize) {
    throw new MalformedError("too-large", "GPU attestation report", `over ${GPU_REPORT_LIMITS.maxReportSize} bytes`);
  }
  if (bytes.length < GPU_REQUEST_SIZE) {
    throw new MalformedError("truncated", "GPU attestation report", "shorter than the request");
  }
  const request = decodeSpdmGetMeasurements(bytes.subarray(0, GPU_REQUEST_SIZE));
  const { response, size } = readSpdmMeasurements(bytes.subarray(GPU_REQUEST_SIZE), GPU_SIGNATURE_SIZE);
  const end = GPU_REQUEST_SIZE + size;
  const padding = bytes.length - end;
  if (padding > GPU_REPORT_LIMITS.maxPadding) {
    throw new MalformedError("trailing-data", "GPU attestation report", `${padding} bytes after the signature`);
  }
  for (let i = end; i < bytes.length; i++) {
    if (bytes[i] !== 0) {
      throw new MalformedError("trailing-data", "GPU attestation report", "non-zero bytes after the signature");
    }
  }
  // The signature covers the request and the response up to the signature, never the padding.
  const signedBytes = Uint8Array.prototype.slice.call(bytes, 0, end - response.signature.length);
  return Object.freeze({ request, response, signedBytes, padding });
}

function reportFromHex(text: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed.length > 2 * GPU_REPORT_LIMITS.maxReportSize) {
    throw new MalformedError("too-large", "GPU attestation report", `over ${GPU_REPORT_LIMITS.maxReportSize} bytes`);
  }
  return fromHex(trimmed, "GPU attestation report");
}
