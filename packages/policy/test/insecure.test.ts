/**
 * Insecure appraisals (insecure.ts): every security-relevant "any" rule marks
 * the appraisal insecure and is listed by path, whatever the verdict; a
 * production policy skips the AK proof only when `allowInsecure` names it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ALLOW_INSECURE_RULES,
  type Appraisal,
  evaluate,
  formatAppraisal,
  insecureReasons,
  insecureSummary,
  PolicyError,
  parsePolicy,
} from "../src/index.js";
import {
  devPolicyJson,
  FIXTURE,
  type JsonDoc,
  NOW,
  productionPolicyJson,
  setPath,
  verifiedFixture,
} from "./support/fixtures.js";

type Key = string | number;

const H = (c: string) => c.repeat(64);
const BINARY = Object.keys(FIXTURE.referenceValues.launch.engineBinaries)[0]!;
const MODEL = Object.keys(FIXTURE.referenceValues.launch.models)[0]!;
/** The one engine file and model `productionPolicyJson` lists. */
const PROD_NAMES: Record<string, string> = {
  engineBinaries: "@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node",
  models: "stories260K",
};

/** A development policy with exact reference values for the fixture, and credential activation off only where asked. */
function exactDev(...edits: [readonly Key[], unknown][]): JsonDoc {
  const doc = devPolicyJson();
  for (const [path, value] of edits) setPath(doc, path, value);
  return doc;
}

/** The appraisal of the fixture under `doc`, passed or carried by the PolicyError. */
async function appraise(doc: JsonDoc): Promise<Appraisal> {
  const verified = await verifiedFixture();
  try {
    return evaluate(verified, parsePolicy(doc), { now: NOW });
  } catch (error) {
    assert.ok(error instanceof PolicyError && error.appraisal !== undefined, String(error));
    return error.appraisal;
  }
}

/** A production policy with the AK proof skipped knowingly. */
function allowedAkAny(): JsonDoc {
  const doc = productionPolicyJson();
  setPath(doc, ["trust", "akProof"], "any");
  setPath(doc, ["allowInsecure"], ["akProof"]);
  return doc;
}

describe('each security-relevant "any" makes the appraisal insecure, listing it', () => {
  const cases: [string, readonly Key[], unknown][] = [
    ["trust.akProof", ["trust", "akProof"], "any"],
    ["boot.sha256", ["boot", "sha256"], "any"],
    ['boot.sha256["4"]', ["boot", "sha256", "4"], "any"],
    ["launch.codeBundle", ["launch", "codeBundle"], "any"],
    ["launch.configuration", ["launch", "configuration"], "any"],
    ["launch.runtime", ["launch", "runtime"], "any"],
    ["launch.engineBinaries", ["launch", "engineBinaries"], "any"],
    [`launch.engineBinaries[${JSON.stringify(BINARY)}]`, ["launch", "engineBinaries", BINARY], "any"],
    ["launch.models", ["launch", "models"], "any"],
    [`launch.models.${MODEL}`, ["launch", "models", MODEL], "any"],
  ];
  for (const [path, at, value] of cases) {
    test(path, async () => {
      // The fixture's exact values, AK proof required, then this one rule set to "any".
      const doc = exactDev([["trust", "akProof"], "credential-activation"], [at, value]);
      const appraisal = await appraise(doc);
      assert.equal(appraisal.insecure, true);
      assert.deepEqual(
        appraisal.insecureReasons.map((r) => r.path),
        ["development", path],
      );
      assert.match(formatAppraisal(appraisal), new RegExp(`\\n  - ${path.replace(/[[\]().*+?^$|\\]/g, "\\$&")}: `));
      // The same rule in a production policy: insecure, without the development reason.
      const prod = productionPolicyJson();
      for (const p of [
        ["boot", "sha256", "2"],
        ["launch", "runtime"],
      ])
        setPath(prod, p, H("9"));
      if (path === "trust.akProof") setPath(prod, ["allowInsecure"], ["akProof"]);
      setPath(
        prod,
        at.length === 3 && at[0] === "launch" ? [...at.slice(0, 2), PROD_NAMES[at[1] as string]!] : at,
        value,
      );
      const prodReasons = insecureReasons(parsePolicy(prod)).map((r) => r.path);
      assert.equal(prodReasons.length, 1, prodReasons.join());
      assert.ok(!prodReasons.includes("development"));
    });
  }

  test("a policy with exact values everywhere is not insecure", async () => {
    const prod = productionPolicyJson();
    for (const p of [
      ["boot", "sha256", "2"],
      ["launch", "runtime"],
    ])
      setPath(prod, p, H("9"));
    assert.deepEqual(insecureReasons(parsePolicy(prod)), []);
    // On a failing appraisal too (the fixture is a development server): not insecure, and no label.
    const appraisal = await appraise(prod);
    assert.equal(appraisal.verdict, "fail");
    assert.equal(appraisal.insecure, false);
    assert.deepEqual(appraisal.insecureReasons, []);
    assert.equal(appraisal.warning, null);
  });

  test("a failing appraisal lists its reasons too", async () => {
    const appraisal = await appraise(allowedAkAny());
    assert.equal(appraisal.verdict, "fail");
    assert.equal(appraisal.insecure, true);
    assert.deepEqual(
      appraisal.insecureReasons.map((r) => r.path),
      ["trust.akProof", 'boot.sha256["2"]', "launch.runtime"],
    );
    assert.match(appraisal.warning!, /^INSECURE POLICY — these security checks accept anything: trust.akProof, /);
    assert.equal(
      insecureSummary(appraisal),
      'INSECURE: trust.akProof, boot.sha256["2"], launch.runtime accept anything',
    );
  });

  test('a platform rule that accepts anything is listed by its path; "none" is not a reason', () => {
    const doc = allowedAkAny();
    setPath(doc, ["platform", "nvidiaGpu"], {
      measurements: "any",
      driverVersion: { minimum: "550.54.14" },
      vbiosVersion: "any",
      nonceBinding: "bound",
      ppcieMode: "any",
    });
    const paths = insecureReasons(parsePolicy(doc)).map((r) => r.path);
    assert.deepEqual(paths.slice(3), [
      "platform.nvidiaGpu.measurements",
      "platform.nvidiaGpu.vbiosVersion",
      "platform.nvidiaGpu.ppcieMode",
    ]);
  });
});

describe("allowInsecure: a production policy skips the AK proof only by naming it", () => {
  test('akProof "any" without allowInsecure is refused with its path', () => {
    const doc = productionPolicyJson();
    setPath(doc, ["trust", "akProof"], "any");
    assert.throws(
      () => parsePolicy(doc),
      (e: unknown) =>
        e instanceof PolicyError &&
        e.code === "invalid-policy" &&
        e.path === "trust.akProof" &&
        /production policy.*allowInsecure/.test(e.message),
    );
  });

  test("with allowInsecure naming it: accepted, and every appraisal insecure", async () => {
    const policy = parsePolicy(allowedAkAny());
    assert.deepEqual(policy.allowInsecure, ["akProof"]);
    assert.equal(insecureReasons(policy)[0]!.path, "trust.akProof");
    // Round trip: the member survives serialisation.
    assert.deepEqual(parsePolicy(JSON.parse(JSON.stringify(policy))), policy);
  });

  test("a development policy needs no allowance, and its appraisal says both reasons", async () => {
    const appraisal = await appraise(devPolicyJson());
    assert.equal(appraisal.verdict, "pass");
    assert.deepEqual(
      appraisal.insecureReasons.map((r) => r.path),
      ["development", "trust.akProof"],
    );
    assert.equal(insecureSummary(appraisal), "INSECURE: development policy; trust.akProof accepts anything");
  });

  test("a bad or stale allowInsecure is refused", () => {
    const bad: [unknown, string, RegExp][] = [
      [[], "allowInsecure", /must not be empty/],
      ["akProof", "allowInsecure", /must be an array/],
      [["akProof", "akProof"], "allowInsecure", /./],
      [["boot"], "allowInsecure[0]", /one of/],
      [[1], "allowInsecure[0]", /./],
    ];
    for (const [value, path, message] of bad) {
      const doc = allowedAkAny();
      setPath(doc, ["allowInsecure"], value);
      assert.throws(
        () => parsePolicy(doc),
        (e: unknown) => e instanceof PolicyError && e.path === path && message.test(e.message),
        JSON.stringify(value),
      );
    }
    // An allowance for a rule that is not skipped.
    const stale = productionPolicyJson();
    setPath(stale, ["allowInsecure"], ["akProof"]);
    assert.throws(
      () => parsePolicy(stale),
      (e: unknown) => e instanceof PolicyError && e.path === "allowInsecure[0]" && /does not skip/.test(e.message),
    );
    assert.deepEqual(ALLOW_INSECURE_RULES, ["akProof"]);
  });
});
