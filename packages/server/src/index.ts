export * from "./attestation/index.js";
export * from "./channel/index.js";
export * from "./engine/index.js";
export * from "./http/index.js";
export * from "./launch/index.js";
export * from "./model/resolve.js";
export { type PolicyDocumentV1, policyFromReferenceValues } from "./policy-draft.js";
export {
  type ReferenceValues,
  type RunningVeriteeServer,
  type ServeOptions,
  startVeriteeServer,
} from "./serve.js";
