/**
 * Core's two strict JSON readers: parseStrictJson (human-written JSON: RFC
 * 8259 grammar, no duplicate names) and parseJsonBytes (Veritee's own
 * documents: RFC 8785 canonical form). Round trips, only MalformedError.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { canonicalJson, MalformedError, parseJsonBytes, parseStrictJson } from "../src/index.js";

const OPTIONS = { what: "test JSON", maxText: 1 << 16, maxDepth: 8 };
const json = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);

test("parseStrictJson reads what JSON.stringify writes, compact or indented", () => {
  fc.assert(
    fc.property(json, (v) => {
      assert.deepEqual(parseStrictJson(JSON.stringify(v), OPTIONS), v);
      assert.deepEqual(parseStrictJson(new TextEncoder().encode(JSON.stringify(v, null, 2)), OPTIONS), v);
    }),
  );
});

test("parseJsonBytes reads exactly the canonical form", () => {
  fc.assert(
    fc.property(json, (v) => {
      const text = canonicalJson(v);
      assert.deepEqual(parseJsonBytes(new TextEncoder().encode(text), "doc", { maxBytes: 1 << 16 }), v);
    }),
  );
});

test("any text gives a value or a MalformedError naming the caller's what", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'{}[]",:01-eE.tfnrul \\\n'), maxLength: 40 }), (text) => {
      for (const run of [
        () => parseStrictJson(text, OPTIONS),
        () => parseJsonBytes(new TextEncoder().encode(text), "test JSON", { maxBytes: 1024 }),
      ]) {
        try {
          run();
        } catch (e) {
          assert.ok(e instanceof MalformedError && e.what.startsWith("test JSON"), String(e));
        }
      }
    }),
  );
});

test("duplicates, BOM, depth, size and trailing text are refused with typed codes", () => {
  const code = (text: string, expected: MalformedError["code"]) =>
    assert.throws(
      () => parseStrictJson(text, OPTIONS),
      (e: unknown) => e instanceof MalformedError && e.code === expected && e.what === "test JSON",
      text.slice(0, 30),
    );
  code('{"a":1,"a":2}', "bad-value");
  code('\uFEFF{"a":1}', "bad-value");
  code("[".repeat(10) + "]".repeat(10), "too-deep");
  code(`"${"x".repeat(1 << 16)}"`, "too-large");
  code('{"a":1} x', "trailing-data");
  code('{"a":', "truncated");
  assert.throws(
    () => parseJsonBytes(new TextEncoder().encode('{"b":1,"a":2}'), "doc", { maxBytes: 64 }),
    (e: unknown) => e instanceof MalformedError && e.code === "bad-value",
  );
});
