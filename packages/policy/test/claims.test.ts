/**
 * The claim builder every evaluator shares (claims.ts): claim shape, the
 * description of a rule's alternatives, and the allow-list check (every
 * reported item listed and matching, every listed item reported).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type Alternatives, allows, ClaimList, describeAlternatives } from "../src/claims.js";
import { ANY } from "../src/document.js";

const hexValue = fc.constantFrom("aa", "bb", "cc", "dd");
const spec = fc.oneof(
  fc.constant(ANY),
  hexValue,
  fc.uniqueArray(hexValue, { minLength: 1, maxLength: 3 }).map((a) => a as readonly string[]),
);

describe("describeAlternatives and allows", () => {
  test("one value, a list, any", () => {
    assert.equal(describeAlternatives("aa"), "aa");
    assert.equal(describeAlternatives(["aa"]), "aa");
    assert.equal(describeAlternatives(["aa", "bb"]), "one of aa, bb");
    assert.equal(describeAlternatives(ANY), ANY);
    assert.ok(allows(ANY, "zz"));
    assert.ok(allows(["aa", "bb"], "bb"));
    assert.ok(!allows(["aa", "bb"], "cc"));
    assert.ok(!allows("aa", "AA"), "hex is compared exactly (lower case)");
  });
});

describe("ClaimList", () => {
  test("a claim has its section's path, no code when it passes, and is frozen", () => {
    const claims = new ClaimList("snp");
    claims.add("measurement", "m", "aa", "aa", true, "measurement-mismatch");
    claims.add("vmpl", "v", "0", "1", false, "tee-attribute-not-allowed");
    const [pass, fail] = claims.claims;
    assert.deepEqual(pass, { path: "snp.measurement", name: "m", expected: "aa", actual: "aa", ok: true, code: null });
    assert.equal(fail!.code, "tee-attribute-not-allowed");
    assert.ok(Object.isFrozen(claims.claims) && Object.isFrozen(pass));
    assert.equal(new ClaimList().claims.length, 0);
    const full = new ClaimList();
    full.digest("launch.codeBundle", "code bundle", ["aa", "bb"], "cc");
    assert.deepEqual(full.claims[0], {
      path: "launch.codeBundle",
      name: "code bundle",
      expected: "one of aa, bb",
      actual: "cc",
      ok: false,
      code: "measurement-mismatch",
    });
  });

  test("allow-list: an unlisted item is unexpected, a listed absent one missing, the rest matched", () => {
    const claims = new ClaimList("nvidia");
    claims.allowList({
      listed: new Map<number, Alternatives>([
        [1, "aa"],
        [2, ["bb", "cc"]],
        [3, ANY],
      ]),
      reported: [
        [2, "dd"],
        [4, "aa"],
        [1, "aa"],
      ],
      member: (i) => `measurements["${i}"]`,
      name: (i) => `m ${i}`,
      unlisted: "not listed",
      absent: "not reported",
    });
    assert.deepEqual(
      claims.claims.map((c) => [c.path, c.expected, c.actual, c.code]),
      [
        ['nvidia.measurements["2"]', "one of bb, cc", "dd", "measurement-mismatch"],
        ['nvidia.measurements["4"]', "not listed", "aa", "measurement-unexpected"],
        ['nvidia.measurements["1"]', "aa", "aa", null],
        // Even an "any" entry must be reported: it names an item the evidence has to carry.
        ['nvidia.measurements["3"]', ANY, "not reported", "measurement-missing"],
      ],
    );
  });

  test("allow-list without `absent`: listed items may be absent", () => {
    const claims = new ClaimList();
    claims.allowList({
      listed: new Map([["a.node", "aa"]]),
      reported: [],
      member: (n) => n,
      name: (n) => n,
      unlisted: "nothing",
    });
    assert.equal(claims.claims.length, 0);
  });

  test("property: the allow-list passes exactly when every reported item is listed and allowed, and every listed one reported", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom("1", "2", "3", "4"), spec),
        fc.array(fc.tuple(fc.constantFrom("1", "2", "3", "4", "5"), hexValue), { maxLength: 6 }),
        fc.boolean(),
        (listedObject, reported, strict) => {
          const listed = new Map<string, Alternatives>(Object.entries(listedObject));
          const claims = new ClaimList("p");
          claims.allowList({
            listed,
            reported,
            member: (k) => k,
            name: (k) => `item ${k}`,
            unlisted: "not listed",
            ...(strict ? { absent: "absent" } : {}),
          });
          const out = claims.claims;
          const reportedKeys = new Set<string>(reported.map(([k]) => k));
          const missing = strict ? [...listed.keys()].filter((k) => !reportedKeys.has(k)) : [];
          assert.equal(out.length, reported.length + missing.length);
          const expectOk =
            reported.every(([k, v]) => listed.has(k) && allows(listed.get(k)!, v)) && missing.length === 0;
          assert.equal(
            out.every((c) => c.ok),
            expectOk,
          );
          for (const c of out) {
            assert.equal(c.ok, c.code === null);
            assert.ok(Object.isFrozen(c));
            assert.ok(
              c.ok ||
                ["measurement-unexpected", "measurement-mismatch", "measurement-missing"].includes(String(c.code)),
            );
          }
        },
      ),
    );
  });
});
