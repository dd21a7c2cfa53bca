/**
 * The Binary HTTP request codec (RFC 9292, known-length form): the RFC's own
 * example, round trips of arbitrary requests, and hostile input — random,
 * mutated, truncated, oversized — that yields only typed MalformedErrors.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { concatBytes, MalformedError } from "@veritee/core";
import fc from "fast-check";
import { decodeBinaryRequest, encodeBinaryRequest } from "../src/bhttp.js";

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
}

/**
 * RFC 9292 §5.1, the known-length encoding of
 * `GET /hello.txt` with user-agent, host and accept-language, followed by
 * padding (the example pads with zero bytes).
 */
const RFC9292_EXAMPLE = hex(`
  00034745 54056874 74707300 0a2f6865 6c6c6f2e 74787440 6c0a7573 65722d61
  67656e74 34637572 6c2f372e 31362e33 206c6962 6375726c 2f372e31 362e3320
  4f70656e 53534c2f 302e392e 376c207a 6c69622f 312e322e 3304686f 73740f77
  77772e65 78616d70 6c652e63 6f6d0f61 63636570 742d6c61 6e677561 67650665
  6e2c206d 69000000 00000000 00000000`);

const EXAMPLE_HEADERS = [
  ["user-agent", "curl/7.16.3 libcurl/7.16.3 OpenSSL/0.9.7l zlib/1.2.3"],
  ["host", "www.example.com"],
  ["accept-language", "en, mi"],
] as const;

function malformed(run: () => unknown): MalformedError {
  try {
    run();
  } catch (e) {
    if (e instanceof MalformedError) return e;
    throw e;
  }
  throw new Error("decoded");
}

describe("Binary HTTP requests (RFC 9292)", () => {
  test("the RFC's example decodes, padding included; encoding it gives the same bytes without the padding", () => {
    const decoded = decodeBinaryRequest(RFC9292_EXAMPLE);
    assert.equal(decoded.method, "GET");
    assert.equal(decoded.scheme, "https");
    assert.equal(decoded.authority, "");
    assert.equal(decoded.path, "/hello.txt");
    assert.deepEqual(decoded.headers, EXAMPLE_HEADERS);
    assert.equal(decoded.body.length, 0);
    assert.deepEqual(decoded.trailers, []);
    const encoded = encodeBinaryRequest({ method: "GET", path: "/hello.txt", headers: EXAMPLE_HEADERS });
    assert.deepEqual(encoded, RFC9292_EXAMPLE.subarray(0, encoded.length));
    assert.ok(RFC9292_EXAMPLE.subarray(encoded.length).every((b) => b === 0));
  });

  test("truncation after the header section or the content means empty sections (§3.8)", () => {
    const full = encodeBinaryRequest({ method: "GET", path: "/", headers: [["a", "b"]] });
    // full = … headers ‖ 0x00 (content) ‖ 0x00 (trailers)
    for (const cut of [1, 2]) {
      const decoded = decodeBinaryRequest(full.subarray(0, full.length - cut));
      assert.deepEqual(decoded.headers, [["a", "b"]]);
      assert.equal(decoded.body.length, 0);
    }
    assert.equal(malformed(() => decodeBinaryRequest(full.subarray(0, full.length - 3))).code, "truncated");
  });

  test("non-minimal varints are accepted (RFC 9000 §16 allows them); 8-byte ones past 2^53 are too large", () => {
    // framing 0 as 2 bytes, method length 3 as 4 bytes, then as usual.
    const bytes = concatBytes(
      hex("4000"),
      hex("80000003"),
      new TextEncoder().encode("GET"),
      hex("05"),
      new TextEncoder().encode("https"),
      hex("00 01 2f 00"),
    );
    assert.equal(decodeBinaryRequest(bytes).path, "/");
    const huge = concatBytes(hex("00 c0ffffffffffffff"));
    assert.equal(malformed(() => decodeBinaryRequest(huge)).code, "too-large");
  });

  test("what the codec refuses, each with its code", () => {
    const ok = (headers: [string, string][] = []) =>
      encodeBinaryRequest({ method: "POST", path: "/v1/x", headers, body: new Uint8Array(10) });
    const cases: [string, Uint8Array, string][] = [
      ["a response's framing indicator", concatBytes(hex("01"), ok().subarray(1)), "unsupported"],
      ["the indeterminate-length form", concatBytes(hex("02"), ok().subarray(1)), "unsupported"],
      ["non-zero padding", concatBytes(ok(), hex("0001")), "trailing-data"],
      ["an empty message", new Uint8Array(0), "truncated"],
      ["a bad scheme", hex("00 03 474554 03 667470 00 01 2f 00"), "bad-value"],
      ["a method that is no token", hex("00 03 472054 05 6874747073 00 01 2f 00"), "bad-value"],
      ["a path not in origin form", hex("00 03 474554 05 6874747073 00 01 2a 00"), "bad-value"],
      ["an upper-case field name", hex("00 03 474554 05 6874747073 00 01 2f 04 01 41 01 62"), "bad-value"],
      ["a pseudo-field", hex("00 03 474554 05 6874747073 00 01 2f 05 02 3a70 01 2f"), "bad-value"],
      ["an empty field name", hex("00 03 474554 05 6874747073 00 01 2f 03 00 01 62"), "bad-value"],
      ["a field value with a newline", hex("00 03 474554 05 6874747073 00 01 2f 04 01 61 01 0a"), "bad-value"],
      ["a field line cut by its section", hex("00 03 474554 05 6874747073 00 01 2f 03 01 61 02 6262"), "truncated"],
    ];
    for (const [what, bytes, code] of cases) {
      assert.equal(malformed(() => decodeBinaryRequest(bytes)).code, code, what);
    }
  });

  test("limits: content, field section size and field count", () => {
    const body = encodeBinaryRequest({ method: "POST", path: "/", body: new Uint8Array(100) });
    assert.equal(malformed(() => decodeBinaryRequest(body, { maxBodyBytes: 99 })).code, "too-large");
    assert.equal(decodeBinaryRequest(body, { maxBodyBytes: 100 }).body.length, 100);
    const many = encodeBinaryRequest({
      method: "GET",
      path: "/",
      headers: Array.from({ length: 5 }, (_, i) => [`x-${i}`, "v"] as const),
    });
    assert.equal(malformed(() => decodeBinaryRequest(many, { maxFields: 4 })).code, "too-large");
    assert.equal(malformed(() => decodeBinaryRequest(many, { maxFieldSectionBytes: 10 })).code, "too-large");
  });

  test("the encoder refuses what the decoder would (RangeError, before any byte is written)", () => {
    for (const bad of [
      { method: "G T", path: "/" },
      { method: "GET", path: "relative" },
      { method: "GET", path: "/", scheme: "ftp" },
      { method: "GET", path: "/", authority: "user@host" },
      { method: "GET", path: "/", headers: [["Content-Type", "a"]] as const },
      { method: "GET", path: "/", headers: [["x", " leading space"]] as const },
      { method: "GET", path: "/", headers: [["x", "é"]] as const },
    ]) {
      assert.throws(() => encodeBinaryRequest(bad), RangeError, JSON.stringify(bad));
    }
  });
});

const tchar = fc.constantFrom(..."!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-");
const lowerTchar = fc.constantFrom(..."!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyz-");
const visible = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const token = fc.string({ unit: tchar, minLength: 1, maxLength: 12 });
const fieldName = fc.string({ unit: lowerTchar, minLength: 1, maxLength: 20 });
const fieldValue = fc.oneof(
  fc.constant(""),
  fc
    .tuple(visible, fc.string({ unit: fc.oneof(visible, fc.constantFrom(" ", "\t")), maxLength: 40 }), visible)
    .map(([a, mid, b]) => `${a}${mid}${b}`),
);
const request = fc.record({
  method: token,
  scheme: fc.constantFrom("https", "http"),
  authority: fc.constantFrom("", "example.com", "127.0.0.1:8080", "[::1]:443"),
  path: fc.string({ unit: visible, maxLength: 60 }).map((p) => `/${p}`),
  headers: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 10 }),
  body: fc.uint8Array({ maxLength: 300 }),
  trailers: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 3 }),
});

describe("properties", () => {
  test("decode(encode(x)) = x, with or without zero padding", () => {
    fc.assert(
      fc.property(request, fc.nat({ max: 20 }), (x, padding) => {
        const encoded = encodeBinaryRequest(x);
        const decoded = decodeBinaryRequest(concatBytes(encoded, new Uint8Array(padding)));
        assert.deepEqual(
          { ...decoded, body: [...decoded.body] },
          { ...x, body: [...x.body], headers: x.headers, trailers: x.trailers },
        );
      }),
      { numRuns: 500 },
    );
  });

  test("random bytes, and every mutation or truncation of a valid request, yield a request or a MalformedError", () => {
    const onlyTyped = (bytes: Uint8Array) => {
      try {
        decodeBinaryRequest(bytes, { maxBodyBytes: 1000 });
      } catch (e) {
        if (!(e instanceof MalformedError)) throw e;
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), onlyTyped), { numRuns: 1000 });
    fc.assert(
      fc.property(request, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (x, at, flip, cut) => {
        const encoded = encodeBinaryRequest(x);
        const mutated = encoded.slice();
        mutated[at % mutated.length]! ^= flip;
        onlyTyped(mutated);
        onlyTyped(encoded.subarray(0, cut % (encoded.length + 1)));
      }),
      { numRuns: 1000 },
    );
  });
});
