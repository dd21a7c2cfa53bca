/**
 * Attested TLS for Node: the `PinnedTransport` that `connect` uses for
 * https URLs. Pinned connections come from `@veritee/channel/node`
 * (`PinnedAgent`: the peer's key is compared with the attested SPKI after
 * the handshake and before the socket carries a byte of the request).
 */
import { createPinnedAgent, createPinnedFetch } from "@veritee/channel/node";
import type { PinnedFetch, PinnedTransport } from "../channel.js";
import type { FetchLike } from "../transport.js";
import type { ServerAddress } from "../url.js";
import { unpinnedFetch } from "./unpinned-fetch.js";

/**
 * Node's attested TLS: attestation documents over unpinned TLS, everything
 * else over connections pinned to the attested key.
 *
 * @example
 * const session = await connect({ baseURL, policy, attestedTls }); // from "@veritee/client"
 */
export const attestedTls: PinnedTransport = Object.freeze({
  unpinned(address: ServerAddress): FetchLike {
    return unpinnedFetch(address.origin);
  },
  pinned(address: ServerAddress, spki: Uint8Array, options?: { readonly keepAlive?: boolean }): PinnedFetch {
    const agent = createPinnedAgent({ spki, keepAlive: options?.keepAlive ?? true });
    const fetch = createPinnedFetch({ origin: address.origin, spki, agent });
    return {
      fetch,
      close: async () => {
        agent.destroy();
      },
    };
  },
});
