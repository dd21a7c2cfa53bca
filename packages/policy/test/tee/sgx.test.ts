import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { intelSgxRootCa, type VerifiedSgxQuote, verifySgxQuote } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import {
  type ForgeSgxQuoteOptions,
  forgeQeIdentity,
  forgeSgxQuote,
  forgeSgxTcbInfo,
  makeTdxPki,
  TDX_TEST_TIME,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { buildCrl } from "@veritee/testkit/x509";
import { PolicyError } from "../../src/errors.js";
import { evaluate } from "../../src/evaluate.js";
import { evaluateSgx, parseSgxRules, sgxClaims } from "../../src/tee/sgx.js";
import { parsePolicy } from "../../src/validate.js";
import { devPolicyJson, NOW, verifiedFixture } from "../support/fixtures.js";

const pki = makeTdxPki();
const h = (n: number, v: number) => Buffer.alloc(n, v).toString("hex");

async function verified(options: ForgeSgxQuoteOptions = {}, crls = true): Promise<VerifiedSgxQuote> {
  const crlTime = new Date("2025-05-01T00:00:00Z");
  return verifySgxQuote({
    quote: forgeSgxQuote(pki, options),
    collateral: {
      tcbInfo: forgeSgxTcbInfo(pki),
      qeIdentity: forgeQeIdentity(pki, { id: "QE" }),
      tcbSigningChain: tcbSigningChainPem(pki),
      ...(crls
        ? {
            pckCrl: buildCrl({ issuer: pki.platformCa, thisUpdate: crlTime }),
            rootCrl: buildCrl({ issuer: pki.root, thisUpdate: crlTime }),
          }
        : {}),
    },
    at: TDX_TEST_TIME,
    roots: [pki.root.cert],
  });
}

/** A section matching the forger's default enclave exactly. */
function section(): Record<string, unknown> {
  return {
    mrEnclave: h(32, 0x3e),
    mrSigner: [h(32, 0x51), h(32, 0x99)],
    isvProdId: 7,
    minIsvSvn: 3,
    // INIT (bit 0) and MODE64BIT (bit 2) must be set; XFRM unchecked.
    attributes: { allowDebug: false, mask: `05${"00".repeat(15)}`, value: `05${"00".repeat(15)}` },
    tcbStatus: ["UpToDate"],
    reportData: "bound",
    revocation: "required",
  };
}
const REPORT_DATA = new Uint8Array(64).fill(0xd5);

function invalid(s: Record<string, unknown>, path: RegExp): void {
  assert.throws(
    () => parseSgxRules(s),
    (e: unknown) => e instanceof PolicyError && e.code === "invalid-policy" && path.test(e.path ?? ""),
  );
}

describe("parseSgxRules", () => {
  it("accepts the full section and freezes it", () => {
    const r = parseSgxRules(section());
    assert.equal(r.isvProdId, 7);
    assert.ok(Object.isFrozen(r) && Object.isFrozen(r.attributes) && Object.isFrozen(r.tcbStatus));
  });
  it("refuses missing, unknown and malformed members", () => {
    const { minIsvSvn: _m, ...missing } = section();
    invalid(missing, /^sgx\.minIsvSvn$/);
    invalid({ ...section(), mrenclave: "x" }, /^sgx\.mrenclave$/);
    invalid({ ...section(), mrEnclave: h(48, 1) }, /^sgx\.mrEnclave$/);
    invalid({ ...section(), mrEnclave: h(32, 0xab).toUpperCase() }, /^sgx\.mrEnclave$/);
    invalid({ ...section(), isvProdId: 65536 }, /^sgx\.isvProdId$/);
    invalid({ ...section(), minIsvSvn: -1 }, /^sgx\.minIsvSvn$/);
    invalid({ ...section(), reportData: "none" }, /^sgx\.reportData$/);
    invalid({ ...section(), revocation: true }, /^sgx\.revocation$/);
  });
  it("refuses mrEnclave and mrSigner both any (any enclave from anyone)", () => {
    invalid({ ...section(), mrEnclave: "any", mrSigner: "any" }, /^sgx\.mrEnclave$/);
    parseSgxRules({ ...section(), mrEnclave: "any" });
  });
  it("refuses DEBUG in the mask, value bits outside it, Revoked and duplicate statuses", () => {
    const attrs = (mask: string, value: string) => ({ allowDebug: false, mask, value });
    invalid({ ...section(), attributes: attrs(`02${"00".repeat(15)}`, "00".repeat(16)) }, /attributes\.mask$/);
    invalid({ ...section(), attributes: attrs("00".repeat(16), `01${"00".repeat(15)}`) }, /attributes\.value$/);
    invalid({ ...section(), attributes: { ...attrs("00".repeat(16), "00".repeat(16)), allowDebug: 1 } }, /allowDebug$/);
    invalid({ ...section(), tcbStatus: ["Revoked"] }, /tcbStatus\[0\]$/);
    invalid({ ...section(), tcbStatus: ["UpToDate", "UpToDate"] }, /tcbStatus$/);
    invalid({ ...section(), tcbStatus: [] }, /tcbStatus$/);
  });
});

describe("evaluateSgx: each rule passes the forged enclave and fails one changed field", () => {
  let good: VerifiedSgxQuote;
  before(async () => {
    good = await verified();
  });
  const expectFail = (rules: Record<string, unknown>, v: () => VerifiedSgxQuote, code: string, path: string) => {
    assert.throws(
      () => evaluateSgx(parseSgxRules(rules), v(), { expectedReportData: REPORT_DATA }),
      (e: unknown) => e instanceof PolicyError && e.code === code && e.claim?.path === path,
    );
  };
  it("passes with every claim recorded", () => {
    const a = evaluateSgx(parseSgxRules(section()), good, { expectedReportData: REPORT_DATA });
    assert.equal(a.verdict, "pass");
    assert.deepEqual(
      a.claims.map((c) => c.path),
      [
        "sgx.mrEnclave",
        "sgx.mrSigner",
        "sgx.isvProdId",
        "sgx.minIsvSvn",
        "sgx.attributes.allowDebug",
        "sgx.attributes.mask",
        "sgx.tcbStatus",
        "sgx.reportData",
        "sgx.revocation",
      ],
    );
  });
  it("MRENCLAVE, MRSIGNER, ISV product id", async () => {
    expectFail({ ...section(), mrEnclave: h(32, 1) }, () => good, "measurement-mismatch", "sgx.mrEnclave");
    const other = await verified({ body: { mrSigner: new Uint8Array(32).fill(2) } });
    expectFail(section(), () => other, "measurement-mismatch", "sgx.mrSigner");
    expectFail({ ...section(), isvProdId: 8 }, () => good, "measurement-mismatch", "sgx.isvProdId");
    evaluateSgx(parseSgxRules({ ...section(), isvProdId: "any" }), good, { expectedReportData: REPORT_DATA });
  });
  it("ISV SVN below the minimum", () => {
    expectFail({ ...section(), minIsvSvn: 4 }, () => good, "tcb-too-old", "sgx.minIsvSvn");
  });
  it("a DEBUG enclave is refused unless allowed", async () => {
    const dbg = await verified({
      body: { attributes: Uint8Array.from([0x07, ...new Uint8Array(7), 0xe7, 0, 0, 0, 0, 0, 0, 0]) },
    });
    expectFail(section(), () => dbg, "tee-attribute-not-allowed", "sgx.attributes.allowDebug");
    const allowed = { ...section(), attributes: { ...(section().attributes as object), allowDebug: true } };
    evaluateSgx(parseSgxRules(allowed), dbg, { expectedReportData: REPORT_DATA });
  });
  it("masked attributes", async () => {
    const no64 = await verified({ body: { attributes: Uint8Array.from([0x01, ...new Uint8Array(15)]) } });
    expectFail(section(), () => no64, "tee-attribute-not-allowed", "sgx.attributes.mask");
  });
  it("TCB status: the platform's and the QE's must both be accepted", async () => {
    const oldQe = await verified({ qeReport: { isvSvn: 3 } });
    expectFail(section(), () => oldQe, "tcb-too-old", "sgx.tcbStatus");
    evaluateSgx(parseSgxRules({ ...section(), tcbStatus: ["UpToDate", "OutOfDate"] }), oldQe, {
      expectedReportData: REPORT_DATA,
    });
  });
  it("report data bound: a different or missing expectation fails", () => {
    assert.throws(
      () => evaluateSgx(parseSgxRules(section()), good, { expectedReportData: new Uint8Array(64) }),
      (e: unknown) => e instanceof PolicyError && e.code === "report-data-mismatch",
    );
    assert.throws(
      () => evaluateSgx(parseSgxRules(section()), good),
      (e: unknown) => e instanceof PolicyError && e.code === "report-data-mismatch",
    );
  });
  it("revocation required: no CRLs fails", async () => {
    const noCrl = await verified({}, false);
    expectFail(section(), () => noCrl, "revocation-unchecked", "sgx.revocation");
  });
  it("takes only a VerifiedSgxQuote", () => {
    assert.throws(() => sgxClaims(parseSgxRules(section()), {} as VerifiedSgxQuote), TypeError);
  });
});

describe("evaluateSgx on the real v3 sample (Intel's collateral)", () => {
  it("SWHardeningNeeded must be listed to pass; the Occlum DEBUG enclave is refused", async () => {
    const read = (n: string) => new Uint8Array(readFileSync(sharedPath("vectors", "sgx", n)));
    const collateral = {
      tcbInfo: read("sgx_tcbinfov3_00606a000000.json"),
      qeIdentity: read("sgx_qeidentity_v4.json"),
      tcbSigningChain: [read("intel_sgx_tcb_signing.der"), intelSgxRootCa()],
    };
    const at = new Date("2025-08-20T00:00:00Z");
    const quote = Uint8Array.from(Buffer.from(new TextDecoder().decode(read("quotev3.hex")).trim(), "hex"));
    const v = await verifySgxQuote({ quote, collateral, at });
    const rules = {
      ...section(),
      mrEnclave: "a4f45c39dac622cb1dd32ddb35a52ec92db41d0fa88a1c911c49e59c534f61cd",
      mrSigner: "any",
      isvProdId: 0,
      minIsvSvn: 0,
      reportData: "any",
      revocation: "any",
    };
    assert.throws(
      () => evaluateSgx(parseSgxRules(rules), v),
      (e: unknown) => e instanceof PolicyError && e.code === "tcb-too-old",
    );
    evaluateSgx(parseSgxRules({ ...rules, tcbStatus: ["UpToDate", "SWHardeningNeeded"] }), v);
    const occlum = await verifySgxQuote({ quote: read("occlum_quote.dat"), collateral, at });
    assert.throws(
      () => evaluateSgx(parseSgxRules({ ...rules, mrEnclave: "any", mrSigner: h(32, 0) }), occlum),
      (e: unknown) => e instanceof PolicyError && e.claim?.path === "sgx.mrSigner",
    );
    const claims = sgxClaims(parseSgxRules({ ...rules, mrEnclave: "any", mrSigner: h(32, 0) }), occlum);
    assert.equal(claims.find((c) => c.path === "sgx.attributes.allowDebug")?.ok, false);
  });
});

describe("platform.sgx in a policy document", () => {
  it("is optional (absent is none), validated when given, and a rule set fails closed without SGX evidence", async () => {
    const doc = devPolicyJson() as unknown as { platform: Record<string, unknown> };
    assert.equal(parsePolicy(doc).platform.sgx, undefined);
    assert.equal(parsePolicy({ ...doc, platform: { ...doc.platform, sgx: "none" } }).platform.sgx, "none");
    const p = parsePolicy({ ...doc, platform: { ...doc.platform, sgx: section() } });
    assert.notEqual(p.platform.sgx, "none");
    assert.throws(
      () => parsePolicy({ ...doc, platform: { ...doc.platform, sgx: { ...section(), mrEnclave: 1 } } }),
      (e: unknown) => e instanceof PolicyError && e.path === "platform.sgx.mrEnclave",
    );
    assert.throws(
      () => parsePolicy({ ...doc, platform: { ...doc.platform, sgx: "any" } }),
      (e: unknown) => e instanceof PolicyError && e.path === "platform.sgx",
    );
    const fixture = await verifiedFixture();
    assert.equal(evaluate(fixture, parsePolicy(doc), { now: NOW }).verdict, "pass");
    assert.throws(
      () => evaluate(fixture, p, { now: NOW }),
      (e: unknown) =>
        e instanceof PolicyError && e.code === "platform-evidence-missing" && e.claim?.path === "platform.sgx",
    );
  });
});
