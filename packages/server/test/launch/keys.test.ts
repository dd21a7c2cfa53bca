/**
 * The ephemeral keys: the key set is exactly the public halves of the
 * in-memory private keys, private material never shows in JSON or inspect
 * output, and dropped keys cannot be used.
 */
import assert from "node:assert/strict";
import { createPublicKey, diffieHellman, generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import { toHex } from "@veritee/core";
import { decodeKeySet, keySetDigest, keySetToJson } from "@veritee/evidence";
import { dropKeys, generateServerKeys, LaunchError } from "../../src/index.js";

describe("generateServerKeys", () => {
  test("the key set holds the public halves: a P-256 SPKI and a raw X25519 key, with the RFC 9180 ids", () => {
    const keys = generateServerKeys();
    const ks = keys.keySet;
    assert.equal(ks.tlsSpki.length, 91);
    const tlsPublic = createPublicKey({ key: Buffer.from(ks.tlsSpki), format: "der", type: "spki" });
    assert.equal(tlsPublic.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.deepEqual(
      createPublicKey(keys.tlsPrivateKey).export({ format: "der", type: "spki" }),
      Buffer.from(ks.tlsSpki),
    );
    assert.equal(ks.hpke.publicKey.length, 32);
    assert.equal(ks.hpke.kemId, 0x0020);
    assert.deepEqual(ks.hpke.cipherSuites, [
      { kdfId: 0x0001, aeadId: 0x0001 },
      { kdfId: 0x0001, aeadId: 0x0003 },
    ]);
    // The HPKE public key is the private key's: a peer's X25519 agreement gives the same secret both ways.
    const peer = generateKeyPairSync("x25519");
    const serverPublic = createPublicKey({
      key: { kty: "OKP", crv: "X25519", x: Buffer.from(ks.hpke.publicKey).toString("base64url") },
      format: "jwk",
    });
    assert.deepEqual(
      diffieHellman({ privateKey: keys.hpkePrivateKey, publicKey: peer.publicKey }),
      diffieHellman({ privateKey: peer.privateKey, publicKey: serverPublic }),
    );
    assert.deepEqual(keys.keySetDigest, keySetDigest(ks));
    assert.deepEqual(decodeKeySet(keySetToJson(ks)), ks);
  });

  test("every launch has new keys", () => {
    const a = generateServerKeys();
    const b = generateServerKeys();
    assert.notEqual(toHex(a.keySetDigest), toHex(b.keySetDigest));
    assert.notDeepEqual(a.keySet.hpke.publicKey, b.keySet.hpke.publicKey);
  });

  test("JSON and inspect output show no private key material", () => {
    const keys = generateServerKeys();
    const d1 = keys.tlsPrivateKey.export({ format: "jwk" }).d!;
    const d2 = keys.hpkePrivateKey.export({ format: "jwk" }).d!;
    const pkcs8 = keys.hpkePrivateKey.export({ format: "der", type: "pkcs8" }).toString("base64");
    for (const text of [JSON.stringify(keys), inspect(keys, { depth: 10, showHidden: true }), String(keys)]) {
      for (const secret of [d1, d2, pkcs8, Buffer.from(d1, "base64url").toString("hex")]) {
        assert.ok(!text.includes(secret));
      }
    }
    assert.ok(JSON.stringify(keys).includes(toHex(keys.keySetDigest)));
  });

  test("dropped keys cannot be used", () => {
    const keys = generateServerKeys();
    assert.equal(keys.dropped, false);
    dropKeys(keys);
    assert.equal(keys.dropped, true);
    const dropped = (e: unknown) => e instanceof LaunchError && e.code === "keys-dropped";
    assert.throws(() => keys.tlsPrivateKey, dropped);
    assert.throws(() => keys.hpkePrivateKey, dropped);
    assert.ok(inspect(keys).includes("dropped"));
    // The public key set stays available (it is public).
    assert.equal(keys.keySet.hpke.publicKey.length, 32);
  });
});
