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
  /** An event whose digest PFP §10.4.1 defines as the hash of its data has a digest that is not (eventlog/event-data.ts). */
  | "eventlog-data-mismatch"
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
  | "ek-attributes"
  // AMD SEV-SNP attestation reports (./sev-snp)
  | "snp-signing-key-mismatch"
  | "snp-unsigned"
  | "snp-tcb-mismatch"
  | "snp-chip-id-mismatch"
  | "snp-product-mismatch"
  | "snp-product-unknown"
  | "snp-certificate-invalid"
  | "snp-chain-mismatch"
  // certificate revocation lists (RFC 5280 §5; ./x509/crl.ts)
  | "cert-revoked"
  | "crl-signature-invalid"
  | "crl-issuer-mismatch"
  | "crl-expired"
  | "crl-not-yet-valid"
  | "crl-unknown-critical-extension"
  // signed vendor collateral: Intel TCB info and QE identity (./tdx/collateral.ts)
  | "collateral-signature-invalid"
  | "collateral-signer"
  | "collateral-expired"
  | "collateral-not-yet-valid"
  | "collateral-mismatch"
  // Intel TDX quotes (./tdx)
  | "tdx-qe-vendor"
  | "tdx-qe-report-signature"
  | "tdx-qe-binding"
  | "tdx-quote-signature"
  | "tdx-qe-identity-mismatch"
  | "tdx-qe-tcb-not-supported"
  | "tdx-module-mismatch"
  | "tdx-tcb-not-supported"
  // Intel SGX quotes (./sgx; the steps shared with TDX are ./dcap/verify.ts)
  /** The quote's QE vendor ID is not Intel's. */
  | "sgx-qe-vendor"
  /** The QE report is not signed by the PCK certificate's key. */
  | "sgx-qe-report-signature"
  /** The QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ zeros. */
  | "sgx-qe-binding"
  /** The quote (header ‖ enclave report body) is not signed by the attestation key. */
  | "sgx-quote-signature"
  /** The QE's MRSIGNER, ISVPRODID, MISCSELECT or ATTRIBUTES differ from Intel's SGX QE identity. */
  | "sgx-qe-identity-mismatch"
  /** The QE's ISVSVN is below every level of the SGX QE identity. */
  | "sgx-qe-tcb-not-supported"
  /** The platform's SGX TCB components or PCE SVN are below every SGX TCB info level. */
  | "sgx-tcb-not-supported"
  // NVIDIA GPU attestation reports and RIMs (./nvidia)
  | "nvidia-request-mismatch"
  | "nvidia-device-key"
  | "nvidia-nonce-mismatch"
  | "nvidia-duplicate-measurement"
  | "nvidia-rim-signature-invalid"
  | "nvidia-rim-digest-mismatch"
  // Azure confidential VMs with a vTPM: HCL report bindings (./azure-vtpm)
  | "azure-platform-mismatch"
  | "azure-runtime-data-mismatch"
  | "azure-tdreport-mismatch"
  | "azure-ak-mismatch"
  /** The HCL report's SEV-SNP report is not from VMPL 0, so not the paravisor's: the guest can make such reports itself. */
  | "azure-hcl-vmpl"
  // Platform evidence in the attestation document (launch/verify-platform.ts)
  /** A CPU report's report data is not the binding of the nonce, the key set and the GPU reports. */
  | "platform-binding-mismatch"
  /** Platform evidence the verifier cannot check without collateral it was not given (TDX TCB info, QE identity). */
  | "platform-collateral-missing";

/** Evidence that decoded but failed a cryptographic or consistency check. */
export class VerificationError extends VeriteeError<VerificationCode> {
  readonly kind = "verification" as const;
}
