import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MalformedError } from "../src/errors.js";
import { base64urlDecode, base64urlEncode } from "../src/shared.js";
import { decodeSpki, encodeSpki, publicKeyFromJwk, publicKeyJwkOf } from "../src/spki.js";

function spkiOf(type: "rsa" | "ec", options: object): Uint8Array {
  // The encoding is made inside the generation job (see keygen-node.ts).
  const pair = nodeCrypto.generateKeyPairSync(type as "ec", {
    ...(options as { namedCurve: string }),
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "der" },
  });
  return new Uint8Array(pair.publicKey);
}

const CORPUS = [
  spkiOf("rsa", { modulusLength: 2048 }),
  spkiOf("rsa", { modulusLength: 1025, publicExponent: 3 }),
  spkiOf("ec", { namedCurve: "P-256" }),
  spkiOf("ec", { namedCurve: "P-384" }),
  spkiOf("ec", { namedCurve: "P-521" }),
];

function onlyMalformed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MalformedError, `expected MalformedError, got ${String(e)}`);
  }
}

function malformed(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof MalformedError && e.code === code);
}

describe("SubjectPublicKeyInfo", () => {
  it("decodes and re-encodes Node's SPKIs byte for byte", () => {
    for (const der of CORPUS) {
      assert.deepEqual(encodeSpki(decodeSpki(der)), der);
      const jwk = nodeCrypto.createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" }).export({
        format: "jwk",
      });
      assert.deepEqual(publicKeyJwkOf(decodeSpki(der)), jwk);
      assert.deepEqual(encodeSpki(publicKeyFromJwk(jwk as JsonWebKey)), der);
    }
  });

  it("random and mutated bytes yield only MalformedError; whatever decodes re-encodes to itself", () => {
    const mutation = fc.record({
      which: fc.nat({ max: CORPUS.length - 1 }),
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 2 }),
    });
    fc.assert(
      fc.property(mutation, ({ which, edits, cut, tail }) => {
        let bytes = CORPUS[which]!.slice();
        for (const { at, value } of edits) bytes[at % bytes.length] = value;
        if (cut !== undefined) bytes = bytes.slice(0, cut % (bytes.length + 1));
        bytes = new Uint8Array([...bytes, ...tail]);
        onlyMalformed(() => assert.deepEqual(encodeSpki(decodeSpki(bytes)), bytes));
      }),
      { numRuns: 1000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyMalformed(() => decodeSpki(b))));
  });

  it("refuses non-DER and unsupported keys, naming the failure", () => {
    const ec = CORPUS[2]!;
    malformed(() => decodeSpki(new Uint8Array([...ec, 0])), "trailing-data");
    malformed(() => decodeSpki(ec.subarray(0, ec.length - 1)), "truncated");
    // The long length form for a length under 128 is not DER.
    const longForm = Uint8Array.from([0x30, 0x81, ec[1]!, ...ec.subarray(2)]);
    malformed(() => decodeSpki(longForm), "bad-length");
    // A compressed point.
    const compressed = ec.slice();
    compressed[ec.length - 65] = 0x02;
    malformed(() => decodeSpki(compressed), "unsupported");
    // An Ed25519 key.
    const ed = nodeCrypto.generateKeyPairSync("ed25519", {
      publicKeyEncoding: { type: "spki", format: "der" },
      privateKeyEncoding: { type: "pkcs8", format: "der" },
    });
    malformed(() => decodeSpki(new Uint8Array(ed.publicKey)), "unsupported");
  });

  it("refuses JWKs that are private, of another type, or with short coordinates", () => {
    const jwk = publicKeyJwkOf(decodeSpki(CORPUS[2]!));
    malformed(() => publicKeyFromJwk({ ...jwk, d: "AA" }), "bad-value");
    malformed(() => publicKeyFromJwk({ ...jwk, crv: "P-192" }), "unsupported");
    malformed(() => publicKeyFromJwk({ ...jwk, x: base64urlEncode(new Uint8Array(31)) }), "bad-length");
    malformed(() => publicKeyFromJwk({ kty: "oct", k: "AA" }), "unsupported");
    malformed(() => publicKeyFromJwk({ kty: "RSA", n: "AAAA", e: "AQAB" }), "bad-value");
  });
});

describe("base64url", () => {
  it("round-trips and matches Node's encoder", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const text = base64urlEncode(b);
        assert.equal(text, Buffer.from(b).toString("base64url"));
        assert.deepEqual(base64urlDecode(text, "x"), b);
      }),
    );
  });

  it("random strings yield only MalformedError, and non-canonical encodings are refused", () => {
    fc.assert(fc.property(fc.string({ maxLength: 20 }), (s) => onlyMalformed(() => base64urlDecode(s, "x"))));
    malformed(() => base64urlDecode("AB", "x"), "bad-value"); // unused bits set
    malformed(() => base64urlDecode("QQ==", "x"), "bad-value"); // padding
    malformed(() => base64urlDecode("A", "x"), "bad-length"); // impossible length
    assert.deepEqual(base64urlDecode("QQ", "x"), Uint8Array.of(0x41));
  });
});
