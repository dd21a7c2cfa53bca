/** The sealed channel and attested TLS on the server side (docs/CHANNEL.md). */
export { serverRecipientKey } from "./recipient.js";
export {
  isSealedRequest,
  type RequestListener,
  SEALED_RESPONSE_FIELDS,
  type SealedChannelOptions,
  wasSealed,
  withSealedChannel,
} from "./sealed-http.js";
