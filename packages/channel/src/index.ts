/**
 * `@veritee/channel`: the attested channel's browser-safe half — requests
 * sealed with HPKE (RFC 9180) to the attested key, responses sealed frame by
 * frame with keys derived from the request (docs/CHANNEL.md). Runs on
 * WebCrypto; `@veritee/channel/node` adds the fast Node backend, the attested
 * TLS certificate and the SPKI-pinned HTTPS client.
 */
export { type ChannelSuite, channelSuite, type HpkeBackend } from "./backend.js";
export {
  type BinaryRequest,
  type BinaryRequestLimits,
  type DecodedBinaryRequest,
  decodeBinaryRequest,
  encodeBinaryRequest,
} from "./bhttp.js";
export { type ChannelCode, ChannelError } from "./errors.js";
export { type FrameKeys, FrameOpener, FrameSealer, type OpenedFrame } from "./frames.js";
export { decodeResponseHead, encodeResponseHead, type ResponseHead } from "./head.js";
export {
  type OpenedRequest,
  openRequest,
  type PlainRequest,
  type RecipientKey,
  RequestContext,
  Responder,
  ResponseSealer,
  type SealedRequest,
  type SealOptions,
  type SealTarget,
  sealRequest,
} from "./request.js";
export { createRequestSealer, RequestSealer } from "./request-sealer.js";
export {
  createResponseDecoder,
  type OpenedResponse,
  type OpenedResponseStream,
  openResponse,
  openResponseStream,
  ResponseDecoder,
} from "./response.js";
export { deriveResponseKeys, responseSecretSize } from "./response-keys.js";
export { openSingleShot, type SingleShotMessage, sealSingleShot } from "./single-shot.js";
export { webCryptoBackend, webCryptoBackendWith } from "./web-backend.js";
export * from "./wire.js";
