import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { fromHex, MalformedError, toHex } from "../src/index.js";

test("hex round trips any bytes", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => assert.deepEqual(fromHex(toHex(b)), b)));
});

test("fromHex rejects odd lengths and non-hex digits with a typed error", () => {
  for (const bad of ["a", "0g", "zz", "12 34", "0x1"]) {
    assert.throws(
      () => fromHex(bad),
      (e: unknown) => e instanceof MalformedError && e.code === "bad-hex",
    );
  }
});
