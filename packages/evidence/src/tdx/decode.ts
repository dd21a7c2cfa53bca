/**
 * Decoding of Intel TDX ECDSA quotes, formats 4 and 5, after the Intel TDX
 * DCAP Quoting Library API (Appendix A, "Quote Format") and the SGX DCAP
 * ECDSA Quote Library API §A.4. Decoding only: no signature, certificate or
 * TCB check happens here (that is `verify.ts`), so a `TdxQuote` is untrusted.
 *
 * Every integer of the quote is little-endian. Layout:
 *
 *   header (48) ‖ body ‖ u32 signature data length ‖ signature data
 *
 * Version 4 has a fixed TD 1.0 body (TD_QUOTE_BODY, 584 bytes); version 5
 * precedes the body with a u16 body type and a u32 body size (type 2: TD 1.0
 * body, type 3: TD 1.5 body of 648 bytes). The signature data holds the
 * quote signature, the attestation key and certification data type 6 (QE
 * report certification data), which nests certification data type 5 (the
 * PCK certificate chain in PEM).
 */
import { ByteReader, MalformedError } from "@veritee/core";
import { decodePemCertificates } from "./pem.js";

/** Attestation key type 2: ECDSA-256-with-P-256 (DCAP Quote Library API §A.4.1). */
export const TDX_ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
/** TEE type of a TD quote; 0 is SGX. */
export const TDX_TEE_TYPE = 0x81;
/** Certification data types used by TDX quotes (DCAP Quote Library API §A.4.9). */
export const TDX_CERT_DATA_TYPE = { pckCertChain: 5, qeReport: 6 } as const;
/** Version 5 body types (TDX DCAP Quoting Library API, Quote Format v5). */
export const TDX_BODY_TYPE = { td10: 2, td15: 3 } as const;

/** Byte sizes of the fixed parts. */
export const TDX_SIZES = Object.freeze({
  header: 48,
  td10Body: 584,
  td15Body: 648,
  qeReport: 384,
  signature: 64,
  attestationKey: 64,
  /** A quote larger than this is refused before parsing; real ones are about 5 KiB. */
  maxQuote: 64 * 1024,
  /** QE authentication data larger than this is refused; Intel's QE sends 32 bytes. */
  maxQeAuthData: 4096,
  /** A PCK chain larger than this is refused; real ones are under 4 KiB. */
  maxCertChain: 32 * 1024,
});

/** The quote header (DCAP Quote Library API §A.4.3). */
export interface TdxQuoteHeader {
  /** 4 or 5. */
  readonly version: 4 | 5;
  /** Always {@link TDX_ATTESTATION_KEY_TYPE_ECDSA_P256}. */
  readonly attestationKeyType: number;
  /** Always {@link TDX_TEE_TYPE}. */
  readonly teeType: number;
  /** Bytes 8..10: reserved in TDX quotes, QE SVN in SGX quotes; kept as sent. */
  readonly qeSvn: number;
  /** Bytes 10..12: reserved in TDX quotes, PCE SVN in SGX quotes; kept as sent. */
  readonly pceSvn: number;
  /** The QE vendor (16 bytes; Intel's QE: 939a7233f79c4ca9940a0db3957f0607). */
  readonly qeVendorId: Uint8Array;
  /** 20 bytes of QE-defined data (Intel: the first 16 are the platform's QE/PCE identifier). */
  readonly userData: Uint8Array;
}

/** The TD report body: TD_QUOTE_BODY (TD 1.0) or TD_QUOTE_BODY_1_5. */
export interface TdxQuoteBody {
  /** "td1.0" for a version 4 quote or a version 5 body of type 2; "td1.5" for type 3. */
  readonly kind: "td1.0" | "td1.5";
  /** TEE_TCB_SVN: the TDX module's and its TCB components' SVNs (16). */
  readonly teeTcbSvn: Uint8Array;
  /** MRSEAM: the TDX module's measurement (48). */
  readonly mrSeam: Uint8Array;
  /** MRSIGNERSEAM: the TDX module signer's measurement (48; zero for Intel's module). */
  readonly mrSignerSeam: Uint8Array;
  /** SEAMATTRIBUTES (8). */
  readonly seamAttributes: Uint8Array;
  /** TDATTRIBUTES (8; bit 0 is DEBUG). */
  readonly tdAttributes: Uint8Array;
  /** XFAM: extended features the TD may use (8). */
  readonly xfam: Uint8Array;
  /** MRTD: the initial TD contents (48). */
  readonly mrTd: Uint8Array;
  /** MRCONFIGID (48). */
  readonly mrConfigId: Uint8Array;
  /** MROWNER (48). */
  readonly mrOwner: Uint8Array;
  /** MROWNERCONFIG (48). */
  readonly mrOwnerConfig: Uint8Array;
  /** RTMR0..RTMR3 (48 each). */
  readonly rtmrs: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  /** REPORTDATA (64): the TD's own data, e.g. a hash binding a key. */
  readonly reportData: Uint8Array;
  /** TD 1.5 only: TEE_TCB_SVN_2 (16). */
  readonly teeTcbSvn2?: Uint8Array;
  /** TD 1.5 only: MRSERVICETD (48). */
  readonly mrServiceTd?: Uint8Array;
}

/** The QE's SGX REPORT_BODY (SGX Developer Reference, sgx_report_body_t; 384 bytes). */
export interface SgxReportBody {
  /** The exact 384 bytes, which the PCK key signs. */
  readonly raw: Uint8Array;
  readonly cpuSvn: Uint8Array;
  readonly miscSelect: number;
  readonly isvExtProdId: Uint8Array;
  /** SGX attributes (16): flags (8) ‖ XFRM (8). */
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

/** Certification data type 6 (QE report certification data). */
export interface TdxQeCertificationData {
  readonly qeReport: SgxReportBody;
  /** ECDSA P-256 r‖s over `qeReport.raw` by the PCK key. */
  readonly qeReportSignature: Uint8Array;
  /** QE authentication data, hashed into the QE report's report data. */
  readonly qeAuthData: Uint8Array;
  /** The PCK certificate chain (DER), leaf first, as the quote carries it. */
  readonly pckChain: readonly Uint8Array[];
}

/** A decoded, unverified TDX quote. */
export interface TdxQuote {
  readonly header: TdxQuoteHeader;
  readonly body: TdxQuoteBody;
  /** The bytes the attestation key signs: header ‖ (v5: body type ‖ body size ‖) body. */
  readonly signedData: Uint8Array;
  /** ECDSA P-256 r‖s over `signedData` by the attestation key. */
  readonly signature: Uint8Array;
  /** The attestation key, raw P-256 x‖y (64). */
  readonly attestationKey: Uint8Array;
  readonly certification: TdxQeCertificationData;
  /** The whole quote, exactly as decoded (trailing data excluded). */
  readonly raw: Uint8Array;
}

/** Options of {@link decodeTdxQuote}. */
export interface DecodeTdxQuoteOptions {
  /**
   * What to do with bytes after the quote's declared end. `"reject"` (the
   * default) throws `trailing-data`. `"ignore"` is for quotes handed over in
   * a larger buffer (a GetQuote buffer is zero-padded, and one test vector
   * has a note appended); the bytes are not signed, so they are dropped.
   */
  readonly trailingData?: "reject" | "ignore";
}

function decodeHeader(r: ByteReader): TdxQuoteHeader {
  const version = r.u16le("version");
  if (version !== 4 && version !== 5) {
    throw new MalformedError("unsupported", "TDX quote.header.version", `version ${version}`);
  }
  const attestationKeyType = r.u16le("attestationKeyType");
  if (attestationKeyType !== TDX_ATTESTATION_KEY_TYPE_ECDSA_P256) {
    throw new MalformedError("unsupported", "TDX quote.header.attestationKeyType", `type ${attestationKeyType}`);
  }
  const teeType = r.u32le("teeType");
  if (teeType !== TDX_TEE_TYPE) {
    throw new MalformedError("unsupported", "TDX quote.header.teeType", `TEE type 0x${teeType.toString(16)}`);
  }
  const qeSvn = r.u16le("qeSvn");
  const pceSvn = r.u16le("pceSvn");
  return Object.freeze({
    version,
    attestationKeyType,
    teeType,
    qeSvn,
    pceSvn,
    qeVendorId: r.bytes(16, "qeVendorId"),
    userData: r.bytes(20, "userData"),
  });
}

function decodeBody(r: ByteReader, kind: "td1.0" | "td1.5"): TdxQuoteBody {
  const b48 = (field: string) => r.bytes(48, field);
  const teeTcbSvn = r.bytes(16, "teeTcbSvn");
  const mrSeam = b48("mrSeam");
  const mrSignerSeam = b48("mrSignerSeam");
  const seamAttributes = r.bytes(8, "seamAttributes");
  const tdAttributes = r.bytes(8, "tdAttributes");
  const xfam = r.bytes(8, "xfam");
  const mrTd = b48("mrTd");
  const mrConfigId = b48("mrConfigId");
  const mrOwner = b48("mrOwner");
  const mrOwnerConfig = b48("mrOwnerConfig");
  const rtmrs = Object.freeze([b48("rtmr0"), b48("rtmr1"), b48("rtmr2"), b48("rtmr3")] as const);
  const reportData = r.bytes(64, "reportData");
  const common = {
    kind,
    teeTcbSvn,
    mrSeam,
    mrSignerSeam,
    seamAttributes,
    tdAttributes,
    xfam,
    mrTd,
    mrConfigId,
    mrOwner,
    mrOwnerConfig,
    rtmrs,
    reportData,
  };
  if (kind === "td1.0") return Object.freeze(common);
  return Object.freeze({ ...common, teeTcbSvn2: r.bytes(16, "teeTcbSvn2"), mrServiceTd: b48("mrServiceTd") });
}

/** A copy even when `bytes` is a Node Buffer, whose own slice() would alias it. */
function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}

function zero(bytes: Uint8Array, what: string): void {
  if (bytes.some((b) => b !== 0)) throw new MalformedError("reserved-nonzero", what);
}

/** Decode an SGX REPORT_BODY (384 bytes), reserved ranges required zero. */
export function decodeSgxReportBody(bytes: Uint8Array): SgxReportBody {
  if (bytes.length !== TDX_SIZES.qeReport) {
    throw new MalformedError("bad-length", "SGX report body", `${bytes.length} bytes, expected 384`);
  }
  const r = new ByteReader(bytes, "SGX report body");
  const cpuSvn = r.bytes(16, "cpuSvn");
  const miscSelect = r.u32le("miscSelect");
  zero(r.bytes(12, "reserved1"), "SGX report body.reserved1");
  const isvExtProdId = r.bytes(16, "isvExtProdId");
  const attributes = r.bytes(16, "attributes");
  const mrEnclave = r.bytes(32, "mrEnclave");
  zero(r.bytes(32, "reserved2"), "SGX report body.reserved2");
  const mrSigner = r.bytes(32, "mrSigner");
  zero(r.bytes(32, "reserved3"), "SGX report body.reserved3");
  const configId = r.bytes(64, "configId");
  const isvProdId = r.u16le("isvProdId");
  const isvSvn = r.u16le("isvSvn");
  const configSvn = r.u16le("configSvn");
  zero(r.bytes(42, "reserved4"), "SGX report body.reserved4");
  const isvFamilyId = r.bytes(16, "isvFamilyId");
  const reportData = r.bytes(64, "reportData");
  r.end();
  return Object.freeze({
    raw: copy(bytes, 0, bytes.length),
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

function decodeQeCertificationData(r: ByteReader): TdxQeCertificationData {
  const qeReport = decodeSgxReportBody(r.bytes(TDX_SIZES.qeReport, "qeReport"));
  const qeReportSignature = r.bytes(TDX_SIZES.signature, "qeReportSignature");
  const authSize = r.u16le("qeAuthData.size");
  if (authSize > TDX_SIZES.maxQeAuthData) {
    throw new MalformedError("too-large", "TDX quote.qeAuthData", `${authSize} bytes`);
  }
  const qeAuthData = r.bytes(authSize, "qeAuthData");
  const type = r.u16le("pckCertificationData.type");
  if (type !== TDX_CERT_DATA_TYPE.pckCertChain) {
    throw new MalformedError("unsupported", "TDX quote.pckCertificationData.type", `type ${type}`);
  }
  const size = r.u32le("pckCertificationData.size");
  if (size > TDX_SIZES.maxCertChain) {
    throw new MalformedError("too-large", "TDX quote.pckCertificationData", `${size} bytes`);
  }
  const pckChain = decodePemCertificates(r.borrow(size, "pckCertificationData.data"), "TDX quote.pckCertChain");
  r.end();
  return Object.freeze({ qeReport, qeReportSignature, qeAuthData, pckChain });
}

/**
 * Decode a TDX quote (format 4 or 5) strictly: known version, attestation
 * key type and TEE type; exact sizes; bounded lengths; every length field
 * consistent with what it encloses; the QE report's reserved bytes zero; the
 * PCK chain strict PEM. Throws `MalformedError` naming the field, and only that.
 *
 * @example
 * const quote = decodeTdxQuote(readFileSync("quote.dat"));
 * toHex(quote.body.mrTd);
 */
export function decodeTdxQuote(bytes: Uint8Array, options: DecodeTdxQuoteOptions = {}): TdxQuote {
  if (bytes.length > TDX_SIZES.maxQuote) throw new MalformedError("too-large", "TDX quote", `${bytes.length} bytes`);
  const r = new ByteReader(bytes, "TDX quote");
  const header = decodeHeader(r);
  let body: TdxQuoteBody;
  if (header.version === 4) {
    body = decodeBody(r, "td1.0");
  } else {
    const bodyType = r.u16le("bodyType");
    const bodySize = r.u32le("bodySize");
    const kind = bodyType === TDX_BODY_TYPE.td10 ? "td1.0" : bodyType === TDX_BODY_TYPE.td15 ? "td1.5" : undefined;
    if (kind === undefined) throw new MalformedError("unsupported", "TDX quote.bodyType", `type ${bodyType}`);
    const expected = kind === "td1.0" ? TDX_SIZES.td10Body : TDX_SIZES.td15Body;
    if (bodySize !== expected) {
      throw new MalformedError("bad-length", "TDX quote.bodySize", `${bodySize}, expected ${expected}`);
    }
    body = decodeBody(r, kind);
  }
  const signedData = copy(bytes, 0, r.position);
  const sigDataSize = r.u32le("signatureDataSize");
  if (sigDataSize > r.remaining) {
    throw new MalformedError("truncated", "TDX quote.signatureData", `needs ${sigDataSize} bytes`);
  }
  const end = r.position + sigDataSize;
  if (end !== bytes.length && options.trailingData !== "ignore") {
    throw new MalformedError("trailing-data", "TDX quote", `${bytes.length - end} bytes after the signature data`);
  }
  const s = new ByteReader(r.borrow(sigDataSize, "signatureData"), "TDX quote.signatureData");
  const signature = s.bytes(TDX_SIZES.signature, "signature");
  const attestationKey = s.bytes(TDX_SIZES.attestationKey, "attestationKey");
  const certType = s.u16le("certificationData.type");
  if (certType !== TDX_CERT_DATA_TYPE.qeReport) {
    throw new MalformedError("unsupported", "TDX quote.certificationData.type", `type ${certType}`);
  }
  const certSize = s.u32le("certificationData.size");
  const certReader = new ByteReader(s.borrow(certSize, "certificationData.data"), "TDX quote.certificationData");
  s.end();
  const certification = decodeQeCertificationData(certReader);
  return Object.freeze({
    header,
    body,
    signedData,
    signature,
    attestationKey,
    certification,
    raw: copy(bytes, 0, end),
  });
}
