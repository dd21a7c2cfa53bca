/**
 * Core's strict base64 (RFC 4648 §4, canonical per §3.5) and base64url
 * (§5, unpadded): round trips, one spelling per byte string, only
 * MalformedError from any input.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { base64Decode, base64Encode, base64urlDecode, base64urlEncode, MalformedError } from "../src/index.js";

const malformed = (e: unknown): boolean => e instanceof MalformedError;

test("base64 round trips any bytes and matches Node's encoder", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), (b) => {
      const text = base64Encode(b);
      assert.equal(text, Buffer.from(b).toString("base64"));
      assert.deepEqual(base64Decode(text, "x", 96), b);
    }),
  );
});

test("base64url round trips any bytes and matches Node's encoder", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), (b) => {
      const text = base64urlEncode(b);
      assert.equal(text, Buffer.from(b).toString("base64url"));
      assert.deepEqual(base64urlDecode(text, "x"), b);
    }),
  );
});

test("base64: any string decodes to its one canonical spelling or throws MalformedError", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."AQgw+/=\n -_*"), maxLength: 24 }), (text) => {
      let bytes: Uint8Array;
      try {
        bytes = base64Decode(text, "x", 1024);
      } catch (e) {
        assert.ok(malformed(e), String(e));
        return;
      }
      assert.equal(base64Encode(bytes), text);
    }),
  );
});

test("base64url: any string decodes to its one canonical spelling or throws MalformedError", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."AQgw-_=+/ "), maxLength: 24 }), (text) => {
      let bytes: Uint8Array;
      try {
        bytes = base64urlDecode(text, "x");
      } catch (e) {
        assert.ok(malformed(e), String(e));
        return;
      }
      assert.equal(base64urlEncode(bytes), text);
    }),
  );
});

test("non-canonical base64 is refused (Node's decoder accepted all of these)", () => {
  const cases: [string, string][] = [
    ["QQ", "no padding"],
    ["QR==", "non-zero pad bits"],
    ["QUI=QUI=", "padding inside"],
    ["QU I=", "a space"],
    ["QUI=\n", "a newline"],
    ["QUI*", "a character outside the alphabet"],
    ["QUI_", "the base64url alphabet"],
    ["Q===", "three pad characters"],
  ];
  for (const [text, why] of cases) {
    assert.ok(Buffer.from(text, "base64").length >= 0);
    assert.throws(() => base64Decode(text, "field", 64), malformed, why);
  }
  assert.throws(() => base64Decode(7, "field", 64), malformed);
  assert.throws(
    () => base64Decode("QUJD", "field", 2),
    (e: unknown) => e instanceof MalformedError && e.code === "too-large",
  );
});

test("non-canonical base64url is refused", () => {
  for (const text of ["QR", "QQ==", "Q", "QU+", "QU/", "QU I"]) {
    assert.throws(() => base64urlDecode(text, "jwk.x"), malformed, text);
  }
});
