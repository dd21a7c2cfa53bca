/**
 * Policy evaluation against a real verified attestation (a development
 * server's, see fixtures/dev-attestation.json): it passes under the policy
 * made from its reference values, and every rule has a one-field negative
 * test — change one value of the policy, and exactly that claim fails, with
 * its code, and an error naming the measurement with expected and actual.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bytesEqual, fromHex } from "@veritee/core";
import { type JsonValue, verifyAttestationDocument } from "@veritee/evidence";
import fc from "fast-check";
import {
  type Appraisal,
  assertChannelModeAllowed,
  DEVELOPMENT_POLICY_WARNING,
  developmentIndicators,
  evaluate,
  formatAppraisal,
  launchEnvironmentOf,
  type Policy,
  type PolicyCode,
  PolicyError,
  parsePolicy,
  recordedAccess,
  verificationInputs,
} from "../src/index.js";
import {
  deletePath,
  devPolicyJson,
  FIXTURE,
  getPath,
  googleRootPem,
  type JsonDoc,
  NOW,
  productionPolicyJson,
  setPath,
  VERIFIED_AT,
  verifiedFixture,
} from "./support/fixtures.js";

type Key = string | number;
const H = (c: string) => c.repeat(64);
const RV = FIXTURE.referenceValues;
const BINARIES = Object.keys(RV.launch.engineBinaries);
const MODEL = Object.keys(RV.launch.models)[0]!;

function policyWith(...edits: [readonly Key[], unknown][]): Policy {
  const doc = devPolicyJson();
  for (const [path, value] of edits) setPath(doc, path, value);
  return parsePolicy(doc);
}

/** Evaluate, expecting exactly one failed claim with `code` at `path`; returns the error. */
async function failsOnly(policy: Policy, code: PolicyCode, path: string, now = NOW): Promise<PolicyError> {
  const verified = await verifiedFixture();
  let caught: unknown;
  try {
    evaluate(verified, policy, { now });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof PolicyError, `expected a PolicyError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.kind, "policy");
  const appraisal = caught.appraisal!;
  assert.equal(appraisal.verdict, "fail");
  const failed = appraisal.claims.filter((c) => !c.ok);
  assert.deepEqual(
    failed.map((c) => [c.path, c.code]),
    [[path, code]],
    "exactly the changed claim fails",
  );
  assert.equal(caught.claim, failed[0]);
  // The message names the measurement, the expected value and the actual value.
  const claim = failed[0]!;
  assert.ok(caught.message.includes(claim.name), caught.message);
  assert.ok(caught.message.includes(`expected ${claim.expected}`), caught.message);
  assert.ok(caught.message.includes(`actual ${claim.actual}`), caught.message);
  return caught;
}

describe("evaluate: a development server under its development policy", () => {
  test("passes, marked INSECURE, with every claim listed", async () => {
    const verified = await verifiedFixture();
    const appraisal = evaluate(verified, parsePolicy(devPolicyJson()), { now: NOW });
    assert.equal(appraisal.verdict, "pass");
    assert.equal(appraisal.insecure, true);
    assert.equal(appraisal.warning, DEVELOPMENT_POLICY_WARNING);
    assert.equal(appraisal.developmentServer, true);
    assert.equal(appraisal.evaluatedAt, NOW.toISOString());
    const paths = appraisal.claims.map((c) => c.path);
    const expected = [
      "development",
      "trust.ekRoots",
      "trust.akProof",
      "freshness.maxAgeSeconds",
      "freshness.minNonceBytes",
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `boot.sha256["${i}"]`),
      "launch.pcr",
      "launch.codeBundle",
      "launch.configuration",
      "launch.runtime",
      ...BINARIES.map((b) => `launch.engineBinaries[${JSON.stringify(b)}]`),
      `launch.models.${MODEL}`,
    ];
    assert.deepEqual(paths, expected);
    assert.ok(appraisal.claims.every((c) => c.ok && c.code === null));
    const code = appraisal.claims.find((c) => c.path === "launch.codeBundle")!;
    assert.equal(code.expected, RV.launch.codeBundle);
    assert.equal(code.actual, RV.launch.codeBundle);
    assert.ok(Object.isFrozen(appraisal) && Object.isFrozen(appraisal.claims) && Object.isFrozen(code));
  });

  test("a plain (unvalidated) policy object is validated on the way in", async () => {
    const verified = await verifiedFixture();
    const plain = devPolicyJson() as unknown as Policy;
    assert.equal(evaluate(verified, plain, { now: NOW }).verdict, "pass");
    setPath(plain, ["launch", "pcr"], "15");
    assert.throws(
      () => evaluate(verified, plain, { now: NOW }),
      (e: unknown) => e instanceof PolicyError && e.code === "invalid-policy",
    );
  });

  test("refuses anything but a VerifiedAttestation: decoded or copied evidence cannot be fed to policy", async () => {
    const verified = await verifiedFixture();
    const policy = parsePolicy(devPolicyJson());
    const copy = Object.assign(Object.create(Object.getPrototypeOf(verified)), verified);
    for (const fake of [copy, { ...verified }, FIXTURE.document, null]) {
      assert.throws(() => evaluate(fake as typeof verified, policy, { now: NOW }), TypeError);
    }
    assert.throws(() => evaluate(verified, policy, { now: new Date(Number.NaN) }), RangeError);
  });

  test("development indicators: swtpm model, local CA, swtpm-dev configuration, zero firmware PCRs", async () => {
    const reasons = developmentIndicators(await verifiedFixture());
    assert.equal(reasons.length, 4);
    assert.match(reasons.join("; "), /tpmModel|TPM model swtpm/);
    assert.match(reasons.join("; "), /swtpm local CA/);
    assert.match(reasons.join("; "), /swtpm-dev/);
    assert.match(reasons.join("; "), /boot PCR 0, 1, 2, 3, 4, 5, 6, 7 are zero/);
  });
});

describe("evaluate: one changed reference value fails exactly its claim", () => {
  test("code bundle (a server built from modified code)", async () => {
    const e = await failsOnly(
      policyWith([["launch", "codeBundle"], H("c")]),
      "measurement-mismatch",
      "launch.codeBundle",
    );
    assert.match(e.message, new RegExp(`code bundle: expected ${H("c")}, actual ${RV.launch.codeBundle}`));
  });

  test("configuration", async () => {
    await failsOnly(policyWith([["launch", "configuration"], H("d")]), "measurement-mismatch", "launch.configuration");
  });

  test("runtime", async () => {
    await failsOnly(policyWith([["launch", "runtime"], H("e")]), "measurement-mismatch", "launch.runtime");
  });

  test("each engine binary", async () => {
    for (const name of BINARIES) {
      await failsOnly(
        policyWith([["launch", "engineBinaries", name], H("f")]),
        "measurement-mismatch",
        `launch.engineBinaries[${JSON.stringify(name)}]`,
      );
    }
  });

  test("the model, by digest", async () => {
    await failsOnly(
      policyWith([["launch", "models", MODEL], H("1")]),
      "measurement-mismatch",
      `launch.models.${MODEL}`,
    );
  });

  test("each boot PCR", async () => {
    for (let i = 0; i < 8; i++) {
      await failsOnly(
        policyWith([["boot", "sha256", String(i)], H("2")]),
        "measurement-mismatch",
        `boot.sha256["${i}"]`,
      );
    }
  });

  test("the application PCR number", async () => {
    await failsOnly(policyWith([["launch", "pcr"], 14]), "measurement-mismatch", "launch.pcr");
  });

  test("the EK root: another root CA", async () => {
    const e = await failsOnly(
      policyWith([["trust", "ekRoots"], [{ name: "Google vTPM EK root", pem: googleRootPem() }]]),
      "untrusted-root",
      "trust.ekRoots",
    );
    assert.match(
      e.message,
      /expected Google vTPM EK root, actual a root the policy does not name \(CN=swtpm-localca-rootca\)/,
    );
  });

  test("the EK root is matched by certificate, not by name", async () => {
    const policy = policyWith([["trust", "ekRoots", 0, "name"], "my swtpm"]);
    const appraisal = evaluate(await verifiedFixture(), policy, { now: NOW });
    assert.equal(appraisal.claims.find((c) => c.path === "trust.ekRoots")!.actual, "my swtpm");
  });

  test("AK residency: required but only verified, not activated", async () => {
    const e = await failsOnly(
      policyWith([["trust", "akProof"], "credential-activation"]),
      "ak-residency-unproven",
      "trust.akProof",
    );
    assert.match(e.message, /expected credential-activation, actual unproven/);
  });

  test("freshness: too old, and from the future", async () => {
    const policy = policyWith([["freshness", "maxAgeSeconds"], 60]);
    const verified = await verifiedFixture();
    evaluate(verified, policy, { now: new Date(VERIFIED_AT.getTime() + 60_000) });
    await failsOnly(policy, "attestation-stale", "freshness.maxAgeSeconds", new Date(VERIFIED_AT.getTime() + 60_001));
    const future = await failsOnly(
      policy,
      "attestation-stale",
      "freshness.maxAgeSeconds",
      new Date(VERIFIED_AT.getTime() - 1),
    );
    assert.match(future.message, /in the future/);
  });

  test("freshness: a nonce shorter than required", async () => {
    const e = await failsOnly(
      policyWith([["freshness", "minNonceBytes"], 48]),
      "nonce-too-short",
      "freshness.minNonceBytes",
    );
    assert.match(e.message, /expected at least 48 bytes, actual 32 bytes/);
  });
});

describe("evaluate: fail closed on measurements the policy does not mention", () => {
  test("an engine binary the policy does not list", async () => {
    const doc = devPolicyJson();
    deletePath(doc, ["launch", "engineBinaries", BINARIES[0]!]);
    await failsOnly(
      parsePolicy(doc),
      "measurement-unexpected",
      `launch.engineBinaries[${JSON.stringify(BINARIES[0])}]`,
    );
  });

  test("engine binaries are an allow-list: listed files the server did not load are fine", async () => {
    const policy = policyWith([
      ["launch", "engineBinaries", "@node-llama-cpp/linux-x64/bins/linux-x64/libggml-cpu-x99.so"],
      H("3"),
    ]);
    assert.equal(evaluate(await verifiedFixture(), policy, { now: NOW }).verdict, "pass");
  });

  test("a model the policy does not list, and a listed model the server does not serve", async () => {
    const doc = devPolicyJson();
    setPath(doc, ["launch", "models"], { "other-model": RV.launch.models[MODEL] });
    const verified = await verifiedFixture();
    let caught: unknown;
    try {
      evaluate(verified, parsePolicy(doc), { now: NOW });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof PolicyError && caught.code === "measurement-unexpected");
    assert.deepEqual(
      caught.appraisal!.claims.filter((c) => !c.ok).map((c) => [c.path, c.code, c.actual]),
      [
        [`launch.models.${MODEL}`, "measurement-unexpected", RV.launch.models[MODEL]],
        ['launch.models["other-model"]', "measurement-missing", "not measured"],
      ],
    );
    assert.match(caught.message, /1 more claim failed/);
    const extra = devPolicyJson();
    setPath(extra, ["launch", "models", "other-model"], H("4"));
    await failsOnly(parsePolicy(extra), "measurement-missing", 'launch.models["other-model"]');
  });

  test("a quoted boot PCR the policy does not list, and a listed PCR that was not quoted", async () => {
    const doc = devPolicyJson();
    deletePath(doc, ["boot", "sha256", "3"]);
    await failsOnly(parsePolicy(doc), "measurement-unexpected", 'boot.sha256["3"]');
    await failsOnly(policyWith([["boot", "sha256", "9"], H("0")]), "measurement-missing", 'boot.sha256["9"]');
  });

  test('"any" skips exactly the check it replaces', async () => {
    const verified = await verifiedFixture();
    const anyEverywhere = devPolicyJson();
    setPath(anyEverywhere, ["boot", "sha256"], "any");
    for (const f of ["codeBundle", "configuration", "runtime", "engineBinaries", "models"]) {
      setPath(anyEverywhere, ["launch", f], "any");
    }
    const appraisal = evaluate(verified, parsePolicy(anyEverywhere), { now: NOW });
    assert.equal(appraisal.verdict, "pass");
    const codeClaim = appraisal.claims.find((c) => c.path === "launch.codeBundle")!;
    assert.deepEqual([codeClaim.expected, codeClaim.actual], ["any", RV.launch.codeBundle]);
    assert.equal(appraisal.claims.filter((c) => c.path.startsWith("boot.")).length, 8, "values are still reported");
    assert.equal(appraisal.claims.filter((c) => c.path.startsWith("launch.engineBinaries")).length, BINARIES.length);
  });

  test("lists of allowed digests", async () => {
    const verified = await verifiedFixture();
    const ok = policyWith([
      ["launch", "codeBundle"],
      [H("9"), RV.launch.codeBundle],
    ]);
    assert.equal(evaluate(verified, ok, { now: NOW }).verdict, "pass");
    const e = await failsOnly(
      policyWith([
        ["launch", "codeBundle"],
        [H("9"), H("8")],
      ]),
      "measurement-mismatch",
      "launch.codeBundle",
    );
    assert.match(e.message, new RegExp(`expected one of ${H("9")}, ${H("8")}`));
  });

  test("property: any one changed launch or boot digest fails that claim and only that one", async () => {
    const base = devPolicyJson();
    const fields: Key[][] = [
      ["launch", "codeBundle"],
      ["launch", "configuration"],
      ["launch", "runtime"],
      ...BINARIES.map((b) => ["launch", "engineBinaries", b]),
      ["launch", "models", MODEL],
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => ["boot", "sha256", String(i)]),
    ];
    const verified = await verifiedFixture();
    fc.assert(
      fc.property(
        fc.constantFrom(...fields),
        fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex")),
        (field, digest) => {
          fc.pre(digest !== getPath(base, field));
          const doc = JSON.parse(JSON.stringify(base)) as JsonDoc;
          setPath(doc, field, digest);
          try {
            evaluate(verified, parsePolicy(doc), { now: NOW });
            assert.fail("accepted a changed reference value");
          } catch (error) {
            assert.ok(error instanceof PolicyError && error.code === "measurement-mismatch");
            assert.equal(error.appraisal!.claims.filter((c) => !c.ok).length, 1);
            assert.ok(error.message.includes(digest));
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("evaluate: a development server against a production policy", () => {
  test("is refused with development-policy-required, the first claim", async () => {
    const doc = productionPolicyJson();
    setPath(doc, ["trust", "akProof"], "any");
    setPath(doc, ["allowInsecure"], ["akProof"]);
    setPath(doc, ["freshness", "maxAgeSeconds"], 86_400);
    const verified = await verifiedFixture();
    let caught: unknown;
    try {
      evaluate(verified, parsePolicy(doc), { now: NOW });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof PolicyError);
    assert.equal(caught.code, "development-policy-required");
    assert.equal(caught.claim!.path, "development");
    assert.match(caught.message, /platform: expected a production TPM, actual a development TPM: /);
    const appraisal = caught.appraisal as Appraisal;
    // Not a development policy, but its "any" rules make it insecure all the same.
    assert.equal(appraisal.insecure, true);
    assert.deepEqual(
      appraisal.insecureReasons.map((r) => r.path),
      ["trust.akProof", 'boot.sha256["2"]', "launch.runtime"],
    );
    assert.match(appraisal.warning!, /^INSECURE POLICY/);
    assert.equal(appraisal.developmentServer, true);
    // The fixture's server predates recording its launch environment: a production policy cannot accept that.
    const environment = appraisal.claims.find((c) => c.path === "launch.configuration.launchEnvironment");
    assert.equal(environment?.ok, false);
    assert.equal(environment?.code, "loader-environment");
    assert.match(environment!.actual, /^not recorded/);
  });

  test("a development policy makes no launch-environment claim", async () => {
    const appraisal = evaluate(await verifiedFixture(), parsePolicy(devPolicyJson()), { now: NOW });
    assert.ok(!appraisal.claims.some((c) => c.path === "launch.configuration.launchEnvironment"));
  });
});

describe("launchEnvironmentOf", () => {
  test("empty only for no flags and no variables; names, never values, otherwise", () => {
    const of = (launchEnvironment: JsonValue | undefined) =>
      launchEnvironmentOf(launchEnvironment === undefined ? {} : { launchEnvironment });
    assert.deepEqual(of({ execArgv: [], env: {} }), { empty: true, description: "none" });
    assert.deepEqual(of({ execArgv: ["--import", "/x/evil.mjs"], env: { LD_PRELOAD: "/x/evil.so" } }), {
      empty: false,
      description: "2 Node.js flag(s); variables LD_PRELOAD",
    });
    assert.equal(of(undefined).empty, false);
    assert.equal(of(null).empty, false);
    assert.equal(of([]).empty, false);
    assert.equal(of({ execArgv: [] }).empty, false);
    assert.equal(of({ execArgv: {}, env: {} }).empty, false);
    assert.equal(of({ execArgv: [], env: [] }).empty, false);
  });
});

describe("verificationInputs and channel modes", () => {
  test("the policy's roots, intermediates and PCR selection verify the fixture", async () => {
    const policy = parsePolicy(devPolicyJson());
    const inputs = verificationInputs(policy);
    assert.equal(inputs.appPcr, 15);
    assert.deepEqual(inputs.bootPcrs, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(inputs.ekRoots.length, 1);
    const verified = await verifyAttestationDocument(FIXTURE.document, {
      nonce: fromHex(FIXTURE.nonce),
      at: VERIFIED_AT,
      ...inputs,
    });
    assert.ok(bytesEqual(verified.ekChain.anchor.der, inputs.ekRoots[0]!));
    assert.equal(evaluate(verified, policy, { now: NOW }).verdict, "pass");
  });

  test("the verifier always requires PCRs 0–7, plus any other PCR the policy lists", () => {
    assert.deepEqual(verificationInputs(policyWith([["boot", "sha256"], "any"])).bootPcrs, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(
      verificationInputs(policyWith([["boot", "sha256", "12"], H("1")])).bootPcrs,
      [0, 1, 2, 3, 4, 5, 6, 7, 12],
    );
    // A production policy listing only some firmware PCRs still gets the others verified, and so refused.
    const production = parsePolicy(productionPolicyJson());
    assert.deepEqual(verificationInputs(production).bootPcrs, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(verificationInputs(production).ekIntermediates.length, 2);
  });

  test("assertChannelModeAllowed", () => {
    const sealedOnly = policyWith([["channel", "modes"], ["sealed"]]);
    assertChannelModeAllowed(sealedOnly, "sealed");
    assert.throws(
      () => assertChannelModeAllowed(sealedOnly, "attested-tls"),
      (e: unknown) => e instanceof PolicyError && e.code === "channel-mode-not-allowed" && e.kind === "policy",
    );
  });
});

describe("formatAppraisal", () => {
  test("labels a development policy INSECURE and marks claims ✓ and ✗ with expected and actual", async () => {
    const verified = await verifiedFixture();
    const pass = formatAppraisal(evaluate(verified, parsePolicy(devPolicyJson()), { now: NOW }));
    assert.ok(pass.startsWith(`⚠ ${DEVELOPMENT_POLICY_WARNING}`));
    assert.match(pass, /✓ code bundle +[0-9a-f]{64}/);
    // Each reason under the label: the development policy, and its AK proof "any".
    assert.match(pass, /\n {2}- development: a development policy[^\n]*\n {2}- trust\.akProof: the AK is not proven/);
    assert.match(pass, /PASS: \d+ claims checked \(INSECURE: development policy; trust\.akProof accepts anything\)/);
    let caught: PolicyError | undefined;
    try {
      evaluate(verified, policyWith([["launch", "codeBundle"], H("c")]), { now: NOW });
    } catch (error) {
      caught = error as PolicyError;
    }
    const fail = formatAppraisal(caught!.appraisal!);
    assert.match(
      fail,
      new RegExp(
        `✗ code bundle \\(measurement-mismatch\\)\\n    expected ${H("c")}\\n    actual   ${RV.launch.codeBundle}`,
      ),
    );
    assert.match(fail, /FAIL: 1 of \d+ claims failed/);
    assert.match(formatAppraisal(caught!.appraisal!, { verbose: true }), /✓ configuration\n {4}expected/);
  });
});

describe("evaluate: launch.access", () => {
  test('"any" for both passes and records what the configuration says', async () => {
    const appraisal = evaluate(
      await verifiedFixture(),
      policyWith([["launch", "access"], { requireSealed: "any", requireApiKey: "any" }]),
      { now: NOW },
    );
    const access = appraisal.claims.filter((c) => c.path.startsWith("launch.access."));
    assert.deepEqual(
      access.map((c) => [c.path, c.expected, c.ok]),
      [
        ["launch.access.requireSealed", "any", true],
        ["launch.access.requireApiKey", "any", true],
      ],
    );
    // The fixture's server predates recording its access control.
    assert.match(access[0]!.actual, /^not recorded/);
  });

  test("a demand fails on a configuration that does not record it, even under configuration any", async () => {
    for (const member of ["requireSealed", "requireApiKey"] as const) {
      const rules = { requireSealed: "any", requireApiKey: "any", [member]: true };
      const policy = policyWith([["launch", "access"], rules], [["launch", "configuration"], "any"]);
      const error = await failsOnly(policy, "measurement-mismatch", `launch.access.${member}`);
      assert.match(error.message, /expected true, actual not recorded/);
    }
  });

  test("absent, no access claim is made", async () => {
    const appraisal = evaluate(await verifiedFixture(), parsePolicy(devPolicyJson()), { now: NOW });
    assert.ok(!appraisal.claims.some((c) => c.path.startsWith("launch.access")));
  });
});

describe("recordedAccess", () => {
  test("a boolean when recorded, otherwise undefined", () => {
    const config = { access: { requireSealed: true, requireApiKey: false } };
    assert.equal(recordedAccess(config, "requireSealed"), true);
    assert.equal(recordedAccess(config, "requireApiKey"), false);
    assert.equal(recordedAccess({}, "requireSealed"), undefined);
    assert.equal(recordedAccess({ access: [] }, "requireSealed"), undefined);
    assert.equal(recordedAccess({ access: { requireSealed: "yes" } }, "requireSealed"), undefined);
  });
});
