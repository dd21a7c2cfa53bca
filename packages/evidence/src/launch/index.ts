export { base64Decode, base64Encode } from "@veritee/core";
/** Veritee's launch log, key set and attestation document: decode, verify, credential challenge (./launch). */
export {
  ATTESTATION_LABEL,
  attestationExtraData,
  NONCE_LENGTH,
  PLATFORM_LABEL,
  type PlatformBindingInput,
  platformReportData,
} from "./binding.js";
export { AkChallenge, challengeAk, confirmAkResidency } from "./challenge.js";
export {
  ACTIVATION_PROTOCOL_VERSION,
  type ActivationRequest,
  type ActivationResponse,
  ATTESTATION_DOCUMENT_LIMITS,
  ATTESTATION_DOCUMENT_VERSION,
  type AttestationDocument,
  type AttestationDocumentJson,
  activationRequestToJson,
  activationResponseToJson,
  attestationDocumentToJson,
  type DocumentPcrValue,
  decodeActivationRequest,
  decodeActivationResponse,
  decodeAttestationDocument,
  encodeAttestationDocument,
} from "./document.js";
export {
  canonicalJson,
  canonicalJsonBytes,
  type JsonObject,
  type JsonValue,
  MAX_JSON_DEPTH,
  parseJsonBytes,
} from "./json.js";
export {
  decodeKeySet,
  encodeHpkeKeyConfig,
  encodeKeySet,
  HPKE_AEAD_AES_128_GCM,
  HPKE_AEAD_CHACHA20_POLY1305,
  HPKE_KDF_HKDF_SHA256,
  HPKE_KEM_X25519_SHA256,
  type HpkeCipherSuite,
  type HpkeKeyConfig,
  KEY_SET_LABEL,
  type KeySet,
  type KeySetJson,
  keySetDigest,
  keySetToJson,
} from "./key-set.js";
export {
  createLaunchEvent,
  DEFAULT_LAUNCH_PCR,
  decodeLaunchLog,
  encodeLaunchLog,
  LAUNCH_EVENT_TYPES,
  LAUNCH_LOG_LIMITS,
  LAUNCH_LOG_VERSION,
  LAUNCH_PCR_RANGE,
  LAUNCH_SEPARATOR,
  type LaunchEvent,
  type LaunchEventData,
  type LaunchEventType,
  type LaunchLog,
  type LaunchLogJson,
  launchEventDigest,
  launchLogToJson,
  replayLaunchLog,
} from "./log.js";
export {
  type AzureVtpmPlatformEvidence,
  decodePlatformEvidence,
  type GpuPlatformEvidence,
  gpuReportsOf,
  PLATFORM_EVIDENCE_LIMITS,
  type PlatformEvidence,
  type PlatformEvidenceJson,
  platformEvidenceToJson,
  type SnpPlatformEvidence,
  type TdxPlatformEvidence,
} from "./platform.js";
export {
  checkLaunchLogStructure,
  type LaunchLogSummary,
  VerifiedLaunchLog,
  type VerifyLaunchLogOptions,
  verifyLaunchLog,
} from "./verify.js";
export {
  type AkResidency,
  DEFAULT_BOOT_PCRS,
  VerifiedAttestation,
  type VerifyAttestationOptions,
  verifyAttestationDocument,
} from "./verify-document.js";
export {
  type PlatformQuote,
  type PlatformSession,
  type PlatformVerifyOptions,
  type TdxPlatformCollateral,
  type VerifiedPlatform,
  verifyPlatformEvidence,
} from "./verify-platform.js";
