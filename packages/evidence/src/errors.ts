import { VeriteeError } from "@veritee/core";

/**
 * Why a piece of evidence that decoded fine is nevertheless not trustworthy.
 * A closed union: each code names exactly one check of the verify step.
 */
export type VerificationCode =
  // signatures and keys
  | "signature-invalid"
  | "signature-scheme-mismatch"
  | "unsupported-algorithm"
  | "ak-attributes"
  | "key-mismatch"
  // quote contents
  | "attest-type"
  | "nonce-mismatch"
  | "pcr-digest-mismatch"
  | "pcr-values-missing"
  | "pcr-values-mismatch"
  // event logs
  | "eventlog-replay-mismatch"
  | "eventlog-bank-missing"
  // certificates
  | "cert-signature-invalid"
  | "cert-expired"
  | "cert-not-yet-valid"
  | "cert-untrusted-root"
  | "cert-not-ca"
  | "cert-key-usage"
  | "cert-eku-missing"
  | "cert-path-too-long"
  | "cert-unknown-critical-extension"
  // credential activation
  | "credential-mismatch"
  | "name-mismatch"
  // Veritee launch log and attestation document
  | "launch-log-mismatch"
  | "launch-log-unsealed"
  | "launch-log-incomplete"
  | "key-set-mismatch"
  | "ek-certificate-missing"
  | "ek-attributes";

/** Evidence that decoded but failed a cryptographic or consistency check. */
export class VerificationError extends VeriteeError<VerificationCode> {
  readonly kind = "verification" as const;
}
