/**
 * The policy's `platform.azureVtpm` member: required in every policy
 * ("none" or Azure rules, validated in place with their paths), and, when
 * rules are given, the document must carry verified Azure vTPM evidence
 * (the real development attestation of the fixtures has none).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { evaluate, NO_PLATFORM_EVIDENCE, PolicyError, parsePolicy } from "../src/index.js";
import { deletePath, devPolicyJson, NOW, setPath, verifiedFixture } from "./support/fixtures.js";

const RULES = {
  platforms: ["snp"],
  secureBoot: "required",
  tpmEnabled: "required",
  allowConsole: false,
  snp: "any",
  tdx: "any",
};

const invalid = (path: string) => (e: unknown) =>
  e instanceof PolicyError && e.code === "invalid-policy" && e.message.includes(`${path}:`);

describe("platform.azureVtpm", () => {
  test("every policy names it: absent is refused, 'none' and rules are accepted", () => {
    assert.equal(NO_PLATFORM_EVIDENCE.azureVtpm, "none");
    const doc = devPolicyJson();
    assert.equal(parsePolicy(doc).platform.azureVtpm, "none");
    deletePath(doc, ["platform", "azureVtpm"]);
    assert.throws(() => parsePolicy(doc), invalid("platform.azureVtpm"));
    setPath(doc, ["platform", "azureVtpm"], RULES);
    assert.deepEqual(parsePolicy(doc).platform.azureVtpm, RULES);
  });

  test("its rules are validated strictly, errors naming the member's path", () => {
    const cases: [string, unknown, string][] = [
      ["not an object", "required", "platform.azureVtpm"],
      ["bad secureBoot", { ...RULES, secureBoot: "on" }, "platform.azureVtpm.secureBoot"],
      ["unknown platform", { ...RULES, platforms: ["sgx"] }, "platform.azureVtpm.platforms[0]"],
      ["missing allowConsole", { ...RULES, allowConsole: undefined }, "platform.azureVtpm.allowConsole"],
      ["bad snp section", { ...RULES, snp: {} }, "platform.azureVtpm.snp"],
    ];
    for (const [name, value, path] of cases) {
      const doc = devPolicyJson();
      setPath(doc, ["platform", "azureVtpm"], JSON.parse(JSON.stringify(value)));
      assert.throws(
        () => parsePolicy(doc),
        (e: unknown) => e instanceof PolicyError && e.message.includes(path),
        name,
      );
    }
  });

  test("required against a document without Azure evidence: platform-evidence-missing naming it", async () => {
    const doc = devPolicyJson();
    setPath(doc, ["platform", "azureVtpm"], RULES);
    const verified = await verifiedFixture();
    assert.throws(
      () => evaluate(verified, parsePolicy(doc), { now: NOW }),
      (e: unknown) =>
        e instanceof PolicyError && e.code === "platform-evidence-missing" && e.claim?.path === "platform.azureVtpm",
    );
    // Not required and absent: no claim at all.
    const appraisal = evaluate(verified, parsePolicy(devPolicyJson()), { now: NOW });
    assert.equal(
      appraisal.claims.find((c) => c.path === "platform.azureVtpm"),
      undefined,
    );
  });
});
