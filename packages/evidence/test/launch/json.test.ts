/**
 * RFC 8785 canonical JSON, the strict JSON reader, and strict base64: the
 * encodings the launch log and the attestation document are built on.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MalformedError, utf8 } from "@veritee/core";
import fc from "fast-check";
import { base64Decode, base64Encode, canonicalJson, parseJsonBytes } from "../../src/index.js";

function malformed(code?: string) {
  return (e: unknown) => e instanceof MalformedError && (code === undefined || e.code === code);
}

describe("canonicalJson (RFC 8785)", () => {
  test("the RFC 8785 §3.2.2 example: numbers, strings and literals", () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  test("the RFC 8785 §3.2.3 example: members sorted by UTF-16 code units", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    const order = Object.keys(JSON.parse(canonicalJson(input)) as object);
    // JSON.parse puts the integer-like "1" first; compare the text order instead.
    const text = canonicalJson(input);
    const positions = ["\\r", '"1"', "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"].map((k) =>
      text.indexOf(k),
    );
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
    );
    assert.equal(order.length, 7);
  });

  test("-0 is written 0; no whitespace; nested objects sorted", () => {
    assert.equal(canonicalJson({ b: [-0, { d: 1, c: 2 }], a: "x" }), '{"a":"x","b":[0,{"c":2,"d":1}]}');
  });

  test("values JSON cannot carry are refused", () => {
    for (const v of [undefined, () => 1, 1n, Number.NaN, Number.POSITIVE_INFINITY, "\ud800", { a: undefined }]) {
      assert.throws(() => canonicalJson(v), TypeError);
    }
    assert.throws(() => canonicalJson(new Uint8Array(2)), TypeError);
  });

  test("canonicalJson is idempotent through JSON.parse for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const once = canonicalJson(v);
        assert.equal(canonicalJson(JSON.parse(once)), once);
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseJsonBytes", () => {
  const opts = { maxBytes: 100 };

  test("accepts canonical JSON", () => {
    assert.deepEqual(parseJsonBytes(utf8('{"a":[1,"x"]}'), "T", opts), { a: [1, "x"] });
  });

  test("refuses whitespace, member order, duplicate members, escapes that are not canonical", () => {
    for (const text of ['{ "a":1}', '{"b":1,"a":2}', '{"a":1,"a":2}', '"\\u0041"', "1.0", "1e2"]) {
      assert.throws(() => parseJsonBytes(utf8(text), "T", opts), malformed("bad-value"), text);
    }
  });

  test("refuses invalid UTF-8, a BOM, non-JSON, lone surrogates, oversize input, deep nesting", () => {
    assert.throws(() => parseJsonBytes(new Uint8Array([0x22, 0xff, 0x22]), "T", opts), malformed("bad-value"));
    assert.throws(() => parseJsonBytes(utf8("\ufeff{}"), "T", opts), malformed("bad-value"));
    assert.throws(() => parseJsonBytes(utf8("{"), "T", opts), malformed("bad-value"));
    assert.throws(() => parseJsonBytes(utf8('"\\ud800"'), "T", opts), malformed("bad-value"));
    assert.throws(() => parseJsonBytes(new Uint8Array(101), "T", opts), malformed("too-large"));
    const deep = `${"[".repeat(40)}${"]".repeat(40)}`;
    assert.throws(() => parseJsonBytes(utf8(deep), "T", { maxBytes: 1000 }), malformed("too-deep"));
    assert.throws(() => parseJsonBytes(utf8('{"__proto__":1}'), "T", opts), malformed("bad-value"));
  });

  test("arbitrary bytes yield a value or a MalformedError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, canonical) => {
        try {
          parseJsonBytes(bytes, "T", { maxBytes: 64, canonical });
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("base64 (RFC 4648 §4)", () => {
  test("RFC 4648 §10 vectors", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "Zg=="],
      ["fo", "Zm8="],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg=="],
      ["fooba", "Zm9vYmE="],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, encoded] of vectors) {
      assert.equal(base64Encode(utf8(plain)), encoded);
      assert.deepEqual(base64Decode(encoded, "B", 100), utf8(plain));
    }
  });

  test("refuses other alphabets, missing or misplaced padding, non-zero pad bits, whitespace, oversize", () => {
    for (const bad of ["Zg", "Zg=", "Zh==", "Zm9=", "Z===", "Zm-v", "Zm_v", "Zm9v\n", "=Zm9", "Zm=v", "Zm9vYg=a", 7]) {
      assert.throws(() => base64Decode(bad, "B", 100), malformed(), String(bad));
    }
    assert.throws(() => base64Decode("Zm9vYmFy", "B", 5), malformed("too-large"));
  });

  test("round trip, and every accepted string re-encodes to itself", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        assert.deepEqual(base64Decode(base64Encode(bytes), "B", 100), bytes);
        assert.equal(base64Encode(bytes), Buffer.from(bytes).toString("base64"));
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 12, unit: fc.constantFrom(..."AQgw+/=Zz09".split("")) }), (text) => {
        try {
          assert.equal(base64Encode(base64Decode(text, "B", 100)), text);
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
