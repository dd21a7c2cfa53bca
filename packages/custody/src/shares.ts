/**
 * k-of-n ownership of a model key: Shamir secret sharing over GF(2^8), done by
 * the audited `shamir-secret-sharing` package (README design notes). Each
 * share is 33 bytes: the 32 key bytes' polynomial values and the share's x
 * coordinate (last byte). Fewer than k shares reveal nothing about the key.
 *
 * Errors name counts and positions, never share bytes.
 */
import { combine, split } from "shamir-secret-sharing";
import { SealedModelError } from "./errors.js";
import { MAX_OWNERS } from "./sealed/header.js";
import { MODEL_KEY_BYTES } from "./sealed/stream.js";

/** A share's length: one byte per key byte and its x coordinate. */
export const SHARE_BYTES = MODEL_KEY_BYTES + 1;

/**
 * Split a model key into `n` shares, any `k` of which recover it.
 *
 * @throws SealedModelError `bad-key` (a key that is not 32 bytes, n outside
 *   2..16, k outside 2..n).
 */
export async function splitModelKey(key: Uint8Array, n: number, k: number): Promise<Uint8Array[]> {
  if (key.length !== MODEL_KEY_BYTES) throw new SealedModelError("bad-key", "a model key is 32 bytes");
  if (!Number.isInteger(n) || n < 2 || n > MAX_OWNERS) {
    throw new SealedModelError("bad-key", `the number of owners must be 2 to ${MAX_OWNERS}`);
  }
  if (!Number.isInteger(k) || k < 2 || k > n) throw new SealedModelError("bad-key", "the threshold must be 2 to n");
  return split(key, n, k);
}

/**
 * Combine shares into the model key. The result is only as right as the
 * shares: k wrong or too few shares give a wrong key, which the sealed file's
 * first chunk then refuses (`wrong-key`).
 *
 * @throws SealedModelError `bad-key` (fewer than 2 shares, a share of the
 *   wrong length, two shares with the same x coordinate).
 */
export async function combineModelKey(shares: readonly Uint8Array[]): Promise<Uint8Array> {
  if (shares.length < 2) throw new SealedModelError("bad-key", "at least two shares are needed");
  const xs = new Set<number>();
  shares.forEach((share, i) => {
    if (share.length !== SHARE_BYTES)
      throw new SealedModelError("bad-key", `share ${i + 1} is not ${SHARE_BYTES} bytes`);
    xs.add(share[SHARE_BYTES - 1]!);
  });
  if (xs.size !== shares.length) throw new SealedModelError("bad-key", "two shares are the same share");
  return combine([...shares]);
}
