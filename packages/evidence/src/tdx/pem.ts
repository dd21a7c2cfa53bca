/**
 * Strict reading of the PEM certificate chain inside TDX certification data
 * type 5 (DCAP Quote Library API §A.4.9: "concatenated PCK Cert Chain",
 * PEM per RFC 7468 §2). Intel's QE ends the text with a NUL terminator,
 * which is accepted once at the very end; nothing else may sit between or
 * around the certificates.
 */
import { MalformedError } from "@veritee/core";
import { decodeCertificate } from "../x509/certificate.js";

/** The most certificates a chain may hold (Intel's: PCK, Platform/Processor CA, root). */
export const MAX_PEM_CHAIN_CERTIFICATES = 4;

const BLOCK = /^-----BEGIN CERTIFICATE-----\r?\n((?:[A-Za-z0-9+/=]{1,76}\r?\n)+)-----END CERTIFICATE-----(?:\r?\n|$)/;

/**
 * Decode PEM certificates (RFC 7468 strict form: 76 characters a line at
 * most, canonical base64, no explanatory text) into their DER encodings,
 * each checked to decode as an X.509 certificate. Throws `MalformedError`.
 *
 * @example
 * const [leaf, ...rest] = decodePemCertificates(pemBytes, "PCK chain");
 */
export function decodePemCertificates(bytes: Uint8Array, what: string): Uint8Array[] {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0) end--;
  for (let i = 0; i < end; i++) {
    const c = bytes[i]!;
    if (c > 0x7e || (c < 0x20 && c !== 0x0a && c !== 0x0d)) {
      throw new MalformedError("bad-value", what, "non-printable byte in PEM text");
    }
  }
  // biome-ignore lint/style/noRestrictedGlobals: Buffer in a browser-safe package; the codec slice replaces it with @veritee/core's codecs
  let text = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString("latin1");
  const out: Uint8Array[] = [];
  while (text.length > 0) {
    if (out.length === MAX_PEM_CHAIN_CERTIFICATES) {
      throw new MalformedError("too-large", what, `more than ${MAX_PEM_CHAIN_CERTIFICATES} certificates`);
    }
    const m = BLOCK.exec(text);
    if (m === null) throw new MalformedError("bad-value", what, `certificate ${out.length} is not a PEM block`);
    const b64 = m[1]!.replace(/\r?\n/g, "");
    // biome-ignore lint/style/noRestrictedGlobals: Buffer in a browser-safe package; the codec slice replaces it with @veritee/core's codecs
    const der = Uint8Array.from(Buffer.from(b64, "base64"));
    // Buffer's decoder skips junk silently; a canonical encoding must round-trip.
    // biome-ignore lint/style/noRestrictedGlobals: Buffer in a browser-safe package; the codec slice replaces it with @veritee/core's codecs
    if (Buffer.from(der).toString("base64") !== b64) {
      throw new MalformedError("bad-value", what, `certificate ${out.length} is not canonical base64`);
    }
    decodeCertificate(der);
    out.push(der);
    text = text.slice(m[0].length);
  }
  if (out.length === 0) throw new MalformedError("bad-value", what, "no certificate");
  return out;
}
