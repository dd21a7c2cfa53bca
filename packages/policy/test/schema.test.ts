/**
 * docs/policy.schema.json, the JSON Schema shipped for editors, against the
 * validator (which is normative): both accept the example policies, both
 * refuse what a schema can express, and the schema names every member the
 * validator knows, and no other.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { PolicyError, parsePolicy, parsePolicyJson } from "../src/index.js";
import { clone, devPolicyJson, type JsonDoc, productionPolicyJson, setPath } from "./support/fixtures.js";
import { schemaError, schemaPaths } from "./support/mini-schema.js";

const SCHEMA = JSON.parse(readFileSync("docs/policy.schema.json", "utf8")) as Record<string, unknown>;
const EXAMPLES_DIR = "docs/examples";

function examples(): [string, JsonDoc][] {
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.startsWith("policy-") && f.endsWith(".json"));
  return [
    ["productionPolicyJson()", productionPolicyJson()],
    ["devPolicyJson()", devPolicyJson()],
    ...files.map((f): [string, JsonDoc] => [
      f,
      JSON.parse(readFileSync(path.join(EXAMPLES_DIR, f), "utf8")) as JsonDoc,
    ]),
  ];
}

/** Every member path of a document (array elements as "[]"), skipping the members of name-keyed maps. */
function documentPaths(value: unknown, prefix = ""): string[] {
  const out: string[] = [];
  if (Array.isArray(value)) for (const v of value) out.push(...documentPaths(v, `${prefix}[]`));
  else if (typeof value === "object" && value !== null) {
    if (/(^|\.)(sha256|engineBinaries|models)$/.test(prefix)) return out;
    for (const [k, v] of Object.entries(value)) {
      const p = prefix === "" ? k : `${prefix}.${k}`;
      out.push(p, ...documentPaths(v, p));
    }
  }
  return out;
}

describe("docs/policy.schema.json", () => {
  test("names exactly the members the validator knows", () => {
    const fromSchema = new Set(schemaPaths(SCHEMA));
    // allowInsecure and launch.access, the optional members, are in no example's document: add them.
    const optional = ["allowInsecure", "launch.access", "launch.access.requireSealed", "launch.access.requireApiKey"];
    const fromDocument = new Set([...documentPaths(productionPolicyJson()), ...optional]);
    assert.deepEqual([...fromSchema].sort(), [...fromDocument].sort());
  });

  test("the example policies in docs/examples validate against the schema and the validator", () => {
    const all = examples();
    assert.ok(all.length >= 3, "docs/examples holds at least one policy");
    for (const [name, doc] of all) {
      assert.equal(schemaError(SCHEMA, doc), null, name);
      parsePolicy(doc);
    }
  });

  test("both refuse what the schema can express", () => {
    const H = (c: string, n = 64) => c.repeat(n);
    const cases: [readonly (string | number)[], unknown][] = [
      [["version"], 2],
      [["development"], "yes"],
      [["extra"], 1],
      [["trust", "ekRoots"], []],
      [["trust", "akProof"], "none"],
      [["boot", "sha256"], {}],
      [["boot", "sha256", "24"], H("a")],
      [["boot", "sha256", "01"], H("a")],
      [["boot", "sha256", "1"], H("A")],
      [["launch", "pcr"], 16],
      [["launch", "codeBundle"], H("a", 63)],
      [["launch", "configuration"], []],
      [
        ["launch", "runtime"],
        [H("a"), H("a")],
      ],
      [["launch", "models"], []],
      [["launch", "engineBinaries", ""], H("a")],
      [["freshness", "maxAgeSeconds"], 0],
      [["freshness", "minNonceBytes"], 8],
      [
        ["channel", "modes"],
        ["sealed", "sealed"],
      ],
      [["channel", "modes"], ["tcp"]],
      [["launch", "access"], { requireSealed: false, requireApiKey: "any" }],
      [["launch", "access"], { requireSealed: true }],
    ];
    for (const [p, value] of cases) {
      const doc = productionPolicyJson();
      setPath(doc, p, value);
      assert.notEqual(schemaError(SCHEMA, doc), null, `schema accepted ${p.join(".")} = ${JSON.stringify(value)}`);
      assert.throws(() => parsePolicy(doc), PolicyError, p.join("."));
    }
  });

  test("property: whatever the schema refuses, the validator refuses too", () => {
    const base = productionPolicyJson();
    const leaves: (string | number)[][] = [
      ["version"],
      ["development"],
      ["description"],
      ["trust", "akProof"],
      ["boot", "sha256"],
      ["boot", "sha256", "0"],
      ["launch", "pcr"],
      ["launch", "codeBundle"],
      ["launch", "runtime"],
      ["launch", "models"],
      ["freshness", "maxAgeSeconds"],
      ["freshness", "minNonceBytes"],
      ["channel", "modes"],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...leaves), fc.jsonValue({ maxDepth: 2 }), (p, value) => {
        const doc = clone(base);
        setPath(doc, p, value);
        if (schemaError(SCHEMA, doc) !== null) assert.throws(() => parsePolicyJson(JSON.stringify(doc)), PolicyError);
      }),
      { numRuns: 400 },
    );
  });
});
