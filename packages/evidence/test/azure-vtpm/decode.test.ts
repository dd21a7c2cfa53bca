/**
 * Strict decoding of HCL reports and runtime claims: round trips of forged
 * reports, one-field negatives for every header and request-data check,
 * and fast-check properties (random and mutated bytes yield only
 * MalformedError).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError, toHex } from "@veritee/core";
import {
  encodeHclReport,
  encodeTdReport,
  forgeAzureSnp,
  hclReportData,
  runtimeClaimsJson,
  tdReportFieldsFor,
} from "@veritee/testkit/azure-vtpm";
import { defaultTdxBody } from "@veritee/testkit/tdx";
import fc from "fast-check";
import { decodeRuntimeClaims } from "../../src/azure-vtpm/claims.js";
import { decodeHclReport, decodeTdReport, HCL_REQUEST_DATA_OFFSET } from "../../src/azure-vtpm/decode.js";
import { akJwk, forgedAttestation, milan, throwsMalformed } from "./fixtures.js";

const base = forgedAttestation();
const claims = base.claimsBytes;

function onlyMalformed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
  }
}

describe("decodeHclReport", () => {
  it("decodes a forged SNP HCL report: header, SNP report, hash type, claims", () => {
    const hcl = decodeHclReport(base.hclReport);
    assert.equal(hcl.version, 2);
    assert.equal(hcl.requestType, 2);
    assert.equal(hcl.hashType, "sha256");
    assert.equal(hcl.hardware.kind, "snp");
    assert.deepEqual(hcl.hardware.bytes, base.snpReport);
    assert.deepEqual(hcl.runtimeClaims, claims);
    assert.equal(hcl.reportSize, HCL_REQUEST_DATA_OFFSET + 20 + claims.length);
    assert.equal(toHex(hcl.reportData), toHex(hclReportData(claims)));
  });

  it("copies: changing the input afterwards changes nothing decoded", () => {
    const bytes = Uint8Array.from(base.hclReport);
    const hcl = decodeHclReport(bytes);
    bytes.fill(0xee);
    assert.deepEqual(hcl.runtimeClaims, claims);
    assert.deepEqual(hcl.hardware.bytes, base.snpReport);
  });

  it("accepts version 1 and no padding; the other hash types", () => {
    assert.equal(decodeHclReport(encodeHclReport(base.snpReport, claims, { version: 1, padding: 0 })).version, 1);
    assert.equal(decodeHclReport(encodeHclReport(base.snpReport, claims, { hashType: 2 })).hashType, "sha384");
    assert.equal(decodeHclReport(encodeHclReport(base.snpReport, claims, { hashType: 3 })).hashType, "sha512");
  });

  it("decodes a TDX HCL report (TDREPORT zero-padded to 1184 bytes)", () => {
    const body = defaultTdxBody();
    const td = encodeTdReport(tdReportFieldsFor(body));
    const hcl = decodeHclReport(encodeHclReport(td, claims, { reportType: 4 }));
    assert.equal(hcl.hardware.kind, "tdx");
    if (hcl.hardware.kind !== "tdx") return;
    assert.deepEqual(hcl.hardware.report.mrTd, body.mrTd);
    assert.deepEqual(hcl.hardware.report.rtmrs[3], body.rtmrs[3]);
    assert.deepEqual(hcl.reportData, body.reportData);
  });

  it("refuses every header and request-data field out of range, naming it", () => {
    const enc = (f: Parameters<typeof encodeHclReport>[2]) => () =>
      decodeHclReport(encodeHclReport(base.snpReport, claims, f));
    throwsMalformed(enc({ signature: 0x414c4349 }), "bad-magic", /signature/);
    throwsMalformed(enc({ version: 3 }), "unsupported", /version/);
    throwsMalformed(enc({ version: 0 }), "unsupported", /version/);
    throwsMalformed(enc({ requestType: 1 }), "unsupported", /requestType/);
    throwsMalformed(enc({ status: 1 }), "bad-value", /status/);
    throwsMalformed(enc({ reserved: [0, 1, 0] }), "reserved-nonzero", /reserved/);
    throwsMalformed(enc({ reportSize: HCL_REQUEST_DATA_OFFSET + 21 + claims.length }), "bad-length", /reportSize/);
    throwsMalformed(enc({ dataSize: 19 + claims.length }), "bad-length", /dataSize/);
    throwsMalformed(enc({ requestDataVersion: 2 }), "unsupported", /requestData.version/);
    throwsMalformed(enc({ reportType: 3 }), "unsupported", /reportType/);
    throwsMalformed(enc({ reportType: 1 }), "unsupported", /reportType/);
    throwsMalformed(enc({ hashType: 0 }), "bad-value", /hashType/);
    throwsMalformed(enc({ hashType: 4 }), "bad-value", /hashType/);
    throwsMalformed(enc({ variableDataSize: 0xffffffff }), "too-large", /variableDataSize/);
    throwsMalformed(enc({ variableDataSize: claims.length + 1 }), "bad-length", /dataSize/);
    // A TDX report type over an SNP report: not a TDREPORT.
    throwsMalformed(enc({ reportType: 4 }), "bad-value", /TDREPORT/);
  });

  it("refuses non-zero padding, truncation and oversize input", () => {
    const padded = encodeHclReport(base.snpReport, claims, { padding: 64 });
    padded[padded.length - 1] = 1;
    throwsMalformed(() => decodeHclReport(padded), "trailing-data");
    const full = encodeHclReport(base.snpReport, claims, { padding: 0 });
    throwsMalformed(() => decodeHclReport(full.subarray(0, full.length - 1)), "truncated", /runtimeClaims/);
    throwsMalformed(() => decodeHclReport(full.subarray(0, 31)), "truncated");
    throwsMalformed(() => decodeHclReport(new Uint8Array(16 * 1024 + 1)), "too-large");
  });

  it("refuses a TDX report type whose 160 bytes after the TDREPORT are not zero", () => {
    const hw = new Uint8Array(1184);
    hw.set(encodeTdReport(tdReportFieldsFor(defaultTdxBody())));
    hw[1100] = 1;
    throwsMalformed(
      () => decodeHclReport(encodeHclReport(hw, claims, { reportType: 4 })),
      "reserved-nonzero",
      /padding/,
    );
  });

  it("the SNP report inside is decoded strictly (a bad report version is refused)", () => {
    const hw = Uint8Array.from(base.snpReport);
    hw[0] = 9;
    throwsMalformed(() => decodeHclReport(encodeHclReport(hw, claims)), "unsupported");
  });
});

describe("decodeTdReport", () => {
  const good = tdReportFieldsFor(defaultTdxBody());
  it("refuses a wrong size, type, subtype and non-zero reserved bytes", () => {
    throwsMalformed(() => decodeTdReport(new Uint8Array(1023)), "bad-length");
    throwsMalformed(() => decodeTdReport(encodeTdReport({ ...good, type: 0x00 })), "bad-value", /type/);
    throwsMalformed(() => decodeTdReport(encodeTdReport({ ...good, subtype: 1 })), "bad-value", /subtype/);
    for (const offset of [3, 4, 15, 192, 223, 495, 511]) {
      const b = encodeTdReport(good);
      b[offset] = 1;
      throwsMalformed(() => decodeTdReport(b), "reserved-nonzero");
    }
  });
});

describe("decodeRuntimeClaims", () => {
  const akPub = akJwk(base.ak.tpm2b);
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const doc = JSON.parse(new TextDecoder().decode(claims)) as Record<string, unknown>;

  it("reads the AK, EK, configuration and user data", () => {
    const ek = akJwk(forgedAttestation("ecc-p256").ak.tpm2b);
    const c = decodeRuntimeClaims(runtimeClaimsJson({ akPub, ekPub: ek, userData: "AB".repeat(64) }));
    assert.equal(c.akPub.kid, "HCLAkPub");
    assert.equal(c.akPub.kty, "RSA");
    assert.equal(c.ekPub?.kty, "EC");
    assert.equal(c.keys.length, 2);
    assert.deepEqual(c.vmConfiguration, {
      secureBoot: true,
      tpmEnabled: true,
      consoleEnabled: false,
      vmUniqueId: "00000000-0000-4000-8000-00000000c0de",
      tpmPersisted: true,
    });
    assert.equal(toHex(c.userData!), "ab".repeat(64));
  });

  it("refuses duplicate members, re-formatted JSON and non-JSON", () => {
    const text = new TextDecoder().decode(claims);
    const dup = text.replace('"secure-boot":true', '"secure-boot":false,"secure-boot":true');
    throwsMalformed(() => decodeRuntimeClaims(new TextEncoder().encode(dup)), "bad-value");
    assert.deepEqual(decodeRuntimeClaims(json(doc)).raw, claims);
    throwsMalformed(() => decodeRuntimeClaims(new TextEncoder().encode(` ${text}`)), "bad-value");
    throwsMalformed(() => decodeRuntimeClaims(new TextEncoder().encode(JSON.stringify(doc, null, 1))), "bad-value");
    throwsMalformed(() => decodeRuntimeClaims(new TextEncoder().encode(text.replace(":true", ":1e0"))), "bad-value");
    throwsMalformed(() => decodeRuntimeClaims(Uint8Array.of(0xff, 0xfe)), "bad-value");
    throwsMalformed(() => decodeRuntimeClaims(new TextEncoder().encode("[]")), "bad-value");
  });

  it("refuses a missing AK, a repeated key id, bad key members and bad configuration types", () => {
    const without = (edit: (d: Record<string, unknown>) => void) => {
      const d = structuredClone(doc);
      edit(d);
      return () => decodeRuntimeClaims(json(d));
    };
    const key0 = (d: Record<string, unknown>) => (d.keys as Record<string, unknown>[])[0]!;
    throwsMalformed(
      without((d) => (key0(d).kid = "Other")),
      "bad-value",
      /keys/,
    );
    throwsMalformed(
      without((d) => (d.keys = [key0(d), key0(d)])),
      "bad-value",
      /keys/,
    );
    throwsMalformed(
      without((d) => delete d.keys),
      "bad-value",
      /keys/,
    );
    throwsMalformed(
      without((d) => (key0(d).kty = "OKP")),
      "bad-value",
      /kty/,
    );
    throwsMalformed(
      without((d) => (key0(d).n = "AAEC")),
      "bad-value",
      /\.n/,
    );
    throwsMalformed(
      without((d) => (key0(d).e = "A=")),
      "bad-value",
      /\.e/,
    );
    throwsMalformed(
      without((d) => (key0(d).key_ops = "sign")),
      "bad-value",
      /key_ops/,
    );
    throwsMalformed(
      without((d) => delete d["vm-configuration"]),
      "bad-value",
      /vm-configuration/,
    );
    for (const member of ["secure-boot", "tpm-enabled", "console-enabled"]) {
      throwsMalformed(
        without((d) => ((d["vm-configuration"] as Record<string, unknown>)[member] = "true")),
        "bad-value",
        new RegExp(member),
      );
      throwsMalformed(
        without((d) => delete (d["vm-configuration"] as Record<string, unknown>)[member]),
        "bad-value",
        new RegExp(member),
      );
    }
    throwsMalformed(
      without((d) => (d["user-data"] = "abc")),
      "bad-hex",
      /user-data/,
    );
    throwsMalformed(
      without((d) => (d["user-data"] = "00".repeat(65))),
      "bad-hex",
      /user-data/,
    );
  });

  it("refuses EC coordinates that are not the curve's size", () => {
    const ec = akJwk(forgedAttestation("ecc-p256").ak.tpm2b);
    const short = { ...ec, x: Buffer.from(new Uint8Array(31).fill(1)).toString("base64url") };
    throwsMalformed(() => decodeRuntimeClaims(runtimeClaimsJson({ akPub: short })), "bad-length");
  });
});

describe("properties", () => {
  it("random bytes yield a MalformedError from both decoders, never another exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        onlyMalformed(() => decodeHclReport(bytes));
        onlyMalformed(() => decodeRuntimeClaims(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it("a forged HCL report with random bytes changed decodes or yields a MalformedError", () => {
    const good = encodeHclReport(base.snpReport, claims, { padding: 16 });
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(good.length - 1), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const b = Uint8Array.from(good);
          for (const e of edits) b[e.at] = e.value;
          onlyMalformed(() => decodeRuntimeClaims(decodeHclReport(b).runtimeClaims));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("random JSON values and strings as claims yield only MalformedError", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.string()), (v) => {
        const text = typeof v === "string" ? v : JSON.stringify(v);
        onlyMalformed(() => decodeRuntimeClaims(new TextEncoder().encode(text ?? "")));
      }),
      { numRuns: 300 },
    );
  });

  it("encode/decode round trip over random configurations, user data, hash types and padding", () => {
    const akPub = akJwk(base.ak.tpm2b);
    fc.assert(
      fc.property(
        fc.record({
          secureBoot: fc.boolean(),
          tpmEnabled: fc.boolean(),
          console: fc.boolean(),
          userData: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
          hashType: fc.constantFrom(1, 2, 3),
          version: fc.constantFrom(1, 2),
          padding: fc.nat(64),
        }),
        (r) => {
          const c = runtimeClaimsJson({
            akPub,
            vmConfiguration: { "secure-boot": r.secureBoot, "tpm-enabled": r.tpmEnabled, "console-enabled": r.console },
            ...(r.userData === undefined ? {} : { userData: toHex(r.userData) }),
          });
          const hcl = decodeHclReport(
            encodeHclReport(base.snpReport, c, { hashType: r.hashType, version: r.version, padding: r.padding }),
          );
          assert.equal(hcl.version, r.version);
          assert.equal(hcl.hashType, ["sha256", "sha384", "sha512"][r.hashType - 1]);
          const d = decodeRuntimeClaims(hcl.runtimeClaims);
          assert.deepEqual(d.raw, c);
          assert.equal(d.vmConfiguration.secureBoot, r.secureBoot);
          assert.equal(d.vmConfiguration.tpmEnabled, r.tpmEnabled);
          assert.equal(d.vmConfiguration.consoleEnabled, r.console);
          assert.deepEqual(d.userData, r.userData);
        },
      ),
      { numRuns: 100 },
    );
  });
});

// Keep the forger's SNP wrapper honest: its report carries the claims' binding.
it("forgeAzureSnp binds the claims in REPORT_DATA", () => {
  const { snpReport } = forgeAzureSnp(milan, claims, { hash: "sha384" });
  assert.deepEqual(snpReport.subarray(0x50, 0x90), hclReportData(claims, "sha384"));
});
