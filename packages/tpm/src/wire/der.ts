/**
 * Where a certificate stored in an NV index ends: NV indices are defined
 * with a fixed size, and TPM vendors pad the certificate after its end. The
 * DER itself is read by core's strict reader.
 */
import { DER_TAG, DerReader, MalformedError } from "@veritee/core";

/**
 * The certificate at the start of `bytes`, without the padding after it.
 * The first element must be a SEQUENCE with a definite length; what follows
 * it must be padding (all 0x00 or all 0xff), anything else is an error.
 */
export function trimDerPadding(bytes: Uint8Array, what: string): Uint8Array {
  // Core's strict DER reader checks the SEQUENCE's tag and its definite, minimal length (X.690 §10.1).
  const reader = new DerReader(bytes, what);
  const certificate = reader.expect(DER_TAG.SEQUENCE, "certificate").encoded;
  const padding = bytes.subarray(certificate.length);
  if (padding.length > 0 && !padding.every((b) => b === 0x00) && !padding.every((b) => b === 0xff)) {
    throw new MalformedError("trailing-data", what, "non-padding bytes after the certificate");
  }
  return certificate;
}
