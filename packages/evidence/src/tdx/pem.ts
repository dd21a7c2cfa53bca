/**
 * The PEM certificate chain inside TDX certification data type 5 (DCAP
 * Quote Library API §A.4.9: "concatenated PCK Cert Chain", PEM per RFC 7468
 * §2), read with core's one strict PEM decoder. Intel's QE ends the text
 * with a NUL terminator, which is accepted once at the very end (the named
 * `allowTrailingNul` leniency); nothing else may sit between or around the
 * certificates.
 */
import { decodePem } from "@veritee/core";
import { decodeCertificate, MAX_CERTIFICATE_SIZE } from "../x509/certificate.js";

/** The most certificates a chain may hold (Intel's: PCK, Platform/Processor CA, root). */
export const MAX_PEM_CHAIN_CERTIFICATES = 4;

/**
 * Decode PEM certificates into their DER encodings, each checked to decode
 * as an X.509 certificate. Throws `MalformedError`.
 *
 * @example
 * const [leaf, ...rest] = decodePemCertificates(pemBytes, "PCK chain");
 */
export function decodePemCertificates(bytes: Uint8Array, what: string): Uint8Array[] {
  const out = decodePem(bytes, {
    label: "CERTIFICATE",
    what,
    maxBlocks: MAX_PEM_CHAIN_CERTIFICATES,
    maxBytes: MAX_CERTIFICATE_SIZE,
    allowTrailingNul: true,
  });
  for (const der of out) decodeCertificate(der);
  return out;
}
