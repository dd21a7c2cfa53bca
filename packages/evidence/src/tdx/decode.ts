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
import {
  checkTrailingData,
  copyBytes,
  DCAP_ATTESTATION_KEY_TYPE_ECDSA_P256,
  DCAP_CERT_DATA_TYPE,
  DCAP_SIZES,
  type DcapQeCertificationData,
  type DcapQuoteHeader,
  type DcapTrailingData,
  decodeDcapHeader,
  decodeDcapSignatureData,
} from "../dcap/quote.js";

export { decodeSgxReportBody, type SgxReportBody } from "../dcap/quote.js";

/** Attestation key type 2: ECDSA-256-with-P-256 (DCAP Quote Library API §A.4.1). */
export const TDX_ATTESTATION_KEY_TYPE_ECDSA_P256 = DCAP_ATTESTATION_KEY_TYPE_ECDSA_P256;
/** TEE type of a TD quote; 0 is SGX. */
export const TDX_TEE_TYPE = 0x81;
/** Certification data types used by TDX quotes (DCAP Quote Library API §A.4.9). */
export const TDX_CERT_DATA_TYPE = DCAP_CERT_DATA_TYPE;
/** Version 5 body types (TDX DCAP Quoting Library API, Quote Format v5). */
export const TDX_BODY_TYPE = { td10: 2, td15: 3 } as const;

/** Byte sizes of the fixed parts. */
export const TDX_SIZES = Object.freeze({
  header: DCAP_SIZES.header,
  td10Body: 584,
  td15Body: 648,
  qeReport: DCAP_SIZES.reportBody,
  signature: DCAP_SIZES.signature,
  attestationKey: DCAP_SIZES.attestationKey,
  /** A quote larger than this is refused before parsing; real ones are about 5 KiB. */
  maxQuote: DCAP_SIZES.maxQuote,
  /** QE authentication data larger than this is refused; Intel's QE sends 32 bytes. */
  maxQeAuthData: DCAP_SIZES.maxQeAuthData,
  /** A PCK chain larger than this is refused; real ones are under 4 KiB. */
  maxCertChain: DCAP_SIZES.maxCertChain,
});

/** The quote header (DCAP Quote Library API §A.4.3), of a TD quote. */
export interface TdxQuoteHeader extends DcapQuoteHeader {
  /** 4 or 5. */
  readonly version: 4 | 5;
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

/** Certification data type 6 (QE report certification data). */
export type TdxQeCertificationData = DcapQeCertificationData;

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
  /** Bytes after the quote's end that were dropped: zero padding, or anything with `trailingData: "ignore"`. */
  readonly trailingBytes: number;
}

/** Options of {@link decodeTdxQuote}. */
export interface DecodeTdxQuoteOptions {
  /**
   * What to do with bytes after the quote's declared end. `"reject"` (the
   * default) accepts zero padding (a GetQuote buffer is larger than its
   * quote) and throws `trailing-data` for anything else. `"ignore"` drops
   * whatever follows (one test vector has a note appended). The bytes are
   * not signed; their count is the quote's `trailingBytes`.
   */
  readonly trailingData?: DcapTrailingData;
}

function decodeHeader(r: ByteReader): TdxQuoteHeader {
  return decodeDcapHeader(r, "TDX quote", [4, 5], TDX_TEE_TYPE) as TdxQuoteHeader;
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

/**
 * Decode a TDX quote (format 4 or 5) strictly: known version, attestation
 * key type and TEE type; exact sizes; bounded lengths; every length field
 * consistent with what it encloses; the QE report's reserved bytes zero; the
 * PCK chain strict PEM; nothing but zero padding after the quote. Throws `MalformedError` naming the field, and only that.
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
  const signedData = copyBytes(bytes, 0, r.position);
  const sigDataSize = r.u32le("signatureDataSize");
  if (sigDataSize > r.remaining) {
    throw new MalformedError("truncated", "TDX quote.signatureData", `needs ${sigDataSize} bytes`);
  }
  const end = r.position + sigDataSize;
  const trailingBytes = checkTrailingData(bytes, end, "TDX quote", options.trailingData ?? "reject");
  const { signature, attestationKey, certification } = decodeDcapSignatureData(
    r.borrow(sigDataSize, "signatureData"),
    "TDX quote",
    "type6",
  );
  return Object.freeze({
    header,
    body,
    signedData,
    signature,
    attestationKey,
    certification,
    raw: copyBytes(bytes, 0, end),
    trailingBytes,
  });
}
