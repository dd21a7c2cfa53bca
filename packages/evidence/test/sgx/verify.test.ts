import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import {
  defaultSgxTcbLevels,
  forgeQeIdentity,
  forgeSgxQuote,
  forgeSgxTcbInfo,
  forgeTcbInfo,
  forgeTdxQuote,
  makeTdxPki,
  rawP256,
  TDX_TEST_TIME,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { buildCrl, ecKey } from "@veritee/testkit/x509";
import { VerificationError } from "../../src/errors.js";
import { decodeSgxQeIdentity, decodeSgxTcbInfo } from "../../src/sgx/collateral.js";
import {
  createSgxVerifier,
  type SgxCollateral,
  VerifiedSgxQuote,
  VerifiedSgxQuoteSignatures,
  verifySgxQuote,
  verifySgxQuoteSignatures,
} from "../../src/sgx/verify.js";
import { decodeTdxQeIdentity } from "../../src/tdx/collateral.js";
import { intelSgxRootCa } from "../../src/tdx/roots.js";
import { verifyTdxQuote } from "../../src/tdx/verify.js";
import { OCCLUM, QE_IDENTITY, QUOTE_V3, SGX_AT, TCB_INFO, TCB_SIGNING } from "./vectors.js";

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VerificationError, `expected VerificationError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

async function rejectsMalformed(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof MalformedError && e.code === code);
}

const REAL: SgxCollateral = {
  tcbInfo: TCB_INFO,
  qeIdentity: QE_IDENTITY,
  tcbSigningChain: [TCB_SIGNING, intelSgxRootCa()],
};

describe("verifySgxQuote on the real vectors (Intel's collateral, pinned time)", () => {
  it("the v3 sample: every check passes; platform SWHardeningNeeded, QE UpToDate; CRLs not checked", async () => {
    const v = await verifySgxQuote({ quote: QUOTE_V3, collateral: REAL, at: SGX_AT });
    assert.ok(v instanceof VerifiedSgxQuote);
    assert.equal(v.pck.fmspc, "00606a000000");
    assert.equal(v.tcb.platform, "SWHardeningNeeded");
    assert.equal(v.tcb.qe, "UpToDate");
    assert.deepEqual(v.tcb.advisoryIds, ["INTEL-SA-00615"]);
    assert.equal(v.tcb.tcbEvaluationDataNumber, 17);
    assert.deepEqual(v.revocation, { pckCrl: false, rootCrl: false });
    assert.equal(v.pckChain.path.length, 3);
    assert.ok(Object.isFrozen(v));
  });
  it("the Occlum quote: OutOfDate (its PCK's components are below the newer levels)", async () => {
    const v = await verifySgxQuote({ quote: OCCLUM, collateral: REAL, at: SGX_AT });
    assert.equal(v.tcb.platform, "OutOfDate");
    assert.equal(v.tcb.tcbDate.toISOString(), "2021-11-10T00:00:00.000Z");
    assert.ok(v.tcb.advisoryIds.includes("INTEL-SA-00615"));
  });
  it("signatures only, and a zero-padded real quote", async () => {
    const v = await verifySgxQuoteSignatures({ quote: OCCLUM, at: SGX_AT });
    assert.ok(v instanceof VerifiedSgxQuoteSignatures);
    const padded = Uint8Array.from([...QUOTE_V3, ...new Uint8Array(1000)]);
    await verifySgxQuote({ quote: padded, collateral: REAL, at: SGX_AT });
  });
  it("rejects a mutated enclave report (MRENCLAVE byte): sgx-quote-signature", async () => {
    const q = Uint8Array.from(QUOTE_V3);
    q[48 + 64] = q[48 + 64]! ^ 1;
    await rejectsWith(verifySgxQuoteSignatures({ quote: q, at: SGX_AT }), "sgx-quote-signature");
  });
  it("rejects the collateral outside its window and the chain before the PCK's notBefore", async () => {
    await rejectsWith(
      verifySgxQuote({ quote: QUOTE_V3, collateral: REAL, at: new Date("2025-09-15T00:00:00Z") }),
      "collateral-expired",
    );
    await rejectsWith(
      verifySgxQuote({ quote: QUOTE_V3, collateral: REAL, at: new Date("2025-08-15T05:00:00Z") }),
      "collateral-not-yet-valid",
    );
    await assert.rejects(verifySgxQuoteSignatures({ quote: QUOTE_V3, at: new Date("2024-01-01T00:00:00Z") }), (e) => {
      return e instanceof VerificationError && e.code.startsWith("cert-");
    });
  });
  it("rejects a mutated TCB info or QE identity (signature over the exact bytes)", async () => {
    const tcb = new TextDecoder().decode(TCB_INFO).replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"');
    await rejectsWith(
      verifySgxQuote({ quote: OCCLUM, collateral: { ...REAL, tcbInfo: tcb }, at: SGX_AT }),
      "collateral-signature-invalid",
    );
    const qe = new TextDecoder().decode(QE_IDENTITY).replace('"isvprodid":1', '"isvprodid":2');
    await rejectsWith(
      verifySgxQuote({ quote: OCCLUM, collateral: { ...REAL, qeIdentity: qe }, at: SGX_AT }),
      "collateral-signature-invalid",
    );
  });
  it("refuses the other TEE's documents: TDX TCB info and TD QE identity", async () => {
    const pki = makeTdxPki();
    await rejectsMalformed(
      verifySgxQuote({ quote: OCCLUM, collateral: { ...REAL, tcbInfo: forgeTcbInfo(pki) }, at: SGX_AT }),
      "unsupported",
    );
    const tdQe = forgeQeIdentity(pki);
    await rejectsMalformed(
      verifySgxQuote({ quote: OCCLUM, collateral: { ...REAL, qeIdentity: tdQe }, at: SGX_AT }),
      "unsupported",
    );
    // Handed in decoded, it is still refused.
    await rejectsWith(
      verifySgxQuote({ quote: OCCLUM, collateral: { ...REAL, qeIdentity: decodeTdxQeIdentity(tdQe) }, at: SGX_AT }),
      "collateral-mismatch",
    );
    // And the TDX verifier refuses the SGX QE identity handed in decoded.
    await rejectsWith(
      verifyTdxQuote({
        quote: forgeTdxQuote(pki),
        at: TDX_TEST_TIME,
        roots: [pki.root.cert],
        collateral: {
          tcbInfo: forgeTcbInfo(pki),
          qeIdentity: decodeSgxQeIdentity(forgeQeIdentity(pki, { id: "QE" })),
          tcbSigningChain: tcbSigningChainPem(pki),
        },
      }),
      "collateral-mismatch",
    );
    assert.equal(decodeSgxQeIdentity(QE_IDENTITY).id, "QE");
    assert.equal(decodeSgxTcbInfo(TCB_INFO).tcbLevels[0]!.pceSvn, 13);
  });
});

describe("verifySgxQuote on forged quotes: one field changed, one check fails", () => {
  const pki = makeTdxPki();
  const roots = [pki.root.cert];
  const at = TDX_TEST_TIME;
  const crlTime = new Date("2025-05-01T00:00:00Z");
  const good = (over: Partial<SgxCollateral> = {}): SgxCollateral => ({
    tcbInfo: forgeSgxTcbInfo(pki),
    qeIdentity: forgeQeIdentity(pki, { id: "QE" }),
    tcbSigningChain: tcbSigningChainPem(pki),
    pckCrl: buildCrl({ issuer: pki.platformCa, thisUpdate: crlTime }),
    rootCrl: buildCrl({ issuer: pki.root, thisUpdate: crlTime }),
    ...over,
  });
  const run = (quote: Uint8Array, collateral = good()) => verifySgxQuote({ quote, collateral, at, roots });

  it("accepts a forged quote with full collateral, CRLs checked", async () => {
    const v = await run(forgeSgxQuote(pki));
    assert.equal(v.tcb.platform, "UpToDate");
    assert.equal(v.tcb.qe, "UpToDate");
    assert.deepEqual(v.revocation, { pckCrl: true, rootCrl: true });
    assert.equal(v.body.isvProdId, 7);
  });
  it("VerifiedSgxQuote cannot be constructed outside the verifier", () => {
    const Ctor = VerifiedSgxQuote as unknown as new (...a: unknown[]) => unknown;
    assert.throws(() => new Ctor(Symbol("x"), {}, {}), TypeError);
  });
  it("reports OutOfDate for a platform at the second level, and the QE's status from its ISVSVN", async () => {
    const levels = defaultSgxTcbLevels();
    levels[0]!.pceSvn = 14;
    const v = await run(forgeSgxQuote(pki), good({ tcbInfo: forgeSgxTcbInfo(pki, { tcbLevels: levels }) }));
    assert.equal(v.tcb.platform, "OutOfDate");
    assert.deepEqual(v.tcb.advisoryIds, ["INTEL-SA-00837"]);
    assert.equal((await run(forgeSgxQuote(pki, { qeReport: { isvSvn: 3 } }))).tcb.qe, "OutOfDate");
  });
  it("the cached verifier gives the same verdicts and the same errors", async () => {
    const verifier = createSgxVerifier({ roots });
    const collateral = good();
    for (let i = 0; i < 2; i++) {
      assert.equal((await verifier.verify({ quote: forgeSgxQuote(pki), collateral, at })).tcb.platform, "UpToDate");
    }
    assert.ok(verifier.size > 0);
    const bad = forgeSgxQuote(pki, { quoteSigningKey: ecKey().privateKey });
    await rejectsWith(verifier.verify({ quote: bad, collateral, at }), "sgx-quote-signature");
  });

  const revoked = (issuer: typeof pki.root, serial: Uint8Array) =>
    buildCrl({ issuer, thisUpdate: crlTime, revoked: [{ serial }] });
  const cases: [string, () => Promise<unknown>, string][] = [
    ["QE vendor", () => run(forgeSgxQuote(pki, { qeVendorId: new Uint8Array(16) })), "sgx-qe-vendor"],
    ["quote signature", () => run(forgeSgxQuote(pki, { quoteSigningKey: ecKey().privateKey })), "sgx-quote-signature"],
    [
      "QE report signature",
      () => run(forgeSgxQuote(pki, { qeSigningKey: ecKey().privateKey })),
      "sgx-qe-report-signature",
    ],
    ["binding", () => run(forgeSgxQuote(pki, { qeReport: { reportData: new Uint8Array(64) } })), "sgx-qe-binding"],
    [
      "binding upper half",
      () => {
        const auth = Uint8Array.from({ length: 32 }, (_, i) => i);
        const digest = createHash("sha256").update(rawP256(pki.attestationKey.publicKey)).update(auth).digest();
        const reportData = Uint8Array.from([...digest, ...new Uint8Array(31), 1]);
        return run(forgeSgxQuote(pki, { qeAuthData: auth, qeReport: { reportData } }));
      },
      "sgx-qe-binding",
    ],
    ["PCK chain", () => run(forgeSgxQuote(pki, { chain: [makeTdxPki().pckCert] })), "cert-untrusted-root"],
    [
      "extra certificate in the chain",
      () =>
        run(forgeSgxQuote(pki, { chain: [pki.pckCert, pki.platformCa.cert, pki.root.cert, makeTdxPki().root.cert] })),
      "cert-untrusted-root",
    ],
    [
      "revoked PCK",
      () => run(forgeSgxQuote(pki), good({ pckCrl: revoked(pki.platformCa, pki.pck.serial) })),
      "cert-revoked",
    ],
    [
      "revoked Platform CA",
      () => run(forgeSgxQuote(pki), good({ rootCrl: revoked(pki.root, Uint8Array.of(1)) })),
      "cert-revoked",
    ],
    [
      "revoked TCB signing certificate",
      () => run(forgeSgxQuote(pki), good({ rootCrl: revoked(pki.root, Uint8Array.of(0x7e)) })),
      "cert-revoked",
    ],
    [
      "PCK CRL of another CA",
      () => run(forgeSgxQuote(pki), good({ pckCrl: buildCrl({ issuer: pki.root, thisUpdate: crlTime }) })),
      "crl-issuer-mismatch",
    ],
    [
      "forged CRL signature",
      () =>
        run(
          forgeSgxQuote(pki),
          good({ pckCrl: buildCrl({ issuer: pki.platformCa, signingKey: ecKey().privateKey, thisUpdate: crlTime }) }),
        ),
      "crl-signature-invalid",
    ],
    [
      "TCB info signer",
      () => run(forgeSgxQuote(pki), good({ tcbInfo: forgeSgxTcbInfo(pki, { signingKey: ecKey().privateKey }) })),
      "collateral-signature-invalid",
    ],
    [
      "QE identity signer",
      () =>
        run(
          forgeSgxQuote(pki),
          good({ qeIdentity: forgeQeIdentity(pki, { id: "QE", signingKey: ecKey().privateKey }) }),
        ),
      "collateral-signature-invalid",
    ],
    [
      "TCB info for another FMSPC",
      () => run(forgeSgxQuote(pki), good({ tcbInfo: forgeSgxTcbInfo(pki, { fmspc: "00606a000000" }) })),
      "collateral-mismatch",
    ],
    [
      "TCB info for another PCE ID",
      () => run(forgeSgxQuote(pki), good({ tcbInfo: forgeSgxTcbInfo(pki, { pceId: "0001" }) })),
      "collateral-mismatch",
    ],
    [
      "expired TCB info",
      () => run(forgeSgxQuote(pki), good({ tcbInfo: forgeSgxTcbInfo(pki, { nextUpdate: "2025-05-31T00:00:00Z" }) })),
      "collateral-expired",
    ],
    [
      "QE MRSIGNER",
      () => run(forgeSgxQuote(pki, { qeReport: { mrSigner: new Uint8Array(32).fill(9) } })),
      "sgx-qe-identity-mismatch",
    ],
    ["QE ISVPRODID", () => run(forgeSgxQuote(pki, { qeReport: { isvProdId: 1 } })), "sgx-qe-identity-mismatch"],
    [
      "QE attributes",
      () =>
        run(
          forgeSgxQuote(pki, {
            qeReport: { attributes: Uint8Array.from([0x17, ...new Uint8Array(7), 0xe7, 0, 0, 0, 0, 0, 0, 0]) },
          }),
        ),
      "sgx-qe-identity-mismatch",
    ],
    [
      "QE ISVSVN below every level",
      () => run(forgeSgxQuote(pki, { qeReport: { isvSvn: 1 } })),
      "sgx-qe-tcb-not-supported",
    ],
  ];
  for (const [name, fn, code] of cases) {
    it(`rejects: ${name} (${code})`, () => rejectsWith(fn(), code));
  }
  it("rejects a platform below every TCB level: sgx-tcb-not-supported", async () => {
    const low = makeTdxPki({ sgxTcbComponents: new Array(16).fill(1), pceSvn: 5 });
    await rejectsWith(
      verifySgxQuote({
        quote: forgeSgxQuote(low),
        at,
        roots: [low.root.cert],
        collateral: {
          tcbInfo: forgeSgxTcbInfo(low),
          qeIdentity: forgeQeIdentity(low, { id: "QE" }),
          tcbSigningChain: tcbSigningChainPem(low),
        },
      }),
      "sgx-tcb-not-supported",
    );
  });
});
