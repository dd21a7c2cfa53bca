/**
 * Command-line inputs of `veritee evidence verify`: the evidence type (given
 * or detected from the file's first bytes), the validation time, certificate
 * files (PEM or DER) and the expected nonce. Everything here only shapes
 * input; nothing is trusted because of it — the verifiers decide.
 */
import { stat } from "node:fs/promises";
import { MalformedError } from "@veritee/core";
import { decodePemChain, SNP_REPORT_SIZE, SNP_REPORT_VERSIONS, TDX_TEE_TYPE } from "@veritee/evidence";
import { CliError } from "../cli-error.js";
import { parseHexOption, readInputFile } from "../io.js";

/** The evidence types `--type` names. */
export const EVIDENCE_TYPES = ["snp", "tdx", "sgx", "nvidia", "azure-vtpm"] as const;

/** One of {@link EVIDENCE_TYPES}. */
export type EvidenceType = (typeof EVIDENCE_TYPES)[number];

/** The largest evidence file read: a TDX quote is under 8 KiB, an H100 report under 16 KiB of hex. */
export const MAX_EVIDENCE_FILE = 1 << 20;
/** The largest certificate file read: a few PEM certificates. */
export const MAX_CERT_FILE = 256 << 10;

/**
 * Guess the evidence type from the bytes, or `undefined`. The guess only
 * picks a decoder; the decoder then checks every byte strictly.
 *
 * - SEV-SNP: exactly 1184 bytes (SEV-SNP Firmware ABI, publication 56860,
 *   Table 23) whose little-endian VERSION is one the decoder knows;
 * - TDX: a quote header (DCAP Quote Library API §A.4.3) with version 4 or 5
 *   and TEE type 0x81;
 * - SGX: a quote header with version 3, attestation key type 2 and TEE type
 *   (reserved in version 3) 0;
 * - NVIDIA: hex text that starts with an SPDM 1.x GET_MEASUREMENTS request
 *   (DSP0274 §10.11.1: version 0x1?, request code 0xE0), as NVIDIA's tools
 *   write a GPU attestation report;
 * - Azure: a JSON object with `tpm_quote` and `hcl_report` members, as the
 *   `az-cvm-vtpm` attesters write their evidence.
 */
export function detectEvidenceType(bytes: Uint8Array): EvidenceType | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === SNP_REPORT_SIZE && SNP_REPORT_VERSIONS.includes(view.getUint32(0, true))) return "snp";
  if (bytes.length >= 8) {
    const version = view.getUint16(0, true);
    if ((version === 4 || version === 5) && view.getUint32(4, true) === TDX_TEE_TYPE) return "tdx";
    if (version === 3 && view.getUint16(2, true) === 2 && view.getUint32(4, true) === 0) return "sgx";
  }
  const text = hexText(bytes);
  if (text !== undefined && /^1[0-9a-f]e0/i.test(text)) return "nvidia";
  if (isAzCvmJson(bytes)) return "azure-vtpm";
  return undefined;
}

/** Whether the bytes parse as a JSON object with the members of `az-cvm-vtpm` evidence (a guess; the decoder decides). */
function isAzCvmJson(bytes: Uint8Array): boolean {
  try {
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return typeof value === "object" && value !== null && "tpm_quote" in value && "hcl_report" in value;
  } catch {
    return false;
  }
}

/** The trimmed text of a file that holds only hex digits and whitespace, else `undefined`. */
export function hexText(bytes: Uint8Array): string | undefined {
  for (const b of bytes) {
    const hex = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
    const space = b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
    if (!hex && !space) return undefined;
  }
  const text = new TextDecoder().decode(bytes).trim();
  return text.length === 0 ? undefined : text;
}

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2})))?$/;

/**
 * Parse `--at` strictly: an ISO 8601 calendar date (`2023-06-20`, midnight
 * UTC) or date and time with a zone (`2023-06-20T12:00:00Z`,
 * `2023-06-20T14:00+02:00`, fractions of a second allowed). A time without
 * a zone is refused: it would mean a different instant on each machine.
 * Out-of-range fields (month 13, 30 February, hour 24) are refused too.
 */
export function parseIsoTime(value: string): Date {
  const bad = () => new CliError("bad-argument", "--at must be an ISO 8601 date or date-time with a zone");
  const m = ISO_TIME.exec(value);
  if (!m) throw bad();
  const [year, month, day, hour = 0, minute = 0, second = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((s) =>
    s === undefined ? undefined : Number(s),
  ) as number[];
  if (m[4] !== undefined && m[8] === undefined && m[9] === undefined) throw bad();
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"));
  const offsetHours = m[10] === undefined ? 0 : Number(m[10]);
  const offsetMinutes = m[11] === undefined ? 0 : Number(m[11]);
  if (hour! > 23 || minute! > 59 || second! > 59 || offsetHours > 23 || offsetMinutes > 59) throw bad();
  const utc = Date.UTC(year!, month! - 1, day!, hour, minute, second, ms);
  const date = new Date(utc);
  // Date.UTC rolls 30 February over into March: a round trip exposes it.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month! - 1 || date.getUTCDate() !== day) throw bad();
  const sign = m[9] === "-" ? -1 : 1;
  return new Date(utc - sign * (offsetHours * 60 + offsetMinutes) * 60_000);
}

/** Read a file no larger than `max` bytes, naming the option in every error. */
export async function readBoundedFile(path: string, option: string, max: number): Promise<Uint8Array> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    // Let readInputFile report it with its own typed error.
    return readInputFile(path, option);
  }
  if (size > max) throw new MalformedError("too-large", option, `over ${max} bytes`);
  return readInputFile(path, option);
}

/**
 * Read `--cert` files in the order given: each is one DER certificate, or
 * PEM text with one or more CERTIFICATE blocks (RFC 7468 §5), in order.
 * Certificates are decoded later by the verifiers.
 */
export async function readCertificates(paths: readonly string[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const path of paths) {
    const bytes = await readBoundedFile(path, "--cert", MAX_CERT_FILE);
    const text = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
    if (text.startsWith("-----BEGIN")) out.push(...decodePemChain(new TextDecoder().decode(bytes)));
    else out.push(bytes);
  }
  return out;
}

/**
 * The 64 bytes of REPORT_DATA that `--nonce` expects (SEV-SNP and TDX): the
 * hex value, zero-padded on the right to 64 bytes, as attesters put a
 * shorter nonce or hash into the field.
 */
export function expectedReportData(hex: string): Uint8Array {
  const value = parseHexOption(hex, "--nonce");
  if (value.length === 0 || value.length > 64) {
    throw new CliError("bad-argument", "--nonce must be 1..64 bytes for SEV-SNP and TDX report data");
  }
  const padded = new Uint8Array(64);
  padded.set(value);
  return padded;
}
