import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import {
  defaultTcbLevels,
  forgeQeIdentity,
  forgeTcbInfo,
  forgeTdxQuote,
  INTEL_TCB_SIGNING_PEM,
  makeTdxPki,
  rawP256,
  TDX_TEST_TIME,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { buildCrl, ecKey } from "@veritee/testkit/x509";
import { VerificationError } from "../../src/errors.js";
import { decodeTdxQeIdentity, decodeTdxTcbInfo, verifyCollateralSignature } from "../../src/tdx/collateral.js";
import { decodeTdxQuote } from "../../src/tdx/decode.js";
import { decodePemCertificates } from "../../src/tdx/pem.js";
import { intelSgxRootCa } from "../../src/tdx/roots.js";
import {
  type TdxCollateral,
  VerifiedTdxQuote,
  VerifiedTdxQuoteSignatures,
  verifyTdxQuote,
  verifyTdxQuoteSignatures,
} from "../../src/tdx/verify.js";
import { tdxVector, V4_AT, V5_AT } from "./vectors.js";

const V4 = decodeTdxQuote(tdxVector("tdx_prod_quote_SPR_E4.dat"), { trailingData: "ignore" }).raw;
const V5 = tdxVector("quote_v5_sample.dat");
const PCK_CRL = tdxVector("pckcrl");
const ROOT_CRL = tdxVector("rootcrl.der");
const TCB_INFO = tdxVector("sample_tcbInfo_response");
const QE_IDENTITY = tdxVector("sample_qeIdentity_response");
const INTEL_SIGNING = decodePemCertificates(new TextEncoder().encode(INTEL_TCB_SIGNING_PEM), "test");

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VerificationError, `expected VerificationError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

async function rejectsTyped(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof VerificationError || e instanceof MalformedError);
}

describe("the production v4 quote (Sapphire Rapids E4)", () => {
  it("verifies: PCK chain to the Intel root, CRLs, QE report signature, binding, quote signature", async () => {
    const v = await verifyTdxQuoteSignatures({ quote: V4, at: V4_AT, pckCrl: PCK_CRL, rootCrl: ROOT_CRL });
    assert.ok(v instanceof VerifiedTdxQuoteSignatures);
    assert.deepEqual(v.revocation, { pckCrl: true, rootCrl: true });
    assert.equal(v.pck.fmspc, "50806f000000");
    assert.equal(v.pck.pceId, "0000");
    assert.equal(v.pck.pceSvn, 11);
    assert.deepEqual(v.pck.sgxTcbComponents, [3, 3, 2, 2, 2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(v.pckChain.anchor.subject.text.includes("Intel SGX Root CA"), true);
  });

  it("its TCB info and QE identity are signed by Intel's TCB signing certificate, chained to the embedded root", async () => {
    const chain = await verifyCollateralSignature(decodeTdxTcbInfo(TCB_INFO), INTEL_SIGNING, [intelSgxRootCa()], V4_AT);
    assert.equal(chain.leaf.subject.attributes.find((a) => a.oid === "2.5.4.3")?.value, "Intel SGX TCB Signing");
    await verifyCollateralSignature(decodeTdxQeIdentity(QE_IDENTITY), INTEL_SIGNING, [intelSgxRootCa()], V4_AT);
  });

  it("with all collateral: every check passes up to the TCB level, and the platform is below every level of the sample TCB info", async () => {
    // The PCK certificate's SGX components (3,3,2,2,2,1,0,2) are below both
    // levels of sample_tcbInfo_response (5,5,2,2,3,1,0,3): Intel's QVL
    // answers "TCB not supported" for this pair too.
    await rejectsWith(
      verifyTdxQuote({
        quote: V4,
        at: V4_AT,
        collateral: {
          tcbInfo: TCB_INFO,
          qeIdentity: QE_IDENTITY,
          tcbSigningChain: INTEL_TCB_SIGNING_PEM,
          pckCrl: PCK_CRL,
          rootCrl: ROOT_CRL,
        },
      }),
      "tdx-tcb-not-supported",
    );
  });

  it("is refused outside the pinned window and under another root", async () => {
    await rejectsWith(verifyTdxQuoteSignatures({ quote: V4, at: new Date("2030-01-01T00:00:00Z") }), "cert-expired");
    await rejectsWith(
      verifyTdxQuoteSignatures({
        quote: V4,
        at: V4_AT,
        pckCrl: PCK_CRL,
        rootCrl: ROOT_CRL,
        roots: [makeTdxPki().root.cert],
      }),
      "cert-untrusted-root",
    );
    await rejectsWith(
      verifyTdxQuoteSignatures({ quote: V4, at: new Date("2023-07-09T00:00:00Z"), pckCrl: PCK_CRL }),
      "crl-expired",
    );
  });

  it("rejects a single-byte change anywhere in header, body, signature, key and QE report; sampled over the PEM chain", async () => {
    const pemStart = 48 + 584 + 4 + 128 + 6 + 384 + 64 + 2 + 32 + 6;
    let checked = 0;
    for (let i = 0; i < V4.length; i += i < pemStart ? 1 : 17) {
      const m = Uint8Array.from(V4);
      m[i]! ^= 0x01;
      await rejectsTyped(verifyTdxQuoteSignatures({ quote: m, at: V4_AT }));
      checked++;
    }
    assert.ok(checked > pemStart);
  });

  it("rejects a single-byte change anywhere in the TCB info and QE identity", async () => {
    for (const doc of [TCB_INFO, QE_IDENTITY]) {
      for (let i = 0; i < doc.length - 1; i++) {
        const m = Uint8Array.from(doc);
        m[i]! ^= 0x01;
        await rejectsTyped(
          (async () => {
            const d = doc === TCB_INFO ? decodeTdxTcbInfo(m) : decodeTdxQeIdentity(m);
            await verifyCollateralSignature(d, INTEL_SIGNING, [intelSgxRootCa()], V4_AT);
          })(),
        );
      }
    }
  });
});

describe("the v5 sample quote", () => {
  it("verifies its chain and signatures at a pinned time", async () => {
    const v = await verifyTdxQuoteSignatures({ quote: V5, at: V5_AT });
    assert.equal(v.quote.body.kind, "td1.5");
    assert.equal(v.pck.fmspc, "90c06f000000");
    assert.deepEqual(v.revocation, { pckCrl: false, rootCrl: false });
  });
  it("is not vouched for by the 2023 CRLs, which are expired by then", async () => {
    await rejectsWith(verifyTdxQuoteSignatures({ quote: V5, at: V5_AT, rootCrl: ROOT_CRL }), "crl-expired");
  });
});

describe("verifyTdxQuote on forged quotes: one field changed, one check fails", () => {
  const pki = makeTdxPki();
  const roots = [pki.root.cert];
  const at = TDX_TEST_TIME;
  const good = (over: Partial<TdxCollateral> = {}): TdxCollateral => ({
    tcbInfo: forgeTcbInfo(pki),
    qeIdentity: forgeQeIdentity(pki),
    tcbSigningChain: tcbSigningChainPem(pki),
    pckCrl: buildCrl({ issuer: pki.platformCa, thisUpdate: new Date("2025-05-01T00:00:00Z") }),
    rootCrl: buildCrl({ issuer: pki.root, thisUpdate: new Date("2025-05-01T00:00:00Z") }),
    ...over,
  });
  const run = (quote: Uint8Array, collateral = good()) => verifyTdxQuote({ quote, collateral, at, roots });

  it("accepts a forged v4 and v5 quote with full collateral", async () => {
    for (const version of [4, 5] as const) {
      const v = await run(forgeTdxQuote(pki, { version }));
      assert.ok(v instanceof VerifiedTdxQuote);
      assert.equal(v.tcb.platform, "UpToDate");
      assert.equal(v.tcb.qe, "UpToDate");
      assert.equal(v.tcb.module, undefined);
      assert.deepEqual(v.revocation, { pckCrl: true, rootCrl: true });
      assert.ok(Object.isFrozen(v));
    }
  });
  it("VerifiedTdxQuote cannot be constructed outside the verifier", () => {
    const Ctor = VerifiedTdxQuote as unknown as new (...a: unknown[]) => unknown;
    assert.throws(() => new Ctor(Symbol("x"), {}, {}), TypeError);
  });
  it("reports OutOfDate for a platform at the second level, with its advisories", async () => {
    const levels = defaultTcbLevels();
    levels[0]!.pceSvn = 14;
    const v = await run(forgeTdxQuote(pki), good({ tcbInfo: forgeTcbInfo(pki, { tcbLevels: levels }) }));
    assert.equal(v.tcb.platform, "OutOfDate");
    assert.deepEqual(v.tcb.advisoryIds, ["INTEL-SA-00837"]);
  });
  it("reports the QE's OutOfDate status from its ISVSVN", async () => {
    const v = await run(forgeTdxQuote(pki, { qeReport: { isvSvn: 3 } }));
    assert.equal(v.tcb.qe, "OutOfDate");
  });
  it("judges a module of version 1 by its module identity", async () => {
    const body = { teeTcbSvn: Uint8Array.from([3, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) };
    const identity = {
      id: "TDX_01",
      mrsigner: "00".repeat(48),
      attributes: "0000000000000000",
      attributesMask: "FFFFFFFFFFFFFFFF",
      tcbLevels: [{ tcb: { isvsvn: 3 }, tcbDate: "2024-03-13T00:00:00Z", tcbStatus: "SWHardeningNeeded" }],
    };
    const v = await run(
      forgeTdxQuote(pki, { body }),
      good({ tcbInfo: forgeTcbInfo(pki, { tdxModuleIdentities: [identity] }) }),
    );
    assert.equal(v.tcb.module, "SWHardeningNeeded");
    await rejectsWith(run(forgeTdxQuote(pki, { body })), "tdx-module-mismatch");
  });

  const cases: [string, () => Promise<unknown>, string][] = [
    ["QE vendor", () => run(forgeTdxQuote(pki, { qeVendorId: new Uint8Array(16) })), "tdx-qe-vendor"],
    ["quote signature", () => run(forgeTdxQuote(pki, { quoteSigningKey: ecKey().privateKey })), "tdx-quote-signature"],
    [
      "QE report signature",
      () => run(forgeTdxQuote(pki, { qeSigningKey: ecKey().privateKey })),
      "tdx-qe-report-signature",
    ],
    ["binding", () => run(forgeTdxQuote(pki, { qeReport: { reportData: new Uint8Array(64) } })), "tdx-qe-binding"],
    [
      "binding upper half",
      () => {
        const auth = Uint8Array.from({ length: 32 }, (_, i) => i);
        const digest = createHash("sha256").update(rawP256(pki.attestationKey.publicKey)).update(auth).digest();
        const reportData = Uint8Array.from([...digest, ...new Uint8Array(31), 1]);
        return run(forgeTdxQuote(pki, { qeAuthData: auth, qeReport: { reportData } }));
      },
      "tdx-qe-binding",
    ],
    [
      "extra certificate in the chain",
      () =>
        run(forgeTdxQuote(pki, { chain: [pki.pckCert, pki.platformCa.cert, pki.root.cert, makeTdxPki().root.cert] })),
      "cert-untrusted-root",
    ],
    ["PCK chain", () => run(forgeTdxQuote(pki, { chain: [makeTdxPki().pckCert] })), "cert-untrusted-root"],
    [
      "revoked PCK",
      () =>
        run(
          forgeTdxQuote(pki),
          good({
            pckCrl: buildCrl({
              issuer: pki.platformCa,
              thisUpdate: new Date("2025-05-01T00:00:00Z"),
              revoked: [{ serial: pki.pck.serial, reason: 1 }],
            }),
          }),
        ),
      "cert-revoked",
    ],
    [
      "revoked Platform CA",
      () =>
        run(
          forgeTdxQuote(pki),
          good({
            rootCrl: buildCrl({
              issuer: pki.root,
              thisUpdate: new Date("2025-05-01T00:00:00Z"),
              revoked: [{ serial: Uint8Array.of(1) }],
            }),
          }),
        ),
      "cert-revoked",
    ],
    [
      "PCK CRL of another CA",
      () => run(forgeTdxQuote(pki), good({ pckCrl: buildCrl({ issuer: pki.root }) })),
      "crl-issuer-mismatch",
    ],
    [
      "TCB info signer",
      () => run(forgeTdxQuote(pki), good({ tcbInfo: forgeTcbInfo(pki, { signingKey: ecKey().privateKey }) })),
      "collateral-signature-invalid",
    ],
    [
      "QE identity signer",
      () => run(forgeTdxQuote(pki), good({ qeIdentity: forgeQeIdentity(pki, { signingKey: ecKey().privateKey }) })),
      "collateral-signature-invalid",
    ],
    [
      "signing chain name",
      () => run(forgeTdxQuote(pki), good({ tcbSigningChain: [pki.platformCa.cert, pki.root.cert] })),
      "collateral-signer",
    ],
    [
      "TCB info expired",
      () => run(forgeTdxQuote(pki), good({ tcbInfo: forgeTcbInfo(pki, { nextUpdate: "2025-05-30T00:00:00Z" }) })),
      "collateral-expired",
    ],
    [
      "QE identity not yet valid",
      () =>
        run(
          forgeTdxQuote(pki),
          good({
            qeIdentity: forgeQeIdentity(pki, { issueDate: "2025-06-02T00:00:00Z", nextUpdate: "2025-07-01T00:00:00Z" }),
          }),
        ),
      "collateral-not-yet-valid",
    ],
    [
      "FMSPC",
      () => run(forgeTdxQuote(pki), good({ tcbInfo: forgeTcbInfo(pki, { fmspc: "00906ed50001" }) })),
      "collateral-mismatch",
    ],
    [
      "PCE ID",
      () => run(forgeTdxQuote(pki), good({ tcbInfo: forgeTcbInfo(pki, { pceId: "0001" }) })),
      "collateral-mismatch",
    ],
    [
      "QE MRSIGNER",
      () => run(forgeTdxQuote(pki, { qeReport: { mrSigner: new Uint8Array(32) } })),
      "tdx-qe-identity-mismatch",
    ],
    ["QE ISVPRODID", () => run(forgeTdxQuote(pki, { qeReport: { isvProdId: 1 } })), "tdx-qe-identity-mismatch"],
    [
      "QE attributes",
      () => run(forgeTdxQuote(pki, { qeReport: { attributes: new Uint8Array(16).fill(0xff) } })),
      "tdx-qe-identity-mismatch",
    ],
    ["QE MISCSELECT", () => run(forgeTdxQuote(pki, { qeReport: { miscSelect: 1 } })), "tdx-qe-identity-mismatch"],
    ["QE ISVSVN", () => run(forgeTdxQuote(pki, { qeReport: { isvSvn: 1 } })), "tdx-qe-tcb-not-supported"],
    [
      "MRSIGNERSEAM",
      () => run(forgeTdxQuote(pki, { body: { mrSignerSeam: new Uint8Array(48).fill(1) } })),
      "tdx-module-mismatch",
    ],
    [
      "TEE TCB SVN",
      () => run(forgeTdxQuote(pki, { body: { teeTcbSvn: new Uint8Array(16) } })),
      "tdx-tcb-not-supported",
    ],
    [
      "PCK SGX components",
      () => {
        const p = makeTdxPki({ sgxTcbComponents: new Array(16).fill(0) });
        return verifyTdxQuote({
          quote: forgeTdxQuote(p),
          collateral: {
            tcbInfo: forgeTcbInfo(p),
            qeIdentity: forgeQeIdentity(p),
            tcbSigningChain: tcbSigningChainPem(p),
          },
          at,
          roots: [p.root.cert],
        });
      },
      "tdx-tcb-not-supported",
    ],
  ];
  for (const [field, fn, code] of cases) {
    it(`${field}: ${code}`, async () => rejectsWith(fn() as Promise<unknown>, code));
  }
});
