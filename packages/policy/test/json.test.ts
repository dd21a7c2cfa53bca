/**
 * The strict JSON reader for policy files: the RFC 8259 grammar exactly,
 * no duplicate member names, bounded size and depth; only MalformedError on
 * bad input, and the same values as JSON.parse on good input.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MalformedError } from "@veritee/core";
import fc from "fast-check";
import { MAX_POLICY_DEPTH, MAX_POLICY_TEXT, parseStrictJson } from "../src/index.js";

function malformed(code?: string) {
  return (e: unknown) => e instanceof MalformedError && (code === undefined || e.code === code);
}

describe("parseStrictJson", () => {
  test("reads what JSON.parse reads: literals, numbers, strings with every escape, nesting", () => {
    const text = ` { "a" : [ true , false , null , 0 , -0 , 1.5e3 , -2E-2 , 10 ] ,
      "s" : "q\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\tu\\u00e9\\ud83d\\ude00\\ud800" , "o" : { } , "e" : [ ] } `;
    assert.deepEqual(parseStrictJson(text), JSON.parse(text));
    assert.ok(Object.is(parseStrictJson("-0") as number, -0));
  });

  test("refuses duplicate member names at any depth", () => {
    assert.throws(() => parseStrictJson('{"a":1,"a":1}'), /duplicate member name/);
    assert.throws(() => parseStrictJson('{"x":[{"b":{"c":1,"c":2}}]}'), /duplicate member name/);
    // Same name after escapes: "\u0061" is "a".
    assert.throws(() => parseStrictJson('{"a":1,"\\u0061":2}'), /duplicate member name/);
    assert.deepEqual(parseStrictJson('{"a":{"a":1}}'), { a: { a: 1 } });
  });

  test("keeps a member named __proto__ as a member", () => {
    const value = parseStrictJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    assert.ok(Object.hasOwn(value, "__proto__"));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
  });

  test("refuses what RFC 8259 does not allow", () => {
    const bad = [
      "",
      " ",
      "01",
      "1.",
      ".5",
      "+1",
      "1e",
      "-",
      "- 1",
      "0x10",
      "NaN",
      "Infinity",
      "1E400",
      "tru",
      "nul",
      "'a'",
      '"a',
      '"\\x41"',
      '"\\u00G0"',
      '"tab\there"',
      '"nl\nhere"',
      "[1,]",
      "[,1]",
      "[1 2]",
      '{"a":1,}',
      '{"a" 1}',
      "{a:1}",
      '{"a":1',
      "[1",
      "{} {}",
      "/* c */ {}",
      "\u00a0{}",
    ];
    for (const text of bad) assert.throws(() => parseStrictJson(text), malformed(), JSON.stringify(text));
  });

  test("bounds: byte-order mark, size, depth, UTF-8", () => {
    assert.throws(() => parseStrictJson("\ufeff{}"), /byte-order mark/);
    assert.throws(() => parseStrictJson(`"${"a".repeat(MAX_POLICY_TEXT)}"`), malformed("too-large"));
    const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    assert.doesNotThrow(() => parseStrictJson(deep(MAX_POLICY_DEPTH + 1)));
    assert.throws(() => parseStrictJson(deep(MAX_POLICY_DEPTH + 2)), malformed("too-deep"));
    assert.throws(() => parseStrictJson(deep(100_000)), malformed("too-deep"));
    assert.throws(() => parseStrictJson(Uint8Array.of(0x22, 0xc3, 0x22)), /not UTF-8/);
    assert.deepEqual(parseStrictJson(new TextEncoder().encode('{"é":"ü"}')), { é: "ü" });
    assert.throws(() => parseStrictJson(Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d)), /byte-order mark/);
  });

  test("property: agrees with JSON.parse on JSON text, compact and indented", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom(0, 2, "\t"), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        assert.deepEqual(parseStrictJson(text), JSON.parse(text));
      }),
      { numRuns: 400 },
    );
  });

  test("property: any string or byte string yields a value JSON.parse agrees with, or MalformedError", () => {
    const check = (input: string | Uint8Array) => {
      let value: unknown;
      try {
        value = parseStrictJson(input);
      } catch (error) {
        assert.ok(error instanceof MalformedError, `not a MalformedError: ${String(error)}`);
        return;
      }
      const text = typeof input === "string" ? input : new TextDecoder().decode(input);
      assert.deepEqual(value, JSON.parse(text));
    };
    fc.assert(fc.property(fc.string({ unit: "binary" }), check), { numRuns: 500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), check), { numRuns: 500 });
    // Mutations of valid JSON text: one character replaced, inserted or deleted.
    fc.assert(
      fc.property(
        fc.json(),
        fc.nat(),
        fc.constantFrom("replace", "insert", "delete"),
        fc.constantFrom(...'{}[],:"\\0123456789-+.eE tfn u'),
        (text, at, op, ch) => {
          const i = at % (text.length + 1);
          const mutated =
            op === "replace"
              ? text.slice(0, i) + ch + text.slice(i + 1)
              : op === "insert"
                ? text.slice(0, i) + ch + text.slice(i)
                : text.slice(0, i) + text.slice(i + 1);
          check(mutated);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
