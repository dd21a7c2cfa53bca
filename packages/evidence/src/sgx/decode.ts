/**
 * Decoding of Intel SGX ECDSA quotes, version 3, after the Intel SGX ECDSA
 * Quote Library API (DCAP) Appendix A.4 "Quote Format". Decoding only: no
 * signature, certificate or TCB check happens here (that is `verify.ts`),
 * so an `SgxQuote` is untrusted.
 *
 * Every integer is little-endian. Layout (§A.4.1):
 *
 *   header (48, §A.4.3) ‖ ISV enclave report body (384, §A.4.5)
 *   ‖ u32 signature data length ‖ signature data (§A.4.4)
 *
 * The header is version 3, attestation key type 2 (ECDSA-256-with-P-256),
 * bytes 4..8 zero (reserved in version 3; TEE type 0 = SGX in later
 * versions), QE SVN, PCE SVN, QE vendor ID and user data. The signature
 * data holds the quote signature and attestation key followed inline by the
 * QE report, its signature, the QE authentication data and certification
 * data type 5 (the PCK chain in PEM): see `../dcap/quote.ts`.
 */
import { ByteReader, MalformedError } from "@veritee/core";
import {
  checkTrailingData,
  copyBytes,
  DCAP_SIZES,
  type DcapQeCertificationData,
  type DcapQuoteHeader,
  type DcapTrailingData,
  decodeDcapHeader,
  decodeDcapSignatureData,
  decodeSgxReportBody,
  type SgxReportBody,
} from "../dcap/quote.js";

/** The SGX quote version decoded here. */
export const SGX_QUOTE_VERSION = 3;
/** TEE type of an SGX quote (bytes 4..8 of the header). */
export const SGX_TEE_TYPE = 0;

/** The quote header of an SGX quote. */
export interface SgxQuoteHeader extends DcapQuoteHeader {
  readonly version: 3;
}

/** A decoded, unverified SGX quote. */
export interface SgxQuote {
  readonly header: SgxQuoteHeader;
  /** The ISV enclave's report body: the measurements policy checks. */
  readonly body: SgxReportBody;
  /** The bytes the attestation key signs: header ‖ body (432). */
  readonly signedData: Uint8Array;
  /** ECDSA P-256 r‖s over `signedData` by the attestation key. */
  readonly signature: Uint8Array;
  /** The attestation key, raw P-256 x‖y (64). */
  readonly attestationKey: Uint8Array;
  readonly certification: DcapQeCertificationData;
  /** The whole quote, exactly as decoded (trailing data excluded). */
  readonly raw: Uint8Array;
  /** Bytes after the quote's end that were dropped: zero padding, or anything with `trailingData: "ignore"`. */
  readonly trailingBytes: number;
}

/** Options of {@link decodeSgxQuote}. */
export interface DecodeSgxQuoteOptions {
  /**
   * Bytes after the quote's declared end: `"reject"` (the default) accepts
   * only zero padding, `"ignore"` drops anything. See {@link DcapTrailingData}.
   */
  readonly trailingData?: DcapTrailingData;
}

/**
 * Decode an SGX quote (version 3) strictly: known version, attestation key
 * type and zero TEE type; exact sizes; bounded lengths; every length field
 * consistent with what it encloses; reserved bytes of both report bodies
 * zero; the PCK chain strict PEM; nothing but zero padding after the quote.
 * Throws `MalformedError` naming the field, and only that.
 *
 * @example
 * const quote = decodeSgxQuote(readFileSync("quote.dat"));
 * toHex(quote.body.mrEnclave);
 */
export function decodeSgxQuote(bytes: Uint8Array, options: DecodeSgxQuoteOptions = {}): SgxQuote {
  const label = "SGX quote";
  if (bytes.length > DCAP_SIZES.maxQuote) throw new MalformedError("too-large", label, `${bytes.length} bytes`);
  const r = new ByteReader(bytes, label);
  const header = decodeDcapHeader(r, label, [SGX_QUOTE_VERSION], SGX_TEE_TYPE) as SgxQuoteHeader;
  const body = decodeSgxReportBody(r.bytes(DCAP_SIZES.reportBody, "body"), `${label}.body`);
  const signedData = copyBytes(bytes, 0, r.position);
  const sigDataSize = r.u32le("signatureDataSize");
  if (sigDataSize > r.remaining) {
    throw new MalformedError("truncated", `${label}.signatureData`, `needs ${sigDataSize} bytes`);
  }
  const end = r.position + sigDataSize;
  const trailingBytes = checkTrailingData(bytes, end, label, options.trailingData ?? "reject");
  const { signature, attestationKey, certification } = decodeDcapSignatureData(
    r.borrow(sigDataSize, "signatureData"),
    label,
    "inline",
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
