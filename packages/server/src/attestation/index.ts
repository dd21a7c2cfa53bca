/** The attester and the framework-agnostic attestation endpoints. */
export {
  ACTIVATION_CHALLENGE_DEFAULTS,
  type ActivationChallengeOptions,
  ActivationChallenges,
} from "./activation-challenges.js";
export { type Attester, type CreateAttesterOptions, createAttester, SYSTEM_BOOT_EVENT_LOG } from "./attester.js";
export { AttestationError, type AttestationErrorCode } from "./errors.js";
export { type AttestationHandlerResponse, handleActivateRequest, handleAttestationRequest } from "./http.js";
