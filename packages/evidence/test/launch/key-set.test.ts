/**
 * The attested key set: its byte layout (an independent re-implementation of
 * the documented encoding), digest, strict JSON decoding.
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import { MalformedError, toHex } from "@veritee/core";
import fc from "fast-check";
import {
  decodeKeySet,
  encodeHpkeKeyConfig,
  encodeKeySet,
  type JsonValue,
  type KeySet,
  keySetDigest,
  keySetToJson,
} from "../../src/index.js";
import { arbitraryMutation, freshKeySet, mutate } from "./fixtures.js";

describe("key set encoding", () => {
  test("the documented byte layout", () => {
    const ks = freshKeySet();
    const spki = Buffer.from(ks.tlsSpki);
    const expected = Buffer.concat([
      Buffer.from("veritee-key-set-v1", "ascii"),
      Buffer.from([spki.length >> 8, spki.length & 0xff]),
      spki,
      Buffer.from([0, 1 + 2 + 32 + 2 + 8]), // key configuration length: 45
      Buffer.from([0x00, 0x00, 0x20]), // key_id 0, kem_id 0x0020
      Buffer.from(ks.hpke.publicKey),
      Buffer.from([0x00, 0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x03]), // 8 bytes of suites
    ]);
    assert.equal(spki.length, 91, "a P-256 SPKI is 91 bytes");
    assert.deepEqual(Buffer.from(encodeKeySet(ks)), expected);
    assert.equal(toHex(keySetDigest(ks)), createHash("sha256").update(expected).digest("hex"));
    assert.deepEqual(Buffer.from(encodeHpkeKeyConfig(ks.hpke)), expected.subarray(18 + 2 + 91 + 2));
  });

  test("any change to either key or the suites changes the digest", () => {
    const ks = freshKeySet();
    const d = toHex(keySetDigest(ks));
    const otherHpke = { ...ks, hpke: { ...ks.hpke, publicKey: freshKeySet().hpke.publicKey } };
    const otherTls = { ...ks, tlsSpki: freshKeySet().tlsSpki };
    const oneSuite = { ...ks, hpke: { ...ks.hpke, cipherSuites: [ks.hpke.cipherSuites[0]!] } };
    const reordered = { ...ks, hpke: { ...ks.hpke, cipherSuites: [...ks.hpke.cipherSuites].reverse() } };
    for (const other of [otherHpke, otherTls, oneSuite, reordered]) assert.notEqual(toHex(keySetDigest(other)), d);
  });

  test("key sets outside version 1 are not encoded", () => {
    const ks = freshKeySet();
    const rsa = new Uint8Array(
      generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "der", type: "spki" }),
    );
    const bad: KeySet[] = [
      { ...ks, tlsSpki: rsa },
      { ...ks, tlsSpki: new Uint8Array([0x30, 0x00]) },
      { ...ks, hpke: { ...ks.hpke, kemId: 0x0010 } },
      { ...ks, hpke: { ...ks.hpke, publicKey: new Uint8Array(31) } },
      { ...ks, hpke: { ...ks.hpke, keyId: 256 } },
      { ...ks, hpke: { ...ks.hpke, cipherSuites: [] } },
      { ...ks, hpke: { ...ks.hpke, cipherSuites: [{ kdfId: 2, aeadId: 1 }] } },
      { ...ks, hpke: { ...ks.hpke, cipherSuites: [{ kdfId: 1, aeadId: 2 }] } },
      { ...ks, hpke: { ...ks.hpke, cipherSuites: [ks.hpke.cipherSuites[0]!, ks.hpke.cipherSuites[0]!] } },
    ];
    for (const b of bad) assert.throws(() => encodeKeySet(b), RangeError);
  });
});

describe("key set JSON", () => {
  test("round trip", () => {
    const ks = freshKeySet();
    const back = decodeKeySet(JSON.parse(JSON.stringify(keySetToJson(ks))));
    assert.deepEqual(back, ks);
    assert.deepEqual(keySetDigest(back), keySetDigest(ks));
  });

  test("strict: unknown or missing members, wrong types, wrong sizes, unknown algorithms", () => {
    const json = keySetToJson(freshKeySet()) as unknown as Record<string, Record<string, unknown>>;
    const cases: unknown[] = [
      { ...json, extra: 1 },
      { tlsSpki: json.tlsSpki },
      { ...json, tlsSpki: "not base64!" },
      { ...json, hpke: { ...json.hpke, kemId: 16 } },
      { ...json, hpke: { ...json.hpke, keyId: -1 } },
      { ...json, hpke: { ...json.hpke, keyId: 1.5 } },
      { ...json, hpke: { ...json.hpke, publicKey: Buffer.alloc(33).toString("base64") } },
      { ...json, hpke: { ...json.hpke, cipherSuites: [{ kdfId: 1, aeadId: 1, x: 0 }] } },
      { ...json, hpke: { ...json.hpke, cipherSuites: Array(9).fill({ kdfId: 1, aeadId: 1 }) } },
      null,
      [],
    ];
    for (const c of cases) assert.throws(() => decodeKeySet(c), MalformedError);
  });

  test("mutated key sets decode or fail with MalformedError only", () => {
    const json = keySetToJson(freshKeySet()) as unknown as JsonValue;
    fc.assert(
      fc.property(arbitraryMutation, (m) => {
        try {
          decodeKeySet(mutate(json, m));
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
