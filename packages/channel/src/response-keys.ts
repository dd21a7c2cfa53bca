/**
 * Response keys, derived from the request's HPKE context as Oblivious HTTP
 * derives its response keys (RFC 9458 §4.4), with Veritee's labels:
 *
 *     secret   = context.Export("veritee sealed response v1", Nr)    Nr = max(Nn, Nk)
 *     nonce_r  = random(Nr)                                          sent first in the response
 *     salt     = enc ‖ nonce_r
 *     prk      = Extract(salt, secret)
 *     key      = Expand(prk, "key", Nk)
 *     base     = Expand(prk, "nonce", Nn)
 *
 * Only the two ends of the request know `secret`; the fresh `nonce_r` makes
 * every response's keys distinct even if a request is replayed.
 */
import { concatBytes, utf8 } from "@veritee/core";
import type { ChannelSuite } from "./backend.js";
import type { FrameKeys } from "./frames.js";

const LABEL_KEY = utf8("key");
const LABEL_NONCE = utf8("nonce");

/** Nr: the size of the response secret and of the response nonce. */
export function responseSecretSize(suite: ChannelSuite): number {
  return Math.max(suite.nonceSize, suite.keySize);
}

/** Fresh random bytes from the platform's CSPRNG (WebCrypto `getRandomValues`, also on Node). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

/** The frame keys of one response (see the module comment). */
export async function deriveResponseKeys(
  suite: ChannelSuite,
  secret: Uint8Array,
  enc: Uint8Array,
  responseNonce: Uint8Array,
): Promise<FrameKeys> {
  const kdf = suite.hpke.kdf;
  const salt = concatBytes(enc, responseNonce);
  // HKDF(salt, secret, info, L) = Expand(Extract(salt, secret), info, L) (RFC 5869 §2).
  const [key, baseNonce] = await Promise.all([
    kdf.extractAndExpand(salt, secret, LABEL_KEY, suite.keySize),
    kdf.extractAndExpand(salt, secret, LABEL_NONCE, suite.nonceSize),
  ]);
  return {
    aead: suite.hpke.aead.createEncryptionContext(key),
    baseNonce: new Uint8Array(baseNonce),
    tagSize: suite.tagSize,
  };
}
