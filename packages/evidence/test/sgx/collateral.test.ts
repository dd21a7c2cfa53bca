/**
 * SGX collateral: the real SGX TCB info (id SGX) and QE identity (id QE)
 * decoded strictly, the other TEE's documents refused, property tests that
 * only MalformedError comes out, the SGX collateral keys and the resolver.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import {
  forgeQeIdentity,
  forgeSgxQuote,
  forgeSgxTcbInfo,
  forgeTcbInfo,
  makeTdxPki,
  TDX_TEST_TIME,
  TEST_FMSPC,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import fc from "fast-check";
import { CollateralError } from "../../src/collateral/errors.js";
import { collateralKeys } from "../../src/collateral/keys.js";
import { resolveSgxCollateral, resolveSgxCrls } from "../../src/collateral/resolve-sgx.js";
import type { CollateralSource } from "../../src/collateral/source.js";
import { checkCollateralName } from "../../src/collateral/source.js";
import { decodeSgxQeIdentity, decodeSgxTcbInfo } from "../../src/sgx/collateral.js";
import { verifySgxQuote } from "../../src/sgx/verify.js";
import { decodeTdxQeIdentity, decodeTdxTcbInfo } from "../../src/tdx/collateral.js";
import { QE_IDENTITY, TCB_INFO } from "./vectors.js";

const TCB_TEXT = new TextDecoder().decode(TCB_INFO);
const QE_TEXT = new TextDecoder().decode(QE_IDENTITY);

function only(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
  }
}
function edit(text: string, member: string, change: (o: Record<string, unknown>) => void): string {
  const doc = JSON.parse(text);
  change(doc[member]);
  return `{"${member}":${JSON.stringify(doc[member])},"signature":"${doc.signature}"}`;
}
function refused(text: string, decode: (t: string) => unknown, code = "bad-value"): void {
  assert.throws(
    () => decode(text),
    (e: unknown) => e instanceof MalformedError && e.code === code,
  );
}

describe("SGX TCB info (v3, id SGX)", () => {
  it("decodes Intel's response for FMSPC 00606a000000", () => {
    const t = decodeSgxTcbInfo(TCB_INFO);
    assert.equal(t.fmspc, "00606a000000");
    assert.equal(t.pceId, "0000");
    assert.equal(t.tcbEvaluationDataNumber, 17);
    assert.equal(t.tcbLevels.length, 11);
    assert.deepEqual(t.tcbLevels[0]!.sgxTcbComponents, [14, 14, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(t.tcbLevels[0]!.tcbStatus, "SWHardeningNeeded");
    assert.equal(t.issueDate.toISOString(), "2025-08-15T05:08:18.000Z");
  });
  it("refuses TDX TCB info (and the TDX decoder refuses SGX TCB info), other versions, members and values", () => {
    refused(forgeTcbInfo(makeTdxPki()), decodeSgxTcbInfo, "unsupported");
    assert.throws(() => decodeTdxTcbInfo(TCB_INFO), MalformedError);
    refused(
      edit(TCB_TEXT, "tcbInfo", (o) => (o.version = 2)),
      decodeSgxTcbInfo,
      "unsupported",
    );
    refused(
      edit(TCB_TEXT, "tcbInfo", (o) => (o.tcbType = 1)),
      decodeSgxTcbInfo,
      "unsupported",
    );
    refused(
      edit(TCB_TEXT, "tcbInfo", (o) => (o.tdxModule = {})),
      decodeSgxTcbInfo,
    );
    refused(
      edit(TCB_TEXT, "tcbInfo", (o) => delete o.pceId),
      decodeSgxTcbInfo,
    );
    refused(
      edit(TCB_TEXT, "tcbInfo", (o) => {
        const l = (o.tcbLevels as { tcb: Record<string, unknown> }[])[0]!;
        l.tcb.tdxtcbcomponents = [];
      }),
      decodeSgxTcbInfo,
    );
    refused(
      edit(TCB_TEXT, "tcbInfo", (o) => (o.tcbLevels as unknown[]).reverse()),
      decodeSgxTcbInfo,
    );
    refused(TCB_TEXT.replace('{"tcbInfo":{', '{"tcbInfo":{ '), decodeSgxTcbInfo);
  });
  it("random text and single-byte mutations yield only MalformedError or a value", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => only(() => decodeSgxTcbInfo(s))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: TCB_INFO.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const b = Uint8Array.from(TCB_INFO);
        b[i]! ^= x;
        only(() => decodeSgxTcbInfo(b));
      }),
      { numRuns: 500 },
    );
  });
});

describe("SGX QE identity (v2, id QE)", () => {
  it("decodes Intel's response", () => {
    const q = decodeSgxQeIdentity(QE_IDENTITY);
    assert.equal(q.id, "QE");
    assert.equal(q.isvProdId, 1);
    assert.equal(q.tcbLevels[0]!.isvSvn, 8);
  });
  it("refuses a TD QE identity, and the TDX decoder refuses the SGX one", () => {
    refused(forgeQeIdentity(makeTdxPki()), decodeSgxQeIdentity, "unsupported");
    refused(QE_TEXT, decodeTdxQeIdentity, "unsupported");
    refused(
      edit(QE_TEXT, "enclaveIdentity", (o) => (o.version = 1)),
      decodeSgxQeIdentity,
      "unsupported",
    );
  });
  it("single-byte mutations yield only MalformedError or a value", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: QE_IDENTITY.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const b = Uint8Array.from(QE_IDENTITY);
        b[i]! ^= x;
        only(() => decodeSgxQeIdentity(b));
      }),
      { numRuns: 500 },
    );
  });
});

function memory(items: Record<string, Uint8Array | string>): CollateralSource & { readonly asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async get(kind, key) {
      checkCollateralName(kind, key);
      asked.push(`${kind}/${key}`);
      const v = items[`${kind}/${key}`];
      return v === undefined ? undefined : typeof v === "string" ? new TextEncoder().encode(v) : v;
    },
  };
}
const id = (item: { kind: string; key: string }) => `${item.kind}/${item.key}`;

describe("SGX collateral keys and resolveSgxCollateral", () => {
  it("names the SGX items as docs/CLI.md lays them out, and refuses a malformed FMSPC", () => {
    assert.equal(id(collateralKeys.sgxTcbInfo("00606A000000")), "sgx-tcb-info/00606a000000");
    assert.equal(id(collateralKeys.sgxQeIdentity()), "sgx-qe-identity/qe");
    assert.throws(() => collateralKeys.sgxTcbInfo("../x"), RangeError);
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        try {
          const k = collateralKeys.sgxTcbInfo(s);
          checkCollateralName(k.kind, k.key);
          assert.match(k.key, /^[0-9a-f]{12}$/);
        } catch (e) {
          if (!(e instanceof RangeError)) throw e;
        }
      }),
    );
  });
  const pki = makeTdxPki();
  const quote = forgeSgxQuote(pki);
  const items = {
    [id(collateralKeys.sgxTcbInfo(TEST_FMSPC))]: forgeSgxTcbInfo(pki),
    [id(collateralKeys.sgxQeIdentity())]: forgeQeIdentity(pki, { id: "QE" }),
    [id(collateralKeys.tcbSigningChain())]: tcbSigningChainPem(pki),
  };
  it("finds the quote's TCB info by FMSPC, the QE identity and the signing chain; CRLs optional", async () => {
    const source = memory(items);
    const collateral = await resolveSgxCollateral(source, quote);
    assert.equal(collateral.pckCrl, undefined);
    const v = await verifySgxQuote({ quote, collateral, at: TDX_TEST_TIME, roots: [pki.root.cert] });
    assert.equal(v.tcb.platform, "UpToDate");
    assert.deepEqual(await resolveSgxCrls(memory({}), quote), {});
  });
  it("each required item missing is a CollateralError naming it", async () => {
    for (const missing of Object.keys(items)) {
      const rest = Object.fromEntries(Object.entries(items).filter(([k]) => k !== missing));
      await assert.rejects(
        resolveSgxCollateral(memory(rest), quote),
        (e: unknown) => e instanceof CollateralError && e.code === "collateral-missing" && e.message.includes(missing),
      );
    }
  });
});
