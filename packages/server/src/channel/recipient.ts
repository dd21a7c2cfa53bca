/**
 * The server's HPKE recipient key, read from `ServerKeys` on every request:
 * nothing here keeps a reference to the private key, so `dropKeys()` at
 * shutdown really drops it (later sealed requests fail with a 500).
 */
import type { RecipientKey } from "@veritee/channel";
import { nodeRecipientKey } from "@veritee/channel/node";
import type { ServerKeys } from "../launch/keys.js";

/**
 * A {@link RecipientKey} over the server's in-memory keys (Node backend).
 *
 * @example
 * const listener = withSealedChannel(http.handler, { recipient: serverRecipientKey(launch.keys) });
 */
export function serverRecipientKey(keys: ServerKeys): RecipientKey {
  const current = () =>
    nodeRecipientKey({ keyConfig: keys.keySet.hpke, keySetDigest: keys.keySetDigest, privateKey: keys.hpkePrivateKey });
  // Checked once now, so a mismatched key set fails at start-up rather than on the first request.
  const { backend } = current();
  return Object.freeze({
    keyConfig: keys.keySet.hpke,
    keySetDigest: keys.keySetDigest,
    backend,
    get privateKey(): CryptoKey {
      return current().privateKey;
    },
  });
}
