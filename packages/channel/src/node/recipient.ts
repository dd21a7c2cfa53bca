/**
 * The server's {@link RecipientKey} from its in-memory `KeyObject`, on the
 * Node backend: the private key is used where it is, never exported.
 */
import type { KeyObject } from "node:crypto";
import type { HpkeKeyConfig } from "@veritee/core";
import { bytesEqual } from "@veritee/core";
import type { RecipientKey } from "../request.js";
import { nodeBackend, nodeX25519Key } from "./backend.js";

/** Options of {@link nodeRecipientKey}. */
export interface NodeRecipientKeyOptions {
  /** The attested HPKE key configuration (`KeySet.hpke`). */
  readonly keyConfig: HpkeKeyConfig;
  /** The attested key set's digest. */
  readonly keySetDigest: Uint8Array;
  /** The X25519 private key (e.g. `ServerKeys.hpkePrivateKey`). */
  readonly privateKey: KeyObject;
}

/**
 * The recipient key for `openRequest`, on the Node backend.
 *
 * @throws RangeError when the private key's public half is not the configuration's public key.
 * @example
 * const recipient = nodeRecipientKey({ keyConfig: keys.keySet.hpke, keySetDigest: keys.keySetDigest, privateKey: keys.hpkePrivateKey });
 */
export function nodeRecipientKey(options: NodeRecipientKeyOptions): RecipientKey {
  const privateKey = nodeX25519Key(options.privateKey);
  if (privateKey.type !== "private" || !bytesEqual(privateKey.publicBytes, options.keyConfig.publicKey)) {
    throw new RangeError("the private key does not belong to the key configuration");
  }
  if (options.keySetDigest.length !== 32) throw new RangeError("keySetDigest is not 32 bytes");
  return Object.freeze({
    keyConfig: options.keyConfig,
    keySetDigest: options.keySetDigest.slice(),
    privateKey,
    backend: nodeBackend,
  });
}
