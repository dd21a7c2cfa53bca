/**
 * `@veritee/policy`: policy documents (schema version 1) and their
 * evaluation against verified attestations. No cryptography here: the
 * evidence package verifies, this package decides (docs/POLICY.md).
 */

export { ACCESS_MEMBERS, recordedAccess } from "./access.js";
export {
  type Appraisal,
  type Claim,
  type FormatAppraisalOptions,
  formatAppraisal,
  insecureSummary,
} from "./appraisal.js";
export { developmentIndicators, isSwtpmLocalCa } from "./development.js";
export {
  type AkProof,
  ANY,
  CHANNEL_MODES,
  type ChannelMode,
  DEVELOPMENT_POLICY_WARNING,
  type DigestSpec,
  type NamedCertificate,
  NONE,
  POLICY_VERSION,
  type Policy,
  type PolicyAccess,
  type PolicyBoot,
  type PolicyChannel,
  type PolicyDocument,
  type PolicyFreshness,
  type PolicyLaunch,
  type PolicyPlatform,
  type PolicyTrust,
} from "./document.js";
export { type PolicyCode, PolicyError } from "./errors.js";
export { type EvaluateOptions, evaluate } from "./evaluate.js";
export { assertChannelModeAllowed, type PolicyVerificationInputs, verificationInputs } from "./inputs.js";
export {
  ALLOW_INSECURE_RULES,
  type AllowInsecureRule,
  akProofSkipped,
  type InsecureReason,
  insecureReasons,
  insecureWarning,
} from "./insecure.js";
export { MAX_POLICY_DEPTH, MAX_POLICY_TEXT, parseStrictJson } from "./json.js";
export { launchEnvironmentOf } from "./launch-environment.js";
export { decodePemCertificate, encodePemCertificate } from "./pem.js";
export { NO_PLATFORM_EVIDENCE, policyFromReferenceValues, type ReferenceValues } from "./reference.js";
// Azure confidential VM (vTPM) policy section (./tee/azure-vtpm)
export {
  type AzurePlatform,
  type AzureVtpmRules,
  azureVtpmClaims,
  type EvaluateAzureVtpmOptions,
  evaluateAzureVtpm,
  parseAzureVtpmRules,
} from "./tee/azure-vtpm.js";
// NVIDIA GPU policy section (./tee/nvidia)
export {
  type EvaluateNvidiaOptions,
  evaluateNvidia,
  type NvidiaDigestSpec,
  type NvidiaRules,
  type NvidiaSessionInput,
  type NvidiaVersionRule,
  nvidiaClaims,
  parseNvidiaRules,
} from "./tee/nvidia.js";
// Intel SGX policy section (./tee/sgx)
export {
  type EvaluateSgxOptions,
  evaluateSgx,
  parseSgxRules,
  type SgxAttributesRule,
  type SgxHexSpec,
  type SgxRules,
  sgxClaims,
} from "./tee/sgx.js";
// AMD SEV-SNP policy section (./tee/snp)
export {
  type EvaluateSnpOptions,
  evaluateSnp,
  parseSnpRules,
  type SnpHexSpec,
  type SnpRules,
  type SnpTcbMinimum,
  snpClaims,
} from "./tee/snp.js";
// Intel TDX policy section (./tee/tdx)
export {
  type EvaluateTdxOptions,
  evaluateTdx,
  parseTdxRules,
  type TdxAttributesRule,
  type TdxHexSpec,
  type TdxRules,
  tdxClaims,
} from "./tee/tdx.js";
export { isPolicy, POLICY_LIMITS, parsePolicy, parsePolicyJson } from "./validate.js";
