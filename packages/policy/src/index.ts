/**
 * `@veritee/policy`: policy documents (schema version 1) and their
 * evaluation against verified attestations. No cryptography here: the
 * evidence package verifies, this package decides (docs/POLICY.md).
 */
export { type Appraisal, type Claim, type FormatAppraisalOptions, formatAppraisal } from "./appraisal.js";
export { developmentIndicators, isSwtpmLocalCa } from "./development.js";
export {
  type AkProof,
  ANY,
  CHANNEL_MODES,
  type ChannelMode,
  DEVELOPMENT_POLICY_WARNING,
  type DigestSpec,
  type NamedCertificate,
  POLICY_VERSION,
  type Policy,
  type PolicyBoot,
  type PolicyChannel,
  type PolicyDocument,
  type PolicyFreshness,
  type PolicyLaunch,
  type PolicyTrust,
} from "./document.js";
export { type PolicyCode, PolicyError } from "./errors.js";
export { type EvaluateOptions, evaluate } from "./evaluate.js";
export { assertChannelModeAllowed, type PolicyVerificationInputs, verificationInputs } from "./inputs.js";
export { MAX_POLICY_DEPTH, MAX_POLICY_TEXT, parseStrictJson } from "./json.js";
export { decodePemCertificate, encodePemCertificate } from "./pem.js";
export { policyFromReferenceValues, type ReferenceValues } from "./reference.js";
export { isPolicy, POLICY_LIMITS, parsePolicy, parsePolicyJson } from "./validate.js";
