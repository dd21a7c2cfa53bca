/** The sealed response head: strict decoding, round trips, and only MalformedError from hostile bytes. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MalformedError } from "@veritee/core";
import fc from "fast-check";
import { decodeResponseHead, encodeResponseHead, type ResponseHead } from "../src/head.js";

const NAME = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
const VALUE = fc.stringMatching(/^([!-~]([ -~]{0,30}[!-~])?)?$/);
const HEAD: fc.Arbitrary<ResponseHead> = fc.record({
  status: fc.integer({ min: 100, max: 599 }),
  headers: fc.dictionary(NAME, VALUE, { maxKeys: 16 }),
});

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

test("encode → decode is the identity (fast-check)", () => {
  fc.assert(
    fc.property(HEAD, (head) => {
      const back = decodeResponseHead(encodeResponseHead(head));
      assert.equal(back.status, head.status);
      assert.deepEqual({ ...back.headers }, { ...head.headers });
    }),
    { numRuns: 300 },
  );
});

test("the encoding is u16 status ‖ u8 count ‖ (u8 name, u16 value)*", () => {
  const bytes = encodeResponseHead({ status: 429, headers: { "retry-after": "1" } });
  assert.deepEqual([...bytes], [0x01, 0xad, 1, 11, ...Buffer.from("retry-after"), 0, 1, 0x31]);
});

test("random bytes and single-byte mutations yield only MalformedError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const e = thrown(() => decodeResponseHead(bytes));
      assert.ok(e === undefined || e instanceof MalformedError, String(e));
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(HEAD, fc.nat(), fc.integer({ min: 1, max: 255 }), (head, at, x) => {
      const bytes = encodeResponseHead(head);
      const i = at % bytes.length;
      bytes[i]! ^= x;
      const e = thrown(() => decodeResponseHead(bytes));
      assert.ok(e === undefined || e instanceof MalformedError, String(e));
    }),
    { numRuns: 500 },
  );
});

test("strictness: status range, trailing data, repeated names, bad characters, limits", () => {
  const good = encodeResponseHead({ status: 200, headers: { "content-type": "application/json" } });
  const cases: [string, Uint8Array][] = [
    ["status 99", Uint8Array.of(0, 99, 0)],
    ["status 600", Uint8Array.of(0x02, 0x58, 0)],
    ["trailing", Uint8Array.from([...good, 0])],
    ["truncated", good.subarray(0, good.length - 1)],
    ["repeated", Uint8Array.from([0, 200, 2, 1, 0x61, 0, 0, 1, 0x61, 0, 0])],
    ["upper-case name", Uint8Array.from([0, 200, 1, 1, 0x41, 0, 0])],
    ["empty name", Uint8Array.from([0, 200, 1, 0, 0, 0])],
    ["CR in value", Uint8Array.from([0, 200, 1, 1, 0x61, 0, 1, 0x0d])],
    ["non-ASCII value", Uint8Array.from([0, 200, 1, 1, 0x61, 0, 1, 0xe9])],
    ["leading space", Uint8Array.from([0, 200, 1, 1, 0x61, 0, 2, 0x20, 0x61])],
    ["17 fields", Uint8Array.from([0, 200, 17])],
    ["name too long", Uint8Array.from([0, 200, 1, 65, ...new Uint8Array(65).fill(0x61), 0, 0])],
  ];
  for (const [what, bytes] of cases) {
    assert.ok(thrown(() => decodeResponseHead(bytes)) instanceof MalformedError, what);
  }
  assert.throws(() => encodeResponseHead({ status: 200, headers: { "x-a": "line\nbreak" } }), RangeError);
  assert.throws(() => encodeResponseHead({ status: 1000, headers: {} }), RangeError);
});
