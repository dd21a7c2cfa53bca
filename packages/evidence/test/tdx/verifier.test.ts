/**
 * The cached TDX verifier (`createTdxVerifier`): same verdicts and errors as
 * `verifyTdxQuote`, while a warm cache never lets through what depends on
 * the time or on the quote — an expired certificate or collateral, a revoked
 * PCK, a mutated quote or collateral.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError, VeriteeError } from "@veritee/core";
import {
  forgeQeIdentity,
  forgeTcbInfo,
  forgeTdxQuote,
  makeTdxPki,
  TDX_TEST_TIME,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { buildCrl } from "@veritee/testkit/x509";
import { VerificationError } from "../../src/errors.js";
import { createTdxVerifier, type TdxCollateral, verifyTdxQuote } from "../../src/tdx/verify.js";

const pki = makeTdxPki();
const roots = [pki.root.cert];
const at = TDX_TEST_TIME;
const crlWindow = { thisUpdate: new Date("2025-05-01T00:00:00Z"), nextUpdate: new Date("2032-01-01T00:00:00Z") };
const collateral: TdxCollateral = {
  tcbInfo: forgeTcbInfo(pki),
  qeIdentity: forgeQeIdentity(pki),
  tcbSigningChain: tcbSigningChainPem(pki),
  pckCrl: buildCrl({ issuer: pki.platformCa, ...crlWindow }),
  rootCrl: buildCrl({ issuer: pki.root, ...crlWindow }),
};
const quote = forgeTdxQuote(pki, { version: 4 });

/** The error's class and code, or "ok". */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof VeriteeError) return `${e.kind}:${e.code}`;
    throw e;
  }
}

async function warm() {
  const verifier = createTdxVerifier({ roots });
  await verifier.verify({ quote, collateral, at });
  return verifier;
}

describe("createTdxVerifier", () => {
  it("gives the verdict of verifyTdxQuote, and reuses verified collateral", async () => {
    const verifier = await warm();
    const size = verifier.size;
    assert.ok(size >= 5, `cached ${size}`);
    const cached = await verifier.verify({ quote, collateral, at });
    const plain = await verifyTdxQuote({ quote, collateral, at, roots });
    assert.deepEqual(cached.tcb, plain.tcb);
    assert.deepEqual(cached.revocation, plain.revocation);
    assert.equal(cached.verifiedAt.getTime(), at.getTime());
    assert.equal(verifier.size, size, "a second quote of the platform adds nothing");
    const other = forgeTdxQuote(pki, { version: 5 });
    assert.equal((await verifier.verify({ quote: other, collateral, at })).tcb.platform, "UpToDate");
    assert.equal(verifier.size, size, "same PCK chain, same collateral");
    verifier.clear();
    assert.equal(verifier.size, 0);
  });

  it("a warm cache still rejects a time outside any validity window, as the uncached verifier does", async () => {
    const verifier = await warm();
    const cases: [string, string][] = [
      ["2025-06-20T00:00:00Z", "verification:collateral-expired"], // TCB info and QE identity nextUpdate
      ["2025-05-19T00:00:00Z", "verification:collateral-not-yet-valid"],
      ["2023-12-31T00:00:00Z", "verification:cert-not-yet-valid"], // the PCK certificate
      ["2031-02-01T00:00:00Z", "verification:cert-expired"],
      ["2032-02-01T00:00:00Z", "verification:cert-expired"],
    ];
    for (const [time, expected] of cases) {
      const t = new Date(time);
      assert.equal(await outcome(verifier.verify({ quote, collateral, at: t })), expected, time);
      assert.equal(await outcome(verifyTdxQuote({ quote, collateral, at: t, roots })), expected, time);
    }
    // And it is still good at the original time.
    assert.equal(await outcome(verifier.verify({ quote, collateral, at })), "ok");
  });

  it("an expired CRL is refused after the same CRL verified earlier", async () => {
    const verifier = createTdxVerifier({ roots });
    const shortCrl = buildCrl({ issuer: pki.platformCa, thisUpdate: crlWindow.thisUpdate, nextUpdate: at });
    const c = { ...collateral, pckCrl: shortCrl };
    assert.equal(await outcome(verifier.verify({ quote, collateral: c, at })), "ok");
    const later = new Date(at.getTime() + 1000);
    assert.equal(await outcome(verifier.verify({ quote, collateral: c, at: later })), "verification:crl-expired");
  });

  it("a revoked PCK is refused with a warm cache, and again with the same (cached) CRL", async () => {
    const verifier = await warm();
    const revoking = buildCrl({ issuer: pki.platformCa, ...crlWindow, revoked: [{ serial: pki.pck.serial }] });
    const c = { ...collateral, pckCrl: revoking };
    for (let i = 0; i < 2; i++) {
      assert.equal(await outcome(verifier.verify({ quote, collateral: c, at })), "verification:cert-revoked");
      assert.equal(
        await outcome(verifier.verifySignatures({ quote, at, pckCrl: revoking })),
        "verification:cert-revoked",
      );
    }
  });

  it("every sampled one-byte change of the quote fails as it does uncached", async () => {
    const verifier = await warm();
    let rejected = 0;
    let sampled = 0;
    for (let i = 0; i < quote.length; i += 41) {
      sampled++;
      const bad = Uint8Array.from(quote);
      bad[i]! ^= 0x01;
      const cached = await outcome(verifier.verify({ quote: bad, collateral, at }));
      const plain = await outcome(verifyTdxQuote({ quote: bad, collateral, at, roots }));
      assert.equal(cached, plain, `byte ${i}`);
      if (cached !== "ok") rejected++;
    }
    // Every byte is signed, checked, or part of the PCK chain: nothing may pass.
    assert.equal(rejected, sampled);
  });

  it("a mutated TCB info or QE identity is refused after the good one was cached", async () => {
    const verifier = await warm();
    for (const member of ["tcbInfo", "qeIdentity"] as const) {
      const text = collateral[member] as string;
      const i = text.indexOf("tcbEvaluationDataNumber") + 25;
      const bad = `${text.slice(0, i)}${text[i] === "1" ? "2" : "1"}${text.slice(i + 1)}`;
      const got = await outcome(verifier.verify({ quote, collateral: { ...collateral, [member]: bad }, at }));
      assert.equal(got, "verification:collateral-signature-invalid", member);
    }
  });

  it("keeps at most cacheSize entries and stays correct when evicting", async () => {
    const verifier = createTdxVerifier({ roots, cacheSize: 2 });
    for (let i = 0; i < 3; i++) assert.equal((await verifier.verify({ quote, collateral, at })).tcb.qe, "UpToDate");
    assert.ok(verifier.size <= 2);
    assert.throws(() => createTdxVerifier({ cacheSize: 0 }), RangeError);
  });

  it("its errors are typed: verification or malformed, nothing else", async () => {
    const verifier = await warm();
    await assert.rejects(verifier.verify({ quote: quote.subarray(0, 100), collateral, at }), MalformedError);
    await assert.rejects(
      verifier.verify({ quote, collateral: { ...collateral, tcbSigningChain: [] }, at }),
      VerificationError,
    );
  });
});
