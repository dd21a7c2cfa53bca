/**
 * PEM certificates in policies (RFC 7468 §5, "strict" textual encoding read
 * leniently only in line breaks): exactly one `CERTIFICATE` block, nothing
 * but whitespace around it, base64 lines that together are canonical padded
 * base64. The DER inside must decode as an X.509 certificate, so a policy
 * with a damaged root is refused when it is loaded, not when a server is
 * first verified against it.
 */
import { MalformedError } from "@veritee/core";
import {
  base64Decode,
  base64Encode,
  type DecodedCertificate,
  decodeCertificate,
  MAX_CERTIFICATE_SIZE,
} from "@veritee/evidence";

const BEGIN = "-----BEGIN CERTIFICATE-----";
const END = "-----END CERTIFICATE-----";
const WHAT = "PEM certificate";

/**
 * Decode one PEM certificate to its DER bytes and decoded form.
 *
 * @throws MalformedError: not exactly one CERTIFICATE block, text outside it,
 *   bad base64, or DER that is not an X.509 certificate.
 * @example
 * const { der, certificate } = decodePemCertificate(readFileSync("root.pem", "utf8"));
 */
export function decodePemCertificate(pem: string): { der: Uint8Array; certificate: DecodedCertificate } {
  const text = pem.trim();
  if (!text.startsWith(BEGIN)) throw new MalformedError("bad-magic", WHAT, `does not start with ${BEGIN}`);
  if (!text.endsWith(END)) throw new MalformedError("bad-magic", WHAT, `does not end with ${END}`);
  const body = text.slice(BEGIN.length, text.length - END.length);
  if (body.includes("-----")) throw new MalformedError("bad-value", WHAT, "holds more than one PEM block");
  // RFC 7468 §3: line breaks and other whitespace may separate the base64 characters.
  if (/[^A-Za-z0-9+/=\s]/.test(body)) throw new MalformedError("bad-value", WHAT, "not base64");
  const der = base64Decode(body.replace(/\s+/g, ""), WHAT, MAX_CERTIFICATE_SIZE);
  if (der.length === 0) throw new MalformedError("bad-length", WHAT, "empty");
  return { der, certificate: decodeCertificate(der) };
}

/**
 * PEM text of a DER certificate: 64-character lines (RFC 7468 §2), ending
 * with a newline.
 */
export function encodePemCertificate(der: Uint8Array): string {
  const b64 = base64Encode(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `${BEGIN}\n${lines.join("\n")}\n${END}\n`;
}
