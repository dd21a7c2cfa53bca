// Azure confidential VMs with a vTPM: HCL report, runtime claims, AK binding (./azure-vtpm)
export * from "./azure-vtpm/index.js";
// Credential activation, verifier side: TPM2_MakeCredential in software (./credential)

// Intel TDX quotes, their collateral, CRLs and the injectable collateral source (./tdx, ./collateral, ./x509/crl.ts)
export * from "./collateral/index.js";
export { verifyActivatedCredential } from "./credential/check.js";
export { kdfA, kdfE } from "./credential/kdf.js";
export {
  type CredentialProtector,
  type CredentialSymmetric,
  type MadeCredential,
  type MakeCredentialOptions,
  makeCredential,
} from "./credential/make-credential.js";
export {
  ACTIVATION_PROOF_LABEL,
  ACTIVATION_PROOF_SIZE,
  ACTIVATION_SECRET_SIZE,
  activationProof,
  verifyActivationProof,
} from "./credential/proof.js";
export { credentialProtectorFromPublic } from "./credential/protector.js";
export {
  decodeIdObject,
  decodeTpm2ToolsCredential,
  encodeTpm2ToolsCredential,
  TPM2_TOOLS_CREDENTIAL_MAGIC,
  TPM2_TOOLS_CREDENTIAL_VERSION,
} from "./credential/tpm2-tools-file.js";
// Intel SGX DCAP quotes (./sgx), sharing the DCAP parts with TDX (./dcap)
export {
  DCAP_TCB_STATUSES,
  type DcapQeIdentity,
  type DcapTcbStatus,
} from "./dcap/collateral.js";
export {
  DCAP_SIZES,
  type DcapQeCertificationData,
  type DcapQuoteHeader,
  type DcapTrailingData,
} from "./dcap/quote.js";
export type { DcapRevocation } from "./dcap/verify.js";
export { type VerificationCode, VerificationError } from "./errors.js";
// TCG PC Client event logs: decode, replay, verify against quoted PCRs (./eventlog)
export * from "./eventlog/index.js";
// Google Compute Engine vTPM attestations, go-tpm-tools attest.Attestation (./gce)
export {
  decodeGceAttestation,
  GCE_ATTESTATION_LIMITS,
  type GceAttestation,
  type GceInstanceInfo,
  type GcePcrs,
  type GceQuote,
  type GceTeeAttestation,
} from "./gce/attestation-pb.js";
export {
  GCE_EVENT_LOG_PCRS,
  VerifiedGceAttestation,
  type VerifyGceAttestationOptions,
  verifyGceAttestation,
} from "./gce/verify.js";
// Veritee launch log, key set, attestation document; verification and AK challenge (./launch)
export * from "./launch/index.js";
// NVIDIA Hopper GPU attestation reports (SPDM 1.1 measurements) and RIM reference values (./nvidia)
export * from "./nvidia/index.js";
// AMD SEV-SNP attestation reports: decode, VCEK chain, signature, TCB binding (./sev-snp)
export * from "./sev-snp/index.js";
export {
  decodeSgxQeIdentity,
  decodeSgxTcbInfo,
  type SgxQeIdentity,
  type SgxTcbInfo,
  type SgxTcbLevel,
} from "./sgx/collateral.js";
export {
  type DecodeSgxQuoteOptions,
  decodeSgxQuote,
  SGX_QUOTE_VERSION,
  SGX_TEE_TYPE,
  type SgxQuote,
  type SgxQuoteHeader,
} from "./sgx/decode.js";
export {
  createSgxVerifier,
  type SgxCollateral,
  type SgxTcbVerdict,
  type SgxVerifier,
  type SgxVerifierOptions,
  VerifiedSgxQuote,
  VerifiedSgxQuoteSignatures,
  type VerifySgxQuoteOptions,
  type VerifySgxQuoteSignaturesOptions,
  verifySgxQuote,
  verifySgxQuoteSignatures,
} from "./sgx/verify.js";
export {
  decodeTdxQeIdentity,
  decodeTdxTcbInfo,
  INTEL_TCB_SIGNING_CN,
  type IsvSvnTcbLevel,
  TDX_COLLATERAL_LIMITS,
  TDX_TCB_STATUSES,
  type TdxModuleIdentity,
  type TdxQeIdentity,
  type TdxTcbInfo,
  type TdxTcbLevel,
  type TdxTcbStatus,
  verifyCollateralSignature,
} from "./tdx/collateral.js";
export {
  type DecodeTdxQuoteOptions,
  decodeSgxReportBody,
  decodeTdxQuote,
  type SgxReportBody,
  TDX_ATTESTATION_KEY_TYPE_ECDSA_P256,
  TDX_BODY_TYPE,
  TDX_CERT_DATA_TYPE,
  TDX_SIZES,
  TDX_TEE_TYPE,
  type TdxQeCertificationData,
  type TdxQuote,
  type TdxQuoteBody,
  type TdxQuoteHeader,
} from "./tdx/decode.js";
export { decodePckExtensions, type PckExtensions, SGX_EXTENSION_OID } from "./tdx/pck-extensions.js";
export { decodePemCertificates, MAX_PEM_CHAIN_CERTIFICATES } from "./tdx/pem.js";
export { INTEL_SGX_ROOT_CA_SHA256, intelSgxRootCa } from "./tdx/roots.js";
export {
  createTdxVerifier,
  INTEL_QE_VENDOR_ID,
  type TdxCollateral,
  type TdxRevocation,
  type TdxTcbVerdict,
  type TdxVerifier,
  type TdxVerifierInput,
  type TdxVerifierOptions,
  VerifiedTdxQuote,
  VerifiedTdxQuoteSignatures,
  type VerifyTdxQuoteOptions,
  type VerifyTdxQuoteSignaturesOptions,
  verifyTdxQuote,
  verifyTdxQuoteSignatures,
} from "./tdx/verify.js";
// TPM 2.0 structures and quote verification (./tpm)
export { AkPublic, akPublicFromDecoded, decodeAkPublic } from "./tpm/ak.js";
export {
  type Attested,
  type AttestType,
  attestTag,
  type ClockInfo,
  decodeTpmsAttest,
  encodeTpmsAttest,
  MAX_NV_BUFFER_SIZE,
  type QuoteAttest,
  type TpmsAttest,
} from "./tpm/attest.js";
export { objectName } from "./tpm/name.js";
export {
  decodePcrSelection,
  decodePcrValuesFile,
  encodePcrSelection,
  MAX_PCR_BANKS,
  PCR_SELECT_MAX,
  PCR_SELECT_MIN,
  type PcrBankSelection,
  type PcrSelection,
  type PcrValues,
  pcrDigest,
} from "./tpm/pcr-selection.js";
export {
  curveByteSize,
  type DecodedTpmtPublic,
  decodeTpm2bPublic,
  decodeTpmtPublic,
  type EccCurve,
  type EccScheme,
  type EccTpmtPublic,
  encodeTpm2bPublic,
  encodeTpmtPublic,
  type KdfScheme,
  type RsaScheme,
  type RsaTpmtPublic,
  type SymDefObject,
  type SymMode,
  type TpmtPublic,
} from "./tpm/public.js";
export { publicKeyHandle, publicKeyJwk, publicKeySpki } from "./tpm/public-key.js";
export {
  VerifiedKeyQuote,
  VerifiedQuote,
  VerifiedQuoteContents,
  type VerifyQuoteInput,
  type VerifyQuoteWithKeyInput,
  verifyQuote,
  verifyQuoteWithKey,
} from "./tpm/quote.js";
export { decodeTpmtSignature, encodeTpmtSignature, type TpmtSignature } from "./tpm/signature.js";
// X.509 certificate chains for EK and AK certificates (./x509)
export {
  type CertificateExtension,
  type CertificateSignatureAlgorithm,
  type DecodedCertificate,
  decodeCertificate,
  EXTENSION_OID,
  KEY_USAGE,
  MAX_CERTIFICATE_SIZE,
  TCG_KP_EK_CERTIFICATE,
  type TpmDeviceAttributes,
} from "./x509/certificate.js";
export { type CertificateChainOptions, VerifiedCertificateChain, verifyCertificateChain } from "./x509/chain.js";
export {
  CRL_EXTENSION_OID,
  type DecodedCrl,
  decodeCrl,
  MAX_CRL_ENTRIES,
  MAX_CRL_SIZE,
  type RevokedCertificate,
  VerifiedCrl,
  type VerifyCrlOptions,
  verifyCrl,
} from "./x509/crl.js";
export { type PublicKeyInput, verifyCertificateKey } from "./x509/key-match.js";
export type { DistinguishedName, NameAttribute } from "./x509/name.js";
export { decodeCertificateSpki, type PublicKeyInfo, publicKeysEqual } from "./x509/public-key.js";
