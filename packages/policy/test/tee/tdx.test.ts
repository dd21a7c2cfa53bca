import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { type VerifiedTdxQuote, verifyTdxQuote } from "@veritee/evidence";
import {
  type ForgeTdxQuoteOptions,
  forgeQeIdentity,
  forgeTcbInfo,
  forgeTdxQuote,
  makeTdxPki,
  TDX_TEST_TIME,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { buildCrl } from "@veritee/testkit/x509";
import { PolicyError } from "../../src/errors.js";
import { evaluateTdx, parseTdxRules, tdxClaims } from "../../src/tee/tdx.js";

const pki = makeTdxPki();
const h = (n: number, v: number) => Buffer.alloc(n, v).toString("hex");

async function verified(options: ForgeTdxQuoteOptions = {}, crls = true, qeSvn?: number): Promise<VerifiedTdxQuote> {
  return verifyTdxQuote({
    quote: forgeTdxQuote(pki, { ...options, ...(qeSvn === undefined ? {} : { qeReport: { isvSvn: qeSvn } }) }),
    collateral: {
      tcbInfo: forgeTcbInfo(pki),
      qeIdentity: forgeQeIdentity(pki),
      tcbSigningChain: tcbSigningChainPem(pki),
      ...(crls
        ? {
            pckCrl: buildCrl({ issuer: pki.platformCa, thisUpdate: new Date("2025-05-01T00:00:00Z") }),
            rootCrl: buildCrl({ issuer: pki.root, thisUpdate: new Date("2025-05-01T00:00:00Z") }),
          }
        : {}),
    },
    at: TDX_TEST_TIME,
    roots: [pki.root.cert],
  });
}

/** A section matching the forger's default quote exactly. */
function section(): Record<string, unknown> {
  return {
    mrTd: h(48, 0x7d),
    rtmr0: h(48, 0x10),
    rtmr1: [h(48, 0x11), h(48, 0x99)],
    rtmr2: h(48, 0x12),
    rtmr3: h(48, 0x13),
    mrSeam: [h(48, 0x5e)],
    mrSignerSeam: h(48, 0),
    mrConfigId: h(48, 0),
    mrOwner: h(48, 0),
    mrOwnerConfig: h(48, 0),
    tdAttributes: { allowDebug: false, mask: "0000001000000000", value: "0000001000000000" },
    xfam: "e702060000000000",
    tcbStatus: ["UpToDate"],
    reportData: "bound",
    revocation: "required",
  };
}
const REPORT_DATA = new Uint8Array(64).fill(0xd4);

describe("TDX policy section: parsing", () => {
  it("accepts a complete section and freezes it", () => {
    const r = parseTdxRules(section());
    assert.ok(Object.isFrozen(r) && Object.isFrozen(r.tcbStatus));
  });
  const bad: [string, (s: Record<string, unknown>) => void][] = [
    ["tdx.mrTd", (s) => delete s.mrTd],
    ["tdx.extra", (s) => (s.extra = 1)],
    ["tdx.mrTd", (s) => (s.mrTd = h(48, 0).toUpperCase().replace(/0/g, "A"))],
    ["tdx.rtmr0", (s) => (s.rtmr0 = h(32, 0))],
    ["tdx.mrSeam", (s) => (s.mrSeam = [])],
    ["tdx.mrSeam", (s) => (s.mrSeam = [h(48, 1), h(48, 1)])],
    [
      "tdx.tdAttributes.mask",
      (s) => (s.tdAttributes = { allowDebug: false, mask: "0100000000000000", value: "0000000000000000" }),
    ],
    [
      "tdx.tdAttributes.value",
      (s) => (s.tdAttributes = { allowDebug: false, mask: "0000000000000000", value: "0000001000000000" }),
    ],
    [
      "tdx.tdAttributes.allowDebug",
      (s) => (s.tdAttributes = { allowDebug: "no", mask: "0000000000000000", value: "0000000000000000" }),
    ],
    ["tdx.tcbStatus[0]", (s) => (s.tcbStatus = ["Revoked"])],
    ["tdx.tcbStatus", (s) => (s.tcbStatus = [])],
    ["tdx.tcbStatus", (s) => (s.tcbStatus = "any")],
    ["tdx.reportData", (s) => (s.reportData = "yes")],
    ["tdx.revocation", (s) => (s.revocation = true)],
  ];
  for (const [path, change] of bad) {
    it(`refuses a bad ${path}`, () => {
      const s = section();
      change(s);
      assert.throws(
        () => parseTdxRules(s),
        (e: unknown) => e instanceof PolicyError && e.code === "invalid-policy" && e.path === path,
      );
    });
  }
});

describe("TDX policy section: evaluation, one field changed per negative", () => {
  let good: VerifiedTdxQuote;
  before(async () => {
    good = await verified();
  });

  it("passes the forger's default quote, recording every claim", () => {
    const a = evaluateTdx(parseTdxRules(section()), good, { expectedReportData: REPORT_DATA });
    assert.equal(a.verdict, "pass");
    assert.equal(a.claims.length, 16);
  });
  it("passes with every check written as any (and debug allowed)", async () => {
    const s = section();
    for (const k of [
      "mrTd",
      "rtmr0",
      "rtmr1",
      "rtmr2",
      "rtmr3",
      "mrSeam",
      "mrSignerSeam",
      "mrConfigId",
      "mrOwner",
      "mrOwnerConfig",
      "xfam",
    ])
      s[k] = "any";
    Object.assign(s, {
      reportData: "any",
      revocation: "any",
      tdAttributes: { allowDebug: true, mask: "0000000000000000", value: "0000000000000000" },
    });
    const debug = await verified({ body: { tdAttributes: Uint8Array.from([1, 0, 0, 0x10, 0, 0, 0, 0]) } }, false);
    assert.equal(evaluateTdx(parseTdxRules(s), debug).verdict, "pass");
  });
  it("refuses evidence that is not a VerifiedTdxQuote", () => {
    assert.throws(() => tdxClaims(parseTdxRules(section()), {} as VerifiedTdxQuote), TypeError);
  });

  const m48 = new Uint8Array(48).fill(0xee);
  const negatives: [string, string, () => Promise<VerifiedTdxQuote>, ((s: Record<string, unknown>) => void)?][] = [
    ["mrTd", "measurement-mismatch", () => verified({ body: { mrTd: m48 } })],
    [
      "rtmr0",
      "measurement-mismatch",
      () =>
        verified({
          body: {
            rtmrs: [m48, new Uint8Array(48).fill(0x11), new Uint8Array(48).fill(0x12), new Uint8Array(48).fill(0x13)],
          },
        }),
    ],
    [
      "rtmr1",
      "measurement-mismatch",
      () =>
        verified({
          body: {
            rtmrs: [
              new Uint8Array(48).fill(0x10),
              new Uint8Array(48),
              new Uint8Array(48).fill(0x12),
              new Uint8Array(48).fill(0x13),
            ],
          },
        }),
    ],
    [
      "rtmr2",
      "measurement-mismatch",
      () =>
        verified({
          body: {
            rtmrs: [
              new Uint8Array(48).fill(0x10),
              new Uint8Array(48).fill(0x11),
              new Uint8Array(48),
              new Uint8Array(48).fill(0x13),
            ],
          },
        }),
    ],
    [
      "rtmr3",
      "measurement-mismatch",
      () =>
        verified({
          body: {
            rtmrs: [
              new Uint8Array(48).fill(0x10),
              new Uint8Array(48).fill(0x11),
              new Uint8Array(48).fill(0x12),
              new Uint8Array(48),
            ],
          },
        }),
    ],
    ["mrSeam", "measurement-mismatch", () => verified({ body: { mrSeam: new Uint8Array(48).fill(1) } })],
    ["mrSignerSeam", "measurement-mismatch", async () => good, (s) => (s.mrSignerSeam = h(48, 1))],
    ["mrConfigId", "measurement-mismatch", () => verified({ body: { mrConfigId: new Uint8Array(48).fill(1) } })],
    ["mrOwner", "measurement-mismatch", () => verified({ body: { mrOwner: new Uint8Array(48).fill(1) } })],
    ["mrOwnerConfig", "measurement-mismatch", () => verified({ body: { mrOwnerConfig: new Uint8Array(48).fill(1) } })],
    [
      "tdAttributes.allowDebug",
      "tee-attribute-not-allowed",
      () => verified({ body: { tdAttributes: Uint8Array.from([1, 0, 0, 0x10, 0, 0, 0, 0]) } }),
    ],
    ["tdAttributes.mask", "tee-attribute-not-allowed", () => verified({ body: { tdAttributes: new Uint8Array(8) } })],
    [
      "xfam",
      "tee-attribute-not-allowed",
      () => verified({ body: { xfam: Uint8Array.from([0xe7, 0x1a, 6, 0, 0, 0, 0, 0]) } }),
    ],
    ["tcbStatus", "tcb-too-old", () => verified({}, true, 3)],
    ["reportData", "report-data-mismatch", () => verified({ body: { reportData: new Uint8Array(64) } })],
    ["revocation", "revocation-unchecked", () => verified({}, false)],
  ];
  for (const [member, code, make, change] of negatives) {
    it(`${member}: ${code}`, async () => {
      const s = section();
      change?.(s);
      const v = await make();
      assert.throws(
        () => evaluateTdx(parseTdxRules(s), v, { expectedReportData: REPORT_DATA }),
        (e: unknown) =>
          e instanceof PolicyError &&
          e.code === code &&
          e.claim?.path === `tdx.${member}` &&
          e.appraisal?.claims.filter((c) => !c.ok).length === 1,
      );
    });
  }
  it("reportData bound without an expected value fails", () => {
    assert.throws(
      () => evaluateTdx(parseTdxRules(section()), good),
      (e: unknown) => e instanceof PolicyError && e.code === "report-data-mismatch",
    );
  });
});
