// Credential activation, verifier side: TPM2_MakeCredential in software (./credential)
export { verifyActivatedCredential } from "./credential/check.js";
export { kdfA, kdfE } from "./credential/kdf.js";
export {
  type CredentialProtector,
  type CredentialSymmetric,
  type MadeCredential,
  type MakeCredentialOptions,
  makeCredential,
} from "./credential/make-credential.js";
export { credentialProtectorFromPublic } from "./credential/protector.js";
export {
  decodeIdObject,
  decodeTpm2ToolsCredential,
  encodeTpm2ToolsCredential,
  TPM2_TOOLS_CREDENTIAL_MAGIC,
  TPM2_TOOLS_CREDENTIAL_VERSION,
} from "./credential/tpm2-tools-file.js";
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
export { VerifiedQuote, type VerifyQuoteInput, verifyQuote } from "./tpm/quote.js";
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
export { type PublicKeyInput, verifyCertificateKey } from "./x509/key-match.js";
export type { DistinguishedName, NameAttribute } from "./x509/name.js";
export { decodeSpki, type PublicKeyInfo, publicKeysEqual } from "./x509/public-key.js";
