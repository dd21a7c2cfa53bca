/** The sealed channel and attested TLS on the server side (docs/CHANNEL.md). */
export { serverRecipientKey } from "./recipient.js";
export {
  isSealedRequest,
  type RequestListener,
  SEALED_RESPONSE_FIELDS,
  type SealedChannelOptions,
  SealedRequest,
  wasSealed,
  withSealedChannel,
} from "./sealed-http.js";
export { type OuterResponse, SealingSink } from "./sealing-sink.js";
