/**
 * The collateral key scheme and the resolvers: keys are plain names that
 * stay inside their kind (property-tested on arbitrary inputs), TDX and
 * SEV-SNP collateral is found under the keys the evidence implies, and an
 * absent required item is a `CollateralError` naming it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { sharedPath } from "@veritee/testkit";
import { forgeSnpReport, snpTestPki } from "@veritee/testkit/snp";
import {
  forgeQeIdentity,
  forgeTcbInfo,
  forgeTdxQuote,
  makeTdxPki,
  TDX_TEST_TIME,
  TEST_FMSPC,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { buildCrl } from "@veritee/testkit/x509";
import fc from "fast-check";
import { CollateralError } from "../../src/collateral/errors.js";
import { COLLATERAL_KINDS, collateralKeys } from "../../src/collateral/keys.js";
import { resolveSnpEndorsement } from "../../src/collateral/resolve-snp.js";
import { resolveTdxCollateral, resolveTdxCrls } from "../../src/collateral/resolve-tdx.js";
import { type CollateralSource, checkCollateralName } from "../../src/collateral/source.js";
import { decodeSnpReport } from "../../src/sev-snp/decode.js";
import { verifySnpReport } from "../../src/sev-snp/verify.js";
import { decodeTdxQuote } from "../../src/tdx/decode.js";
import { verifyTdxQuote } from "../../src/tdx/verify.js";

/** An in-memory source over `kind/key` → bytes. */
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

describe("collateral keys", () => {
  it("names every item as docs/CLI.md lays it out", () => {
    assert.equal(id(collateralKeys.tdxTcbInfo("00906ED50000")), "tdx-tcb-info/00906ed50000");
    assert.equal(id(collateralKeys.tdxQeIdentity()), "tdx-qe-identity/td");
    assert.equal(id(collateralKeys.tcbSigningChain()), "tcb-signing-chain/intel");
    assert.equal(id(collateralKeys.pckCrl("platform")), "pck-crl/platform");
    assert.equal(id(collateralKeys.pckCrl("processor")), "pck-crl/processor");
    assert.equal(id(collateralKeys.rootCrl()), "root-crl/intel");
    assert.equal(id(collateralKeys.snpCrl("Genoa")), "crl/Genoa");
    assert.equal(id(collateralKeys.certChain("Milan")), "cert-chain/Milan");
    assert.equal(
      id(collateralKeys.vcek("Turin", Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 0xff), 0x1b00000000000403n)),
      "vcek/Turin-01020304050607ff-1b00000000000403",
    );
    assert.equal(collateralKeys.vcek("Milan", new Uint8Array(64), 0n).key.length, 5 + 1 + 128 + 1 + 16);
  });

  it("refuses arguments that are not of the item's form", () => {
    for (const bad of ["", "00906ed5000", "00906ed500000", "../etc/pas", "00906ed5000g"]) {
      assert.throws(() => collateralKeys.tdxTcbInfo(bad), RangeError);
    }
    assert.throws(() => collateralKeys.pckCrl("other" as "platform"), RangeError);
    assert.throws(() => collateralKeys.snpCrl("../x" as "Milan"), RangeError);
    assert.throws(() => collateralKeys.vcek("Milan", new Uint8Array(8), 0n), RangeError);
    assert.throws(() => collateralKeys.vcek("Turin", new Uint8Array(64), 0n), RangeError);
    assert.throws(() => collateralKeys.vcek("Milan", new Uint8Array(64), 1n << 64n), RangeError);
    assert.throws(() => collateralKeys.vcek("Milan", new Uint8Array(64), -1n), RangeError);
  });

  it("every key built from any input is a plain name a source accepts, or a RangeError", () => {
    const products = fc.constantFrom("Milan" as const, "Genoa" as const, "Turin" as const);
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (fmspc) => {
        try {
          const k = collateralKeys.tdxTcbInfo(fmspc);
          checkCollateralName(k.kind, k.key);
        } catch (e) {
          assert.ok(e instanceof RangeError);
        }
      }),
    );
    fc.assert(
      fc.property(products, fc.uint8Array({ maxLength: 70 }), fc.bigInt({ min: -1n, max: 1n << 65n }), (p, hw, tcb) => {
        try {
          const k = collateralKeys.vcek(p, hw, tcb);
          checkCollateralName(k.kind, k.key);
          assert.equal(k.kind, COLLATERAL_KINDS.vcek);
        } catch (e) {
          assert.ok(e instanceof RangeError);
        }
      }),
    );
  });
});

describe("resolveTdxCollateral", () => {
  const pki = makeTdxPki();
  const quote = forgeTdxQuote(pki, { version: 4 });
  const items = {
    [id(collateralKeys.tdxTcbInfo(TEST_FMSPC))]: forgeTcbInfo(pki),
    [id(collateralKeys.tdxQeIdentity())]: forgeQeIdentity(pki),
    [id(collateralKeys.tcbSigningChain())]: tcbSigningChainPem(pki),
  };
  const crls = {
    [id(collateralKeys.pckCrl("platform"))]: buildCrl({
      issuer: pki.platformCa,
      thisUpdate: new Date("2025-05-01T00:00:00Z"),
    }),
    [id(collateralKeys.rootCrl())]: buildCrl({ issuer: pki.root, thisUpdate: new Date("2025-05-01T00:00:00Z") }),
  };

  it("finds the quote's TCB info by FMSPC, the QE identity, signing chain and the issuing CA's CRLs", async () => {
    const source = memory({ ...items, ...crls });
    const collateral = await resolveTdxCollateral(source, quote);
    assert.deepEqual(source.asked.sort(), Object.keys({ ...items, ...crls }).sort());
    const v = await verifyTdxQuote({ quote, collateral, at: TDX_TEST_TIME, roots: [pki.root.cert] });
    assert.equal(v.tcb.platform, "UpToDate");
    assert.deepEqual(v.revocation, { pckCrl: true, rootCrl: true });
  });

  it("CRLs are optional: absent ones are left out", async () => {
    const collateral = await resolveTdxCollateral(memory(items), decodeTdxQuote(quote));
    assert.equal(collateral.pckCrl, undefined);
    assert.equal(collateral.rootCrl, undefined);
    assert.deepEqual(Object.keys(await resolveTdxCrls(memory(crls), quote)).sort(), ["pckCrl", "rootCrl"]);
  });

  it("each required item missing is a CollateralError naming it", async () => {
    for (const missing of Object.keys(items)) {
      const rest = Object.fromEntries(Object.entries(items).filter(([k]) => k !== missing));
      await assert.rejects(
        resolveTdxCollateral(memory(rest), quote),
        (e: unknown) => e instanceof CollateralError && e.code === "collateral-missing" && e.message.includes(missing),
      );
    }
  });

  it("with several items missing, the error names the first in order however the lookups settle", async () => {
    // Lookups answer in reverse order (the TCB info last); the error must still name the TCB info, as the CLI prints it.
    const delays: Record<string, number> = { "tdx-tcb-info": 30, "tdx-qe-identity": 15, "tcb-signing-chain": 0 };
    const empty: CollateralSource = {
      get: (kind) => new Promise((resolve) => setTimeout(() => resolve(undefined), delays[kind] ?? 0)),
    };
    await assert.rejects(
      resolveTdxCollateral(empty, quote),
      (e: unknown) => e instanceof CollateralError && /no tdx-tcb-info\//.test(e.message),
    );
  });
});

describe("resolveSnpEndorsement", () => {
  const read = (name: string) => new Uint8Array(readFileSync(sharedPath("vectors", "sev-snp", name)));
  const report = read("attestation.bin");
  const decoded = decodeSnpReport(report);
  const vcekKey = id(collateralKeys.vcek("Milan", decoded.chipId, decoded.reportedTcb.raw));

  it("finds the real Milan VCEK by chip and TCB, and AMD's cert_chain; the report verifies with them", async () => {
    const source = memory({ [vcekKey]: read("vcek.der"), "cert-chain/Milan": read("ask_ark_milan.pem") });
    const endorsement = await resolveSnpEndorsement(source, report, "Milan");
    assert.ok(endorsement.chain !== undefined);
    assert.equal(endorsement.crl, undefined);
    const v = await verifySnpReport({ report, at: new Date("2023-01-01T00:00:00Z"), ...endorsement });
    assert.equal(v.product, "Milan");
  });

  it("without the chain the embedded roots are used", async () => {
    const endorsement = await resolveSnpEndorsement(memory({ [vcekKey]: read("vcek.der") }), decoded, "Milan");
    assert.equal(endorsement.chain, undefined);
    await verifySnpReport({ report, at: new Date("2023-01-01T00:00:00Z"), ...endorsement });
  });

  it("a missing VCEK, a VLEK-signed or a chip-masked report is collateral-missing", async () => {
    const missing = (e: unknown) => e instanceof CollateralError && e.code === "collateral-missing";
    await assert.rejects(resolveSnpEndorsement(memory({}), report, "Milan"), missing);
    // The same chip at another TCB has another VCEK.
    await assert.rejects(resolveSnpEndorsement(memory({ [vcekKey]: read("vcek.der") }), report, "Genoa"), missing);
    const pki = snpTestPki("Milan");
    const masked = forgeSnpReport(pki, { keyInfo: 0b10, chipId: new Uint8Array(64) });
    await assert.rejects(resolveSnpEndorsement(memory({}), masked, "Milan"), missing);
    const vlek = forgeSnpReport(pki, { keyInfo: 0b100 });
    await assert.rejects(resolveSnpEndorsement(memory({}), vlek, "Milan"), missing);
  });
});
