/**
 * `@veritee/client/node`: the client SDK on Node, with what a browser cannot
 * do — attested TLS (connections pinned to the attested SPKI, no CA) — and
 * the fast `node:crypto` HPKE backend. Its {@link connect} is the main
 * entry's with both filled in; everything else is re-exported unchanged.
 */
import { nodeBackend } from "@veritee/channel/node";
import type { PinnedTransport } from "../channel.js";
import { type ConnectOptions, connect as connectWith } from "../connect.js";
import type { Session } from "../session.js";
import { attestedTls } from "./attested-tls.js";

export * from "../index.js";
export { attestedTls } from "./attested-tls.js";
export { unpinnedFetch } from "./unpinned-fetch.js";

/**
 * `connect` with attested TLS for https URLs and the Node HPKE backend (both
 * overridable through `options`).
 *
 * @example
 * import OpenAI from "openai";
 * import { connect } from "@veritee/client/node";
 * const session = await connect({ baseURL: "https://127.0.0.1:8443/v1", policy: readFileSync("policy.json", "utf8") });
 * const openai = new OpenAI({ baseURL: session.baseURL, apiKey: "unused", fetch: session.fetch });
 */
export function connect(options: ConnectOptions): Promise<Session> {
  const transport: PinnedTransport = attestedTls;
  return connectWith({ attestedTls: transport, hpkeBackend: nodeBackend, ...options });
}
