/**
 * The parts Intel SGX and TDX quotes share (Intel SGX ECDSA Quote Library
 * API, "DCAP", Appendix A.4; Intel TDX DCAP Quoting Library API, Appendix A):
 * the 48-byte quote header, the QE's SGX REPORT_BODY, the QE report
 * certification data (QE report ‖ its PCK signature ‖ QE authentication
 * data ‖ certification data type 5, the PEM PCK chain) and what may follow
 * a quote's declared end. Decoding only; `verify.ts` checks signatures.
 *
 * Every integer is little-endian. The two signature data layouts:
 *
 * - version 3 (SGX, §A.4.4 "Quote Signature Data"): signature ‖ attestation
 *   key ‖ QE report ‖ QE report signature ‖ QE auth data ‖ certification data;
 * - version 4/5 (TDX, Appendix A.3.8): signature ‖ attestation key ‖
 *   certification data type 6, whose data is the QE report certification data.
 */
import { ByteReader, MalformedError } from "@veritee/core";
import { decodePemCertificates } from "../tdx/pem.js";

/** Attestation key type 2: ECDSA-256-with-P-256 (DCAP Quote Library API §A.4.1). */
export const DCAP_ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
/** Certification data types DCAP quotes use (DCAP Quote Library API §A.4.9). */
export const DCAP_CERT_DATA_TYPE = { pckCertChain: 5, qeReport: 6 } as const;

/** Byte sizes and bounds shared by SGX and TDX quotes. */
export const DCAP_SIZES = Object.freeze({
  header: 48,
  reportBody: 384,
  signature: 64,
  attestationKey: 64,
  /** A quote (with any padding) larger than this is refused before parsing; real ones are about 5 KiB. */
  maxQuote: 64 * 1024,
  /** QE authentication data larger than this is refused; Intel's QE sends 32 bytes. */
  maxQeAuthData: 4096,
  /** A PCK chain larger than this is refused; real ones are under 4 KiB. */
  maxCertChain: 32 * 1024,
});

/** The quote header (DCAP Quote Library API §A.4.3). */
export interface DcapQuoteHeader {
  readonly version: number;
  /** Always {@link DCAP_ATTESTATION_KEY_TYPE_ECDSA_P256}. */
  readonly attestationKeyType: number;
  /** 0x81 for TDX; 0 for SGX (bytes 4..8, reserved in version 3 and required zero). */
  readonly teeType: number;
  /** Bytes 8..10: QE SVN in SGX quotes, reserved in TDX quotes; kept as sent. */
  readonly qeSvn: number;
  /** Bytes 10..12: PCE SVN in SGX quotes, reserved in TDX quotes; kept as sent. */
  readonly pceSvn: number;
  /** The QE vendor (16 bytes; Intel's QE: 939a7233f79c4ca9940a0db3957f0607). */
  readonly qeVendorId: Uint8Array;
  /** 20 bytes of QE-defined data (Intel: the first 16 are the platform's QE/PCE identifier). */
  readonly userData: Uint8Array;
}

/** An SGX REPORT_BODY (SGX Developer Reference, sgx_report_body_t; 384 bytes). */
export interface SgxReportBody {
  /** The exact 384 bytes, which the PCK key (QE report) or the attestation key (SGX quote) signs. */
  readonly raw: Uint8Array;
  readonly cpuSvn: Uint8Array;
  readonly miscSelect: number;
  readonly isvExtProdId: Uint8Array;
  /** SGX attributes (16): flags (8; bit 1 is DEBUG) ‖ XFRM (8). */
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly configId: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly configSvn: number;
  readonly isvFamilyId: Uint8Array;
  readonly reportData: Uint8Array;
}

/** The QE report certification data (certification data type 6's content, or inline in version 3). */
export interface DcapQeCertificationData {
  readonly qeReport: SgxReportBody;
  /** ECDSA P-256 r‖s over `qeReport.raw` by the PCK key. */
  readonly qeReportSignature: Uint8Array;
  /** QE authentication data, hashed into the QE report's report data. */
  readonly qeAuthData: Uint8Array;
  /** The PCK certificate chain (DER), leaf first, as the quote carries it. */
  readonly pckChain: readonly Uint8Array[];
}

/** The quote signature data, either layout. */
export interface DcapSignatureData {
  /** ECDSA P-256 r‖s over the header and body by the attestation key. */
  readonly signature: Uint8Array;
  /** The attestation key, raw P-256 x‖y (64). */
  readonly attestationKey: Uint8Array;
  readonly certification: DcapQeCertificationData;
}

/**
 * What to do with bytes after a quote's declared end. `"reject"` (the
 * default) accepts only zero bytes there (a GetQuote buffer is larger than
 * its quote and zero-filled) and refuses anything else as `trailing-data`.
 * `"ignore"` drops whatever follows (one test vector has a note appended).
 * The bytes are never signed, so they are dropped either way.
 */
export type DcapTrailingData = "reject" | "ignore";

/** A copy even when `bytes` is a Node Buffer, whose own slice() would alias it. */
export function copyBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}

function zero(bytes: Uint8Array, what: string): void {
  if (bytes.some((b) => b !== 0)) throw new MalformedError("reserved-nonzero", what);
}

/**
 * Decode the 48-byte header: a version in `versions`, attestation key type
 * 2, the expected TEE type. `label` names the quote in errors ("SGX quote").
 */
export function decodeDcapHeader(
  r: ByteReader,
  label: string,
  versions: readonly number[],
  teeType: number,
): DcapQuoteHeader {
  const version = r.u16le("version");
  if (!versions.includes(version)) {
    throw new MalformedError("unsupported", `${label}.header.version`, `version ${version}`);
  }
  const attestationKeyType = r.u16le("attestationKeyType");
  if (attestationKeyType !== DCAP_ATTESTATION_KEY_TYPE_ECDSA_P256) {
    throw new MalformedError("unsupported", `${label}.header.attestationKeyType`, `type ${attestationKeyType}`);
  }
  const tee = r.u32le("teeType");
  if (tee !== teeType) {
    throw new MalformedError("unsupported", `${label}.header.teeType`, `TEE type 0x${tee.toString(16)}`);
  }
  return Object.freeze({
    version,
    attestationKeyType,
    teeType: tee,
    qeSvn: r.u16le("qeSvn"),
    pceSvn: r.u16le("pceSvn"),
    qeVendorId: r.bytes(16, "qeVendorId"),
    userData: r.bytes(20, "userData"),
  });
}

/** Decode an SGX REPORT_BODY (384 bytes), reserved ranges required zero. */
export function decodeSgxReportBody(bytes: Uint8Array, what = "SGX report body"): SgxReportBody {
  if (bytes.length !== DCAP_SIZES.reportBody) {
    throw new MalformedError("bad-length", what, `${bytes.length} bytes, expected 384`);
  }
  const r = new ByteReader(bytes, what);
  const cpuSvn = r.bytes(16, "cpuSvn");
  const miscSelect = r.u32le("miscSelect");
  zero(r.bytes(12, "reserved1"), `${what}.reserved1`);
  const isvExtProdId = r.bytes(16, "isvExtProdId");
  const attributes = r.bytes(16, "attributes");
  const mrEnclave = r.bytes(32, "mrEnclave");
  zero(r.bytes(32, "reserved2"), `${what}.reserved2`);
  const mrSigner = r.bytes(32, "mrSigner");
  zero(r.bytes(32, "reserved3"), `${what}.reserved3`);
  const configId = r.bytes(64, "configId");
  const isvProdId = r.u16le("isvProdId");
  const isvSvn = r.u16le("isvSvn");
  const configSvn = r.u16le("configSvn");
  zero(r.bytes(42, "reserved4"), `${what}.reserved4`);
  const isvFamilyId = r.bytes(16, "isvFamilyId");
  const reportData = r.bytes(64, "reportData");
  r.end();
  return Object.freeze({
    raw: copyBytes(bytes, 0, bytes.length),
    cpuSvn,
    miscSelect,
    isvExtProdId,
    attributes,
    mrEnclave,
    mrSigner,
    configId,
    isvProdId,
    isvSvn,
    configSvn,
    isvFamilyId,
    reportData,
  });
}

/** QE report ‖ signature ‖ auth data ‖ certification data type 5 (the PEM PCK chain), to the reader's end. */
function decodeQeCertificationData(r: ByteReader, label: string): DcapQeCertificationData {
  const qeReport = decodeSgxReportBody(r.bytes(DCAP_SIZES.reportBody, "qeReport"));
  const qeReportSignature = r.bytes(DCAP_SIZES.signature, "qeReportSignature");
  const authSize = r.u16le("qeAuthData.size");
  if (authSize > DCAP_SIZES.maxQeAuthData) {
    throw new MalformedError("too-large", `${label}.qeAuthData`, `${authSize} bytes`);
  }
  const qeAuthData = r.bytes(authSize, "qeAuthData");
  const type = r.u16le("pckCertificationData.type");
  if (type !== DCAP_CERT_DATA_TYPE.pckCertChain) {
    throw new MalformedError("unsupported", `${label}.pckCertificationData.type`, `type ${type}`);
  }
  const size = r.u32le("pckCertificationData.size");
  if (size > DCAP_SIZES.maxCertChain) {
    throw new MalformedError("too-large", `${label}.pckCertificationData`, `${size} bytes`);
  }
  const pckChain = decodePemCertificates(r.borrow(size, "pckCertificationData.data"), `${label}.pckCertChain`);
  r.end();
  return Object.freeze({ qeReport, qeReportSignature, qeAuthData, pckChain });
}

/**
 * Decode the quote signature data (all of `bytes`): `"inline"` for the
 * version 3 layout, `"type6"` for the version 4/5 one (module comment).
 */
export function decodeDcapSignatureData(
  bytes: Uint8Array,
  label: string,
  layout: "inline" | "type6",
): DcapSignatureData {
  const s = new ByteReader(bytes, `${label}.signatureData`);
  const signature = s.bytes(DCAP_SIZES.signature, "signature");
  const attestationKey = s.bytes(DCAP_SIZES.attestationKey, "attestationKey");
  if (layout === "inline") {
    return Object.freeze({ signature, attestationKey, certification: decodeQeCertificationData(s, label) });
  }
  const certType = s.u16le("certificationData.type");
  if (certType !== DCAP_CERT_DATA_TYPE.qeReport) {
    throw new MalformedError("unsupported", `${label}.certificationData.type`, `type ${certType}`);
  }
  const certSize = s.u32le("certificationData.size");
  const certReader = new ByteReader(s.borrow(certSize, "certificationData.data"), `${label}.certificationData`);
  s.end();
  return Object.freeze({ signature, attestationKey, certification: decodeQeCertificationData(certReader, label) });
}

/**
 * Check what follows a quote's declared `end` in `bytes` and return how many
 * bytes that is (the padding length, 0 for an exact quote). With `"reject"`
 * only zero bytes may follow; anything else is `trailing-data`.
 */
export function checkTrailingData(bytes: Uint8Array, end: number, label: string, mode: DcapTrailingData): number {
  const extra = bytes.length - end;
  if (extra > 0 && mode !== "ignore" && bytes.subarray(end).some((b) => b !== 0)) {
    throw new MalformedError("trailing-data", label, `${extra} non-zero-padded bytes after the signature data`);
  }
  return extra;
}
