import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MalformedError, randomBytes } from "@veritee/core";
import fc from "fast-check";
import {
  decodePlatformEvidence,
  PLATFORM_EVIDENCE_LIMITS,
  type PlatformEvidence,
  platformEvidenceToJson,
  platformReportData,
  SNP_REPORT_SIZE,
} from "../../src/index.js";

const W = "AttestationDocument.platform";

function sample(): PlatformEvidence[] {
  return [
    {
      kind: "sev-snp",
      report: randomBytes(SNP_REPORT_SIZE),
      vcek: randomBytes(900),
      ask: randomBytes(1300),
      ark: null,
    },
    { kind: "nvidia-gpu", report: randomBytes(4000), certificates: [randomBytes(600), randomBytes(500)] },
    { kind: "nvidia-gpu", report: randomBytes(3000), certificates: [randomBytes(600)] },
  ];
}

function azureSample(): PlatformEvidence {
  return {
    kind: "azure-vtpm",
    hclReport: randomBytes(2500),
    vcek: randomBytes(900),
    ask: null,
    ark: randomBytes(1300),
  };
}

function json(entries: PlatformEvidence[]): unknown {
  return JSON.parse(JSON.stringify(platformEvidenceToJson(entries)));
}

const malformed = (what: RegExp) => (e: unknown) => e instanceof MalformedError && what.test(e.what ?? "");

describe("the attestation document's platform member", () => {
  test("round-trips: encode then decode gives the same entries; [] is a TPM-only server", () => {
    const entries = sample();
    assert.deepEqual(decodePlatformEvidence(json(entries), W), entries);
    assert.deepEqual(decodePlatformEvidence([], W), []);
    const tdx: PlatformEvidence[] = [{ kind: "tdx", quote: randomBytes(5000) }];
    assert.deepEqual(decodePlatformEvidence(json(tdx), W), tdx);
    const azure: PlatformEvidence[] = [azureSample(), sample()[1]!];
    assert.deepEqual(decodePlatformEvidence(json(azure), W), azure);
  });

  test("an azure-vtpm entry is the CPU entry: first, once, exact members, bounded", () => {
    const good = json([azureSample()]) as Record<string, unknown>[];
    const edit = (f: (j: Record<string, unknown>[]) => void) => {
      const j = JSON.parse(JSON.stringify(good)) as Record<string, unknown>[];
      f(j);
      return j;
    };
    const gpu = json([sample()[1]!]) as unknown[];
    const cases: [string, unknown, RegExp][] = [
      ["after a GPU", [...gpu, good[0]], /\[1\]$/],
      ["beside an SNP entry", [...(json(sample()) as unknown[]).slice(0, 1), good[0]], /\[1\]$/],
      ["missing ark", edit((j) => delete j[0]!.ark), /\[0\]$/],
      ["extra member", edit((j) => (j[0]!.report = "AAAA")), /\[0\]$/],
      ["empty HCL report", edit((j) => (j[0]!.hclReport = "")), /\[0\]\.hclReport$/],
      ["empty VCEK", edit((j) => (j[0]!.vcek = "")), /\[0\]\.vcek$/],
      ["ask not base64", edit((j) => (j[0]!.ask = "A")), /\[0\]\.ask$/],
      [
        "HCL report too large",
        edit((j) => (j[0]!.hclReport = Buffer.alloc(PLATFORM_EVIDENCE_LIMITS.maxHclReport + 3).toString("base64"))),
        /\[0\]\.hclReport$/,
      ],
    ];
    for (const [name, value, what] of cases)
      assert.throws(() => decodePlatformEvidence(value, W), malformed(what), name);
  });

  test("refuses, naming the field: wrong kinds, order, counts, members, sizes", () => {
    const good = json(sample()) as Record<string, unknown>[];
    const edit = (f: (j: Record<string, unknown>[]) => void) => {
      const j = JSON.parse(JSON.stringify(good)) as Record<string, unknown>[];
      f(j);
      return j;
    };
    const cases: [string, unknown, RegExp][] = [
      ["not an array", {}, /platform$/],
      ["unknown kind", edit((j) => (j[0]!.kind = "sgx")), /\[0\]\.kind$/],
      ["CPU entry not first", edit((j) => j.reverse()), /\[2\]$/],
      ["two CPU entries", edit((j) => j.push({ kind: "tdx", quote: "AAAA" })), /\[3\]$/],
      ["extra member", edit((j) => (j[0]!.extra = 1)), /\[0\]$/],
      ["missing member", edit((j) => delete j[0]!.ark), /\[0\]$/],
      ["short SNP report", edit((j) => (j[0]!.report = "AAAA")), /\[0\]\.report$/],
      ["non-canonical base64", edit((j) => (j[0]!.vcek = `${j[0]!.vcek}=`)), /\[0\]\.vcek$/],
      ["no GPU certificates", edit((j) => (j[1]!.certificates = [])), /\[1\]\.certificates$/],
      ["empty GPU report", edit((j) => (j[1]!.report = "")), /\[1\]\.report$/],
      ["ten entries", Array.from({ length: 10 }, () => good[1]), /platform$/],
      ["nine GPUs", Array.from({ length: 9 }, () => good[1]), /platform$/],
    ];
    for (const [name, value, what] of cases)
      assert.throws(() => decodePlatformEvidence(value, W), malformed(what), name);
  });

  test("property: random JSON and mutated entries yield only MalformedError", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          decodePlatformEvidence(value, W);
        } catch (e) {
          assert.ok(e instanceof MalformedError, String(e));
        }
      }),
      { numRuns: 300 },
    );
    for (const entries of [sample(), [azureSample(), ...sample().slice(1)]]) {
      const text = JSON.stringify(json(entries));
      fc.assert(
        fc.property(fc.nat(text.length - 1), fc.string({ minLength: 1, maxLength: 1 }), (i, c) => {
          let value: unknown;
          try {
            value = JSON.parse(text.slice(0, i) + c + text.slice(i + 1));
          } catch {
            return;
          }
          try {
            decodePlatformEvidence(value, W);
          } catch (e) {
            assert.ok(e instanceof MalformedError, String(e));
          }
        }),
        { numRuns: 300 },
      );
    }
  });
});

describe("platformReportData", () => {
  const nonce = randomBytes(32);
  const digest = randomBytes(32);
  test("64 bytes, changed by every input: nonce, key set, each GPU report and their order", () => {
    const a = randomBytes(100);
    const b = randomBytes(100);
    const base = platformReportData({ nonce, keySetDigest: digest, gpuReports: [a, b] });
    assert.equal(base.length, 64);
    const others = [
      platformReportData({ nonce: randomBytes(32), keySetDigest: digest, gpuReports: [a, b] }),
      platformReportData({ nonce, keySetDigest: randomBytes(32), gpuReports: [a, b] }),
      platformReportData({ nonce, keySetDigest: digest, gpuReports: [b, a] }),
      platformReportData({ nonce, keySetDigest: digest, gpuReports: [a] }),
      platformReportData({ nonce, keySetDigest: digest, gpuReports: [] }),
    ];
    for (const o of others) assert.notDeepEqual(o, base);
  });

  test("the nonce length is bound: a longer nonce cannot absorb the key-set digest and a GPU hash", () => {
    const short = platformReportData({ nonce: randomBytes(16), keySetDigest: digest, gpuReports: [] });
    assert.notDeepEqual(short, platformReportData({ nonce: randomBytes(64), keySetDigest: digest, gpuReports: [] }));
    assert.throws(
      () => platformReportData({ nonce: randomBytes(15), keySetDigest: digest, gpuReports: [] }),
      RangeError,
    );
    assert.throws(() => platformReportData({ nonce, keySetDigest: randomBytes(31), gpuReports: [] }), RangeError);
    assert.throws(
      () => platformReportData({ nonce, keySetDigest: digest, gpuReports: Array.from({ length: 9 }, () => a1) }),
      RangeError,
    );
  });
});
const a1 = new Uint8Array(1);
