import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { MalformedError, toHex } from "@veritee/core";
import { sharedPath } from "@veritee/testkit";
import {
  defaultSnpReportFields,
  encodeSnpReport,
  SNP_POLICY,
  type SnpReportFields,
  type SnpTestProduct,
  snpTcbValue,
} from "@veritee/testkit/snp";
import fc from "fast-check";
import { decodeSnpReport, decodeSnpTcb, SNP_REPORT_SIZE, type SnpReport } from "../../src/sev-snp/decode.js";

const VECTOR = new Uint8Array(readFileSync(sharedPath("vectors", "sev-snp", "attestation.bin")));

function malformed(fn: () => unknown, code: string, what?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MalformedError, `expected MalformedError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (what) assert.match(e.what, what);
    return true;
  });
}

function onlyMalformed(fn: () => unknown): boolean {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
  }
  return true;
}

const encode = (overrides: Partial<SnpReportFields> = {}, product: SnpTestProduct = "Milan") =>
  encodeSnpReport({ ...defaultSnpReportFields(product), ...overrides });

describe("decodeSnpReport on the real Milan report", () => {
  const r = decodeSnpReport(VECTOR);

  it("reads every field at its ABI offset", () => {
    assert.equal(r.version, 2);
    assert.equal(r.guestSvn, 0);
    assert.equal(r.policy.raw, 0xb0000n);
    assert.equal(r.policy.smt, true);
    assert.equal(r.policy.debug, true, "the captured guest allows debugging");
    assert.equal(r.policy.migrateMa, false);
    assert.equal(r.policy.singleSocket, false);
    assert.equal(r.policy.abiMajor, 0);
    assert.equal(r.vmpl, 0);
    assert.equal(r.signatureAlgo, 1);
    assert.equal(r.tcbLayout, "milan-genoa");
    assert.deepEqual(
      { ...r.reportedTcb },
      { raw: 0x4405000000000002n, fmc: undefined, bootloader: 2, tee: 0, snp: 5, microcode: 0x44 },
    );
    assert.equal(r.currentTcb.raw, r.reportedTcb.raw);
    assert.equal(r.committedTcb.raw, r.reportedTcb.raw);
    assert.equal(r.launchTcb.raw, r.reportedTcb.raw);
    assert.equal(r.platformInfo.smtEnabled, true);
    assert.equal(r.platformInfo.tsmeEnabled, false);
    assert.equal(r.signingKey, "vcek");
    assert.equal(r.maskChipKey, false);
    assert.equal(r.authorKeyEn, false);
    assert.equal(toHex(r.reportData.subarray(0, 6)), "010203040500");
    assert.equal(
      toHex(r.measurement),
      "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01",
    );
    assert.deepEqual(r.hostData, new Uint8Array(32));
    assert.deepEqual(r.reportIdMa, new Uint8Array(32).fill(0xff));
    assert.equal(toHex(r.chipId.subarray(0, 4)), "3ac3fe21");
    assert.deepEqual(r.currentVersion, { build: 3, minor: 0x31, major: 1 });
    assert.deepEqual(r.committedVersion, { build: 3, minor: 0x31, major: 1 });
    assert.equal(r.cpuid, undefined);
    assert.equal(r.launchMitVector, undefined);
    assert.equal(r.signatureR.length, 48);
    // r is stored little-endian at 0x2A0: the big-endian form ends with the first stored byte.
    assert.equal(r.signatureR[47], VECTOR[0x2a0]);
    assert.equal(r.signatureS[47], VECTOR[0x2e8]);
    assert.deepEqual(r.signedBytes, VECTOR.subarray(0, 0x2a0));
  });

  it("is frozen and never aliases the input", () => {
    assert.ok(Object.isFrozen(r));
    assert.ok(Object.isFrozen(r.policy));
    const copy = VECTOR.slice();
    const d = decodeSnpReport(copy);
    copy.fill(0xee);
    assert.equal(toHex(d.measurement), toHex(r.measurement));
    assert.deepEqual(d.signedBytes, r.signedBytes);
  });
});

describe("decodeSnpReport: versions and layouts", () => {
  it("decodes version 3 with CPUID and Turin's TCB layout from family 1Ah", () => {
    const tcb = snpTcbValue({ fmc: 2, bootloader: 3, tee: 4, snp: 5, microcode: 6 }, "Turin");
    const r = decodeSnpReport(encode({ reportedTcb: tcb }, "Turin"));
    assert.equal(r.tcbLayout, "turin");
    assert.deepEqual(r.cpuid, { family: 0x1a, model: 2, stepping: 0 });
    assert.deepEqual({ ...r.reportedTcb, raw: 0n }, { raw: 0n, fmc: 2, bootloader: 3, tee: 4, snp: 5, microcode: 6 });
  });

  it("decodes versions 4 and 5 with the mitigation vectors", () => {
    for (const version of [4, 5]) {
      const r = decodeSnpReport(encode({ version, launchMitVector: 0x3n, currentMitVector: 0x7n }, "Turin"));
      assert.equal(r.version, version);
      assert.equal(r.launchMitVector, 3n);
      assert.equal(r.currentMitVector, 7n);
    }
  });

  it("rejects unknown versions as unsupported", () => {
    for (const version of [0, 1, 6, 0xffffffff]) {
      malformed(() => decodeSnpReport(encode({ version })), "unsupported", /VERSION/);
    }
  });

  it("rejects an unknown CPU family and signature algorithm", () => {
    malformed(() => decodeSnpReport(encode({ cpuid: { family: 0x17, model: 0, stepping: 0 } })), "unsupported");
    malformed(() => decodeSnpReport(encode({ signatureAlgo: 2 })), "unsupported", /SIGNATURE_ALGO/);
  });

  it("requires exactly 1184 bytes", () => {
    malformed(() => decodeSnpReport(VECTOR.subarray(0, SNP_REPORT_SIZE - 1)), "bad-length");
    const longer = new Uint8Array(SNP_REPORT_SIZE + 1);
    longer.set(VECTOR);
    malformed(() => decodeSnpReport(longer), "bad-length");
    malformed(() => decodeSnpReport(new Uint8Array(0)), "bad-length");
  });
});

describe("decodeSnpReport: reserved and impossible values", () => {
  it("policy bit 17 must be one and bits 63:26 zero", () => {
    malformed(() => decodeSnpReport(encode({ policy: SNP_POLICY.smt })), "bad-value", /POLICY/);
    malformed(() => decodeSnpReport(encode({ policy: SNP_POLICY.reservedOne | (1n << 26n) })), "reserved-nonzero");
    malformed(() => decodeSnpReport(encode({ policy: SNP_POLICY.reservedOne | (1n << 63n) })), "reserved-nonzero");
  });

  it("named policy bits decode", () => {
    const all = (1n << 26n) - 1n;
    const p = decodeSnpReport(encode({ policy: all })).policy;
    assert.deepEqual(
      [p.smt, p.migrateMa, p.debug, p.singleSocket, p.cxlAllowed, p.memAes256Xts, p.raplDis, p.ciphertextHiding],
      [true, true, true, true, true, true, true, true],
    );
    assert.equal(p.pageSwapDisable, true);
    assert.equal(p.abiMinor, 0xff);
    assert.equal(p.abiMajor, 0xff);
  });

  it("platform info bits above 5, key-info bits above 4 and reserved SIGNING_KEY values are refused", () => {
    malformed(() => decodeSnpReport(encode({ platformInfo: 1n << 6n })), "reserved-nonzero", /PLATFORM_INFO/);
    malformed(() => decodeSnpReport(encode({ keyInfo: 1 << 5 })), "reserved-nonzero", /KEY_INFO/);
    for (const key of [2, 3, 4, 5, 6]) {
      malformed(() => decodeSnpReport(encode({ keyInfo: key << 2 })), "bad-value", /SIGNING_KEY/);
    }
    assert.equal(decodeSnpReport(encode({ keyInfo: 1 << 2 })).signingKey, "vlek");
    assert.equal(decodeSnpReport(encode({ keyInfo: 7 << 2 })).signingKey, "none");
  });

  it("VMPL above 3 and an unmasked CHIP_ID under MASK_CHIP_KEY are refused", () => {
    malformed(() => decodeSnpReport(encode({ vmpl: 4 })), "bad-value", /VMPL/);
    malformed(() => decodeSnpReport(encode({ keyInfo: 2 })), "bad-value", /CHIP_ID/);
    const masked = decodeSnpReport(encode({ keyInfo: 2, chipId: new Uint8Array(64) }));
    assert.equal(masked.maskChipKey, true);
  });

  it("reserved TCB bytes must be zero", () => {
    malformed(() => decodeSnpReport(encode({ reportedTcb: 1n << 16n })), "reserved-nonzero", /REPORTED_TCB/);
    malformed(() => decodeSnpReport(encode({ launchTcb: 1n << 40n })), "reserved-nonzero", /LAUNCH_TCB/);
    assert.throws(() => decodeSnpTcb(1n << 32n, "turin"), MalformedError);
    assert.equal(decodeSnpTcb(1n << 24n, "turin").snp, 1);
  });

  it("every must-be-zero byte of a version 2 and a version 5 report is checked", () => {
    const v2 = [0x4c, 0x188, 0x19f, 0x1eb, 0x1ef, 0x1f8, 0x29f, 0x2a0 + 48, 0x2a0 + 71, 0x2e8 + 48, 0x330, 0x49f];
    for (const offset of v2) {
      const b = VECTOR.slice();
      b[offset] = 1;
      malformed(() => decodeSnpReport(b), "reserved-nonzero");
    }
    const v5 = encode({ version: 5 });
    decodeSnpReport(v5);
    for (const offset of [0x18b, 0x208, 0x29f]) {
      const b = v5.slice();
      b[offset] = 1;
      malformed(() => decodeSnpReport(b), "reserved-nonzero");
    }
  });
});

describe("decodeSnpReport properties", () => {
  const fields = fc.record({
    version: fc.constantFrom(2, 3, 4, 5),
    guestSvn: fc.nat(),
    policy: fc.bigInt({ min: 0n, max: (1n << 26n) - 1n }).map((p) => p | SNP_POLICY.reservedOne),
    vmpl: fc.integer({ min: 0, max: 3 }),
    keyInfo: fc.constantFrom(0, 1, 4, 5, 28, 29),
    platformInfo: fc.bigInt({ min: 0n, max: 63n }),
    measurement: fc.uint8Array({ minLength: 48, maxLength: 48 }),
    reportData: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    product: fc.constantFrom<SnpTestProduct>("Milan", "Genoa", "Turin"),
    tcb: fc.record({
      fmc: fc.integer({ min: 0, max: 255 }),
      bootloader: fc.integer({ min: 0, max: 255 }),
      tee: fc.integer({ min: 0, max: 255 }),
      snp: fc.integer({ min: 0, max: 255 }),
      microcode: fc.integer({ min: 0, max: 255 }),
    }),
  });

  it("encode then decode gives back every field", () => {
    fc.assert(
      fc.property(fields, (f) => {
        const product = f.version === 2 && f.product === "Turin" ? "Milan" : f.product;
        const tcb = snpTcbValue(f.tcb, product);
        const base = defaultSnpReportFields(product);
        const r: SnpReport = decodeSnpReport(encodeSnpReport({ ...base, ...f, reportedTcb: tcb }));
        assert.equal(r.version, f.version);
        assert.equal(r.guestSvn, f.guestSvn);
        assert.equal(r.policy.raw, f.policy);
        assert.equal(r.vmpl, f.vmpl);
        assert.equal(r.platformInfo.raw, f.platformInfo);
        assert.deepEqual(r.measurement, f.measurement);
        assert.deepEqual(r.reportData, f.reportData);
        assert.equal(r.reportedTcb.raw, tcb);
        assert.equal(r.reportedTcb.bootloader, f.tcb.bootloader);
        assert.equal(r.reportedTcb.microcode, f.tcb.microcode);
        assert.equal(r.reportedTcb.fmc, product === "Turin" ? f.tcb.fmc : undefined);
        assert.equal(r.authorKeyEn, (f.keyInfo & 1) === 1);
      }),
    );
  });

  it("random bytes of any length yield only MalformedError", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1300 }), (b) => onlyMalformed(() => decodeSnpReport(b))));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: SNP_REPORT_SIZE, maxLength: SNP_REPORT_SIZE }), (b) =>
        onlyMalformed(() => decodeSnpReport(b)),
      ),
    );
  });

  it("mutated real and forged reports yield a report or only MalformedError", () => {
    const bases = [VECTOR, encode(), encode({ version: 5 }, "Turin")];
    fc.assert(
      fc.property(
        fc.constantFrom(...bases),
        fc.array(fc.tuple(fc.nat(SNP_REPORT_SIZE - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (base, edits) => {
          const b = base.slice();
          for (const [i, v] of edits) b[i] = v;
          return onlyMalformed(() => decodeSnpReport(b));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
