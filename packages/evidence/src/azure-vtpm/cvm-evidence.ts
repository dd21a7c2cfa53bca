/**
 * Decoding of Azure confidential VM evidence as Azure's own tooling captures
 * it: the JSON of the `az-cvm-vtpm` attesters (Confidential Containers'
 * `az-snp-vtpm` and `az-tdx-vtpm` attesters, verified by Trustee). Decoding
 * only; `verify-cvm-evidence.ts` verifies. Shapes (serde, `serde_with`):
 *
 * ```json
 * { "version": 1 | 2,
 *   "tpm_quote": { "signature": "<hex>", "message": "<hex>", "pcrs": ["<hex>", …] },
 *   "hcl_report": "<base64url>", "vcek": "<base64url>" }            // SEV-SNP
 * { "version": 1,
 *   "tpm_quote": { … }, "hcl_report": "<base64url>", "td_quote": "<base64url>" }  // TDX
 * ```
 *
 * - `tpm_quote.message`: the TPMS_ATTEST the vTPM signed (TPM 2.0 Part 2
 *   §10.12.12), hex (`serde_with::hex::Hex`; either case, no `0x`);
 * - `tpm_quote.signature`: the bare RSASSA-PKCS1-v1_5 signature bytes, not
 *   a TPMT_SIGNATURE: `az-cvm-vtpm` quotes with the AK at `0x81000003`
 *   under its own scheme, refuses anything but an RSASSA signature, keeps
 *   only the signature octets, and is verified with SHA-256;
 * - `tpm_quote.pcrs`: the SHA-256 bank's values (32 bytes each) of the
 *   PCRs the quote selects, in selection order (all 24 in practice);
 * - `hcl_report`, `vcek`, `td_quote`: URL-safe base64 *with* padding
 *   (`serde_with::base64::Base64<UrlSafe>`, whose default is padded); the
 *   VCEK is DER (the attester converts IMDS's PEM).
 *
 * Version 2 (SEV-SNP) is the same shape; the HCL's `user-data` then carries
 * the attester's report data, which stays in the verified runtime claims.
 * Strict: exactly these members (an unknown or missing one is `bad-value`),
 * known versions, canonical encodings, a bound on every size. The older,
 * unversioned format (a serialized `Quote` with byte arrays, `report`,
 * PEM `vcek`) is refused as `unsupported`. Duplicate member names resolve
 * as `JSON.parse` does (the last wins); that cannot change a verdict, since
 * nothing here is signed as JSON and every value taken is verified.
 */
import {
  base64urlDecode,
  expectArray,
  expectInteger,
  expectMembers,
  expectObject,
  fromHex,
  MalformedError,
  parseJsonBytes,
} from "@veritee/core";
import { MAX_HCL_REPORT_SIZE } from "./decode.js";

/** Largest evidence JSON accepted: an HCL report, a VCEK or TD quote and the quote, in base64 and hex. */
export const MAX_CVM_EVIDENCE_SIZE = 128 * 1024;
/** Evidence versions of the SEV-SNP attester (2 fills the HCL's user-data with the report data). */
export const AZ_SNP_VTPM_VERSIONS: readonly number[] = Object.freeze([1, 2]);
/** Evidence versions of the TDX attester. */
export const AZ_TDX_VTPM_VERSIONS: readonly number[] = Object.freeze([1]);
/** PCRs in a quote's SHA-256 bank at most (TPM PC Client profile: 24). */
export const MAX_QUOTE_PCRS = 24;

const WHAT = "az-cvm-vtpm evidence";
const MAX_ATTEST_SIZE = 2048;
const MAX_SIGNATURE_SIZE = 1024;
const MAX_VCEK_SIZE = 16 * 1024;
const MAX_TD_QUOTE_SIZE = 64 * 1024;
const SHA256_SIZE = 32;

/** The vTPM quote of the evidence, decoded but unverified. */
export interface CvmTpmQuote {
  /** TPMS_ATTEST bytes, as signed. */
  readonly message: Uint8Array;
  /** The bare RSASSA signature octets (see the module comment). */
  readonly signature: Uint8Array;
  /** SHA-256 PCR values, in the quote's selection order. */
  readonly pcrs: readonly Uint8Array[];
}

/** Decoded, unverified `az-cvm-vtpm` evidence. Byte arrays are fresh copies. */
export type AzCvmEvidence =
  | {
      readonly platform: "snp";
      readonly version: number;
      readonly tpmQuote: CvmTpmQuote;
      readonly hclReport: Uint8Array;
      /** The VCEK certificate, DER. */
      readonly vcek: Uint8Array;
    }
  | {
      readonly platform: "tdx";
      readonly version: number;
      readonly tpmQuote: CvmTpmQuote;
      readonly hclReport: Uint8Array;
      /** The TD quote made from the HCL report's TDREPORT. */
      readonly tdQuote: Uint8Array;
    };

/** Hex as `serde_with::hex::Hex` writes it: an even number of digits, no prefix, at most `max` bytes. */
function hexBytes(value: unknown, what: string, max: number): Uint8Array {
  if (typeof value !== "string" || value.length === 0 || value.length > 2 * max || /^0[xX]/.test(value)) {
    throw new MalformedError("bad-hex", what, `expected 1..${max} bytes of hex`);
  }
  return fromHex(value, what);
}

/**
 * URL-safe base64 with canonical padding (RFC 4648 §5 alphabet, §3.2 pad
 * characters), as the attesters write it; at most `max` decoded bytes.
 */
function paddedBase64url(value: unknown, what: string, max: number): Uint8Array {
  if (typeof value !== "string" || value.length === 0 || value.length > 4 * Math.ceil(max / 3)) {
    throw new MalformedError("bad-value", what, `expected padded base64url of 1..${max} bytes`);
  }
  if (value.length % 4 !== 0) throw new MalformedError("bad-length", what, "padded base64url is a multiple of 4");
  const body = value.replace(/={1,2}$/, "");
  // The pad is exactly what the body's length calls for: none, "==" after 2 characters, "=" after 3.
  const pad = value.length - body.length;
  if ((body.length % 4 === 2 && pad !== 2) || (body.length % 4 === 3 && pad !== 1) || body.length % 4 === 1) {
    throw new MalformedError("bad-value", what, "not canonically padded base64url");
  }
  return base64urlDecode(body, what);
}

function decodeTpmQuote(value: unknown): CvmTpmQuote {
  const what = `${WHAT}.tpm_quote`;
  const q = expectMembers(value, what, ["signature", "message", "pcrs"]);
  const pcrList = expectArray(q.pcrs, `${what}.pcrs`, MAX_QUOTE_PCRS);
  if (pcrList.length === 0) throw new MalformedError("bad-length", `${what}.pcrs`, "no PCR values");
  const pcrs = pcrList.map((p, i) => {
    const bytes = hexBytes(p, `${what}.pcrs[${i}]`, SHA256_SIZE);
    if (bytes.length !== SHA256_SIZE) {
      throw new MalformedError("bad-length", `${what}.pcrs[${i}]`, "a SHA-256 PCR value is 32 bytes");
    }
    return bytes;
  });
  return Object.freeze({
    message: hexBytes(q.message, `${what}.message`, MAX_ATTEST_SIZE),
    signature: hexBytes(q.signature, `${what}.signature`, MAX_SIGNATURE_SIZE),
    pcrs: Object.freeze(pcrs),
  });
}

/**
 * Decode `az-cvm-vtpm` evidence JSON (see the module comment).
 *
 * @throws MalformedError naming the member: `too-large`, `bad-value` (not
 *   JSON, unknown or missing member, a version not known for the
 *   platform, bad base64url), `bad-hex`, `bad-length`, `unsupported` (the
 *   unversioned legacy format).
 * @example
 * const evidence = decodeAzCvmEvidence(readFileSync("evidence.json"));
 * evidence.platform; // "snp"
 */
export function decodeAzCvmEvidence(bytes: Uint8Array): AzCvmEvidence {
  const value = parseJsonBytes(bytes, WHAT, { maxBytes: MAX_CVM_EVIDENCE_SIZE, canonical: false });
  const top = expectObject(value, WHAT);
  if (!Object.hasOwn(top, "version") && (Object.hasOwn(top, "quote") || Object.hasOwn(top, "report"))) {
    throw new MalformedError("unsupported", WHAT, "the unversioned legacy format; capture with a versioned attester");
  }
  const platform = Object.hasOwn(top, "td_quote") ? "tdx" : "snp";
  const o = expectMembers(top, WHAT, ["version", "tpm_quote", "hcl_report", platform === "tdx" ? "td_quote" : "vcek"]);
  const versions = platform === "tdx" ? AZ_TDX_VTPM_VERSIONS : AZ_SNP_VTPM_VERSIONS;
  const version = expectInteger(o.version, `${WHAT}.version`, 0, 0xffffffff);
  if (!versions.includes(version)) {
    throw new MalformedError(
      "bad-value",
      `${WHAT}.version`,
      `not a known ${platform === "tdx" ? "TDX" : "SEV-SNP"} version`,
    );
  }
  const tpmQuote = decodeTpmQuote(o.tpm_quote);
  const hclReport = paddedBase64url(o.hcl_report, `${WHAT}.hcl_report`, MAX_HCL_REPORT_SIZE);
  if (platform === "tdx") {
    const tdQuote = paddedBase64url(o.td_quote, `${WHAT}.td_quote`, MAX_TD_QUOTE_SIZE);
    return Object.freeze({ platform, version, tpmQuote, hclReport, tdQuote });
  }
  const vcek = paddedBase64url(o.vcek, `${WHAT}.vcek`, MAX_VCEK_SIZE);
  return Object.freeze({ platform, version, tpmQuote, hclReport, vcek });
}
