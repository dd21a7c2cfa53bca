/** Single-shot HPKE to an attested key: only its holder opens it, with the same info and aad; any change is refused. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { HPKE_AEAD_CHACHA20_POLY1305 } from "@veritee/core";
import fc from "fast-check";
import { nodeBackend } from "../src/node/backend.js";
import { openSingleShot, sealSingleShot } from "../src/single-shot.js";
import { webCryptoBackend } from "../src/web-backend.js";
import { channelCode, serverKey, text } from "./support.js";

const info = text("veritee-test single shot");
const aad = text('{"challengeId":"00"}');

test("a message sealed to a key configuration opens with its private key, on either backend", async () => {
  for (const suites of [undefined, [HPKE_AEAD_CHACHA20_POLY1305]]) {
    const { keyConfig, recipient } = serverKey(suites ? { suites } : {});
    for (const backend of [nodeBackend, webCryptoBackend]) {
      const secret = new Uint8Array(randomBytes(33));
      const sealed = await sealSingleShot(backend, keyConfig, info, aad, secret);
      assert.equal(sealed.enc.length, 32);
      assert.equal(sealed.ciphertext.length, secret.length + 16);
      assert.deepEqual(await openSingleShot(recipient, sealed, info, aad), secret);
    }
  }
});

test("another key, info or aad, or any changed byte of enc or ciphertext is refused as tampered", async () => {
  const { keyConfig, recipient } = serverKey();
  const other = serverKey();
  const sealed = await sealSingleShot(nodeBackend, keyConfig, info, aad, new Uint8Array(32).fill(7));
  assert.equal(await channelCode(openSingleShot(other.recipient, sealed, info, aad)), "tampered");
  assert.equal(await channelCode(openSingleShot(recipient, sealed, text("other"), aad)), "tampered");
  assert.equal(await channelCode(openSingleShot(recipient, sealed, info, text("{}"))), "tampered");
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (inEnc, at, flip) => {
      const enc = sealed.enc.slice();
      const ciphertext = sealed.ciphertext.slice();
      const target = inEnc ? enc : ciphertext;
      target[at % target.length]! ^= flip;
      return (await channelCode(openSingleShot(recipient, { enc, ciphertext }, info, aad))) === "tampered";
    }),
    { numRuns: 100 },
  );
  const truncated = { enc: sealed.enc, ciphertext: sealed.ciphertext.subarray(0, 10) };
  assert.equal(await channelCode(openSingleShot(recipient, truncated, info, aad)), "tampered");
});

test("a key configuration without a suite this side has is refused", async () => {
  const { keyConfig } = serverKey({ suites: [0x9999] });
  assert.equal(
    await channelCode(sealSingleShot(nodeBackend, keyConfig, info, aad, new Uint8Array(1))),
    "unsupported-suite",
  );
});
