/**
 * The SEV-SNP policy section: strict parsing, and a one-field negative for
 * every rule on reports forged under a test AMD root.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { toHex } from "@veritee/core";
import { type VerifiedSnpReport, verifySnpReport } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import {
  defaultSnpReportFields,
  forgeSnpReport,
  SNP_POLICY,
  SNP_TEST_TCB,
  type SnpReportFields,
  snpTcbValue,
  snpTestPki,
} from "@veritee/testkit/snp";
import { PolicyError } from "../../src/errors.js";
import { evaluateSnp, parseSnpRules, type SnpRules, snpClaims } from "../../src/tee/snp.js";

const AT = new Date("2025-01-01T00:00:00Z");
const pki = snpTestPki("Milan");
const fields = defaultSnpReportFields("Milan");

/** A policy that the default forged report passes, with every check on. */
const STRICT = {
  measurement: toHex(fields.measurement),
  hostData: toHex(fields.hostData),
  reportData: "bound",
  allowDebug: false,
  allowMigrationAgent: false,
  allowSmt: true,
  minimumTcb: { ...SNP_TEST_TCB },
  minimumGuestSvn: fields.guestSvn,
  familyId: toHex(fields.familyId),
  imageId: toHex(fields.imageId),
  vmpl: 0,
  idKeyDigest: toHex(fields.idKeyDigest),
  authorKeyDigest: toHex(fields.authorKeyDigest),
  products: ["Milan", "Genoa"],
};
const ALL_ANY = Object.fromEntries(Object.keys(STRICT).map((k) => [k, k.startsWith("allow") ? true : "any"])) as Record<
  string,
  unknown
>;

async function verified(overrides: Partial<SnpReportFields> = {}): Promise<VerifiedSnpReport> {
  return verifySnpReport({ report: forgeSnpReport(pki, overrides), vcek: pki.vcek, at: AT, roots: pki.roots });
}

function refused(
  rules: SnpRules,
  v: VerifiedSnpReport,
  path: string,
  code: string,
  expectedReportData = fields.reportData,
) {
  assert.throws(
    () => evaluateSnp(rules, v, { expectedReportData }),
    (e: unknown) => {
      assert.ok(e instanceof PolicyError, String(e));
      assert.equal(e.code, code, e.message);
      assert.equal(e.claim?.path, path);
      assert.equal(e.appraisal?.verdict, "fail");
      assert.equal(e.appraisal?.claims.filter((c) => !c.ok).length, 1, "exactly the one changed field fails");
      return true;
    },
  );
}

describe("parseSnpRules", () => {
  it("accepts the strict and the all-any section, deep-frozen", () => {
    const rules = parseSnpRules(STRICT);
    assert.ok(Object.isFrozen(rules));
    assert.ok(Object.isFrozen(rules.minimumTcb));
    assert.deepEqual(rules.vmpl, [0]);
    assert.equal(parseSnpRules(ALL_ANY).measurement, "any");
    assert.deepEqual(parseSnpRules({ ...STRICT, measurement: ["a".repeat(96), "b".repeat(96)] }).measurement, [
      "a".repeat(96),
      "b".repeat(96),
    ]);
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ["a missing member", { ...STRICT, measurement: undefined }, "snp.measurement"],
    ["an unknown member", { ...STRICT, extra: 1 }, 'snp["extra"]'],
    ["upper-case hex", { ...STRICT, measurement: "A".repeat(96) }, "snp.measurement"],
    ["a SHA-256-sized measurement", { ...STRICT, measurement: "a".repeat(64) }, "snp.measurement"],
    ["an empty list", { ...STRICT, hostData: [] }, "snp.hostData"],
    ["a duplicate", { ...STRICT, imageId: ["0".repeat(32), "0".repeat(32)] }, "snp.imageId"],
    ["reportData other than bound/any", { ...STRICT, reportData: true }, "snp.reportData"],
    ["a non-boolean allowDebug", { ...STRICT, allowDebug: "any" }, "snp.allowDebug"],
    ["an SPL above 255", { ...STRICT, minimumTcb: { ...SNP_TEST_TCB, snp: 256 } }, "snp.minimumTcb.snp"],
    [
      "a TCB without fmc",
      { ...STRICT, minimumTcb: { bootloader: 0, tee: 0, snp: 0, microcode: 0 } },
      "snp.minimumTcb.fmc",
    ],
    ["VMPL 4", { ...STRICT, vmpl: 4 }, "snp.vmpl"],
    ["a negative guest SVN", { ...STRICT, minimumGuestSvn: -1 }, "snp.minimumGuestSvn"],
    ["an unknown product", { ...STRICT, products: ["Naples"] }, "snp.products[0]"],
    ["not an object", [] as unknown as Record<string, unknown>, "snp"],
  ];
  for (const [what, section, path] of bad) {
    it(`refuses ${what}`, () => {
      const value = Object.fromEntries(Object.entries(section).filter(([, v]) => v !== undefined));
      assert.throws(
        () => parseSnpRules(Array.isArray(section) ? section : value),
        (e: unknown) => e instanceof PolicyError && e.code === "invalid-policy" && e.path === path,
      );
    });
  }
});

describe("evaluateSnp: one-field negatives on forged reports", () => {
  const rules = parseSnpRules(STRICT);
  let baseline: VerifiedSnpReport;
  before(async () => {
    baseline = await verified();
  });

  it("the default forged report passes every claim", () => {
    const appraisal = evaluateSnp(rules, baseline, { expectedReportData: fields.reportData });
    assert.equal(appraisal.verdict, "pass");
    assert.equal(appraisal.claims.length, 15);
    assert.equal(appraisal.evaluatedAt, AT.toISOString());
  });

  it("all-any passes a debug guest with old TCB, and records every claim", async () => {
    const v = await verified({ policy: SNP_POLICY.reservedOne | SNP_POLICY.debug, guestSvn: 0 });
    const appraisal = evaluateSnp(parseSnpRules(ALL_ANY), v);
    assert.equal(appraisal.claims.length, 15);
  });

  it("measurement", async () => {
    refused(
      rules,
      await verified({ measurement: new Uint8Array(48).fill(1) }),
      "snp.measurement",
      "measurement-mismatch",
    );
  });
  it("hostData", async () => {
    refused(rules, await verified({ hostData: new Uint8Array(32).fill(1) }), "snp.hostData", "measurement-mismatch");
  });
  it("reportData: a different binding, and no expected value at all", async () => {
    refused(rules, await verified({ reportData: new Uint8Array(64) }), "snp.reportData", "report-data-mismatch");
    assert.throws(
      () => evaluateSnp(rules, baseline),
      (e: unknown) => e instanceof PolicyError && e.code === "report-data-mismatch",
    );
  });
  it("allowDebug", async () => {
    const policy = SNP_POLICY.reservedOne | SNP_POLICY.smt | SNP_POLICY.debug;
    refused(rules, await verified({ policy }), "snp.allowDebug", "tee-attribute-not-allowed");
  });
  it("allowMigrationAgent", async () => {
    const policy = SNP_POLICY.reservedOne | SNP_POLICY.smt | SNP_POLICY.migrateMa;
    refused(rules, await verified({ policy }), "snp.allowMigrationAgent", "tee-attribute-not-allowed");
  });
  it("allowSmt", async () => {
    refused(parseSnpRules({ ...STRICT, allowSmt: false }), baseline, "snp.allowSmt", "tee-attribute-not-allowed");
  });
  for (const c of ["bootloader", "tee", "snp", "microcode"] as const) {
    it(`minimumTcb.${c} against the reported TCB (the VCEK's)`, () => {
      const strict = parseSnpRules({ ...STRICT, minimumTcb: { ...SNP_TEST_TCB, [c]: SNP_TEST_TCB[c] + 1 } });
      assert.throws(
        () => evaluateSnp(strict, baseline, { expectedReportData: fields.reportData }),
        (e: unknown) =>
          e instanceof PolicyError &&
          e.code === "tcb-too-old" &&
          e.claim?.name === "SEV-SNP reported TCB" &&
          e.claim.actual.includes(`below: ${c}`),
      );
    });
  }
  it("minimumTcb against the committed TCB (anti-rollback floor)", async () => {
    const committedTcb = snpTcbValue({ ...SNP_TEST_TCB, snp: SNP_TEST_TCB.snp - 1 });
    const v = await verified({ committedTcb });
    refused(rules, v, "snp.minimumTcb", "tcb-too-old");
    assert.throws(
      () => evaluateSnp(rules, v, { expectedReportData: fields.reportData }),
      (e: unknown) => e instanceof PolicyError && e.claim?.name === "SEV-SNP committed TCB",
    );
  });
  it("minimumTcb.fmc on Turin, not applicable on Milan", async () => {
    const turin = snpTestPki("Turin");
    const v = await verifySnpReport({ report: forgeSnpReport(turin), vcek: turin.vcek, at: AT, roots: turin.roots });
    const turinRules = parseSnpRules({ ...STRICT, products: "any", minimumTcb: { ...SNP_TEST_TCB, fmc: 2 } });
    assert.throws(
      () => evaluateSnp(turinRules, v, { expectedReportData: fields.reportData }),
      (e: unknown) => e instanceof PolicyError && e.code === "tcb-too-old" && /below: fmc/.test(e.claim?.actual ?? ""),
    );
    const claims = snpClaims(turinRules, baseline, { expectedReportData: fields.reportData });
    const tcb = claims.find((c) => c.path === "snp.minimumTcb")!;
    assert.ok(tcb.ok);
    assert.match(tcb.expected, /fmc n\/a/);
  });
  it("minimumGuestSvn", async () => {
    refused(rules, await verified({ guestSvn: fields.guestSvn - 1 }), "snp.minimumGuestSvn", "tcb-too-old");
  });
  it("familyId", async () => {
    refused(rules, await verified({ familyId: new Uint8Array(16) }), "snp.familyId", "measurement-mismatch");
  });
  it("imageId", async () => {
    refused(rules, await verified({ imageId: new Uint8Array(16) }), "snp.imageId", "measurement-mismatch");
  });
  it("vmpl", async () => {
    refused(rules, await verified({ vmpl: 1 }), "snp.vmpl", "tee-attribute-not-allowed");
  });
  it("idKeyDigest", async () => {
    refused(rules, await verified({ idKeyDigest: new Uint8Array(48) }), "snp.idKeyDigest", "measurement-mismatch");
  });
  it("authorKeyDigest", async () => {
    const authorKeyDigest = new Uint8Array(48).fill(2);
    refused(rules, await verified({ authorKeyDigest, keyInfo: 1 }), "snp.authorKeyDigest", "measurement-mismatch");
  });
  it("products", () => {
    refused(parseSnpRules({ ...STRICT, products: ["Genoa"] }), baseline, "snp.products", "tee-attribute-not-allowed");
  });

  it("takes only a VerifiedSnpReport", () => {
    const fake = { report: baseline.report, product: "Milan", verifiedAt: AT } as unknown as VerifiedSnpReport;
    assert.throws(() => evaluateSnp(rules, fake), TypeError);
  });
});

describe("evaluateSnp on the real Milan report", () => {
  it("a production policy refuses it: the captured guest allows debugging", async () => {
    const dir = ["vectors", "sev-snp"];
    const v = await verifySnpReport({
      report: new Uint8Array(readFileSync(sharedPath(...dir, "attestation.bin"))),
      vcek: new Uint8Array(readFileSync(sharedPath(...dir, "vcek.der"))),
      at: new Date("2023-01-01T00:00:00Z"),
    });
    const rules = parseSnpRules({ ...ALL_ANY, allowDebug: false, measurement: toHex(v.report.measurement) });
    refused(rules, v, "snp.allowDebug", "tee-attribute-not-allowed");
    assert.equal(evaluateSnp({ ...rules, allowDebug: true }, v).verdict, "pass");
  });
});
