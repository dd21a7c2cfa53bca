/** k-of-n shares of a model key: any k recover it, k − 1 do not, malformed sets are refused by name. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { combineModelKey, SealedModelError, SHARE_BYTES, splitModelKey } from "../src/index.js";

function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  return items.flatMap((item, i) => subsets(items.slice(i + 1), k - 1).map((rest) => [item, ...rest]));
}

test("any k of n shares recover the key; k − 1 give something else", async () => {
  const key = new Uint8Array(randomBytes(32));
  for (const [n, k] of [
    [3, 2],
    [5, 3],
  ] as const) {
    const shares = await splitModelKey(key, n, k);
    assert.equal(shares.length, n);
    for (const share of shares) assert.equal(share.length, SHARE_BYTES);
    for (const set of subsets(shares, k)) assert.deepEqual(await combineModelKey(set), key);
    for (const set of subsets(shares, k - 1)) {
      if (set.length < 2) continue;
      assert.notDeepEqual(await combineModelKey(set), key);
    }
  }
});

test("bad parameters and malformed share sets are refused with bad-key, without share bytes in the message", async () => {
  const key = new Uint8Array(randomBytes(32));
  const badKey = (error: unknown) => error instanceof SealedModelError && error.code === "bad-key";
  await assert.rejects(splitModelKey(key.subarray(0, 31), 3, 2), badKey);
  await assert.rejects(splitModelKey(key, 1, 1), badKey);
  await assert.rejects(splitModelKey(key, 17, 2), badKey);
  await assert.rejects(splitModelKey(key, 3, 4), badKey);
  await assert.rejects(splitModelKey(key, 3, 1), badKey);
  const shares = await splitModelKey(key, 3, 2);
  await assert.rejects(combineModelKey([shares[0]!]), badKey);
  await assert.rejects(combineModelKey([shares[0]!, shares[0]!]), badKey);
  await assert.rejects(combineModelKey([shares[0]!, shares[1]!.subarray(1)]), (error: unknown) => {
    assert.ok(badKey(error));
    const message = (error as Error).message;
    for (const share of shares) {
      assert.ok(!message.includes(Buffer.from(share).toString("hex").slice(0, 16)));
      assert.ok(!message.includes(Buffer.from(share).toString("base64").slice(0, 12)));
    }
    return true;
  });
});
