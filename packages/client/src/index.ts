/**
 * `@veritee/client`: verify a Veritee server before sending anything, then
 * talk only to its attested keys. Browser-safe: this entry uses web APIs
 * only (`fetch`, `Request`, `Response`, web streams); attested TLS for Node
 * lives in `@veritee/client/node`.
 */
export { type AttestationTrust, type AttestServerOptions, attestServer, CLIENT_NONCE_BYTES } from "./attest.js";
export type { ChannelPlan, PinnedFetch, PinnedTransport } from "./channel.js";
export { type ConnectOptions, type ConnectStep, connect } from "./connect.js";
export { ClientError, type ClientErrorCode, type TimeoutPhase } from "./errors.js";
export type { InferInput, InferOutput, TensorDatatype, TypedTensorData } from "./infer.js";
export type { OutgoingRequest } from "./request.js";
export {
  type AcceptedAttestation,
  type ChannelInfo,
  type KeySetChannel,
  MAX_KEY_SET_RETRIES,
  type Session,
} from "./session.js";
export { DEFAULT_TIMEOUTS, type Timeouts } from "./timeouts.js";
export type { FetchLike } from "./transport.js";
export { resolveServerAddress, type ServerAddress } from "./url.js";
