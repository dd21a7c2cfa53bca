/**
 * `@veritee/channel/node`: the Node-only half of the attested channel — the
 * fast `node:crypto` HPKE backend, the attested TLS certificate (server) and
 * SPKI-pinned HTTPS (client). Nothing here runs in a browser.
 */
export { NodeX25519Key, nodeBackend, nodeX25519Key } from "./backend.js";
export { type AttestedCertificate, type AttestedCertificateOptions, createAttestedCertificate } from "./certificate.js";
export {
  connectPinned,
  createPinnedAgent,
  createPinnedFetch,
  PinnedAgent,
  type PinnedAgentOptions,
  type PinnedConnectOptions,
  type PinnedFetchOptions,
} from "./pinned.js";
export { type NodeRecipientKeyOptions, nodeRecipientKey } from "./recipient.js";
