/**
 * PEM certificates in policies, read with core's one strict PEM decoder
 * (RFC 7468; see core/src/pem.ts for the accepted form): exactly one
 * `CERTIFICATE` block, nothing but whitespace around it, canonical padded
 * base64. The DER inside must decode as an X.509 certificate, so a policy
 * with a damaged root is refused when it is loaded, not when a server is
 * first verified against it.
 */
import { decodePemBlock, encodePem } from "@veritee/core";
import { type DecodedCertificate, decodeCertificate, MAX_CERTIFICATE_SIZE } from "@veritee/evidence";

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
  const der = decodePemBlock(pem, { label: "CERTIFICATE", what: WHAT, maxBytes: MAX_CERTIFICATE_SIZE });
  return { der, certificate: decodeCertificate(der) };
}

/**
 * PEM text of a DER certificate: 64-character lines (RFC 7468 §2), ending
 * with a newline.
 */
export function encodePemCertificate(der: Uint8Array): string {
  return encodePem("CERTIFICATE", der);
}
