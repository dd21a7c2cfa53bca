import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { hash, MalformedError, toHex } from "@veritee/core";
import fc from "fast-check";
import { VerificationError } from "../../src/errors.js";
import { snpProductFromCpuid } from "../../src/sev-snp/product.js";
import { AMD_SNP_ROOTS } from "../../src/sev-snp/roots.js";
import {
  VerifiedSnpEndorsement,
  VerifiedSnpReport,
  verifySnpEndorsement,
  verifySnpReport,
} from "../../src/sev-snp/verify.js";
import { verifyCertificateChain } from "../../src/x509/chain.js";
import {
  GENOA_ARK,
  GENOA_ASK,
  MILAN_ARK,
  MILAN_ASK,
  pemCertificates,
  SNP_AT,
  SNP_REPORT,
  SNP_VCEK,
} from "./vectors.js";

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VerificationError, `expected VerificationError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Rejected with a typed error, never accepted and never another exception. */
async function typedRejection(p: Promise<unknown>): Promise<MalformedError | VerificationError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MalformedError || e instanceof VerificationError) return e;
    throw e;
  }
  throw new assert.AssertionError({ message: "a mutated input was accepted" });
}

describe("embedded AMD roots", () => {
  it("equal the vector's ASK/ARK copies, byte for byte, with the documented fingerprints", () => {
    assert.deepEqual(AMD_SNP_ROOTS.Milan?.ark, MILAN_ARK);
    assert.deepEqual(AMD_SNP_ROOTS.Milan?.ask, MILAN_ASK);
    assert.deepEqual(AMD_SNP_ROOTS.Genoa?.ark, GENOA_ARK);
    assert.deepEqual(AMD_SNP_ROOTS.Genoa?.ask, GENOA_ASK);
    assert.deepEqual(pemCertificates("milan.testcer"), [MILAN_ASK, MILAN_ARK]);
    const source = readFileSync(new URL("../../../src/sev-snp/roots.ts", import.meta.url), "utf8");
    for (const der of [MILAN_ARK, MILAN_ASK, GENOA_ARK, GENOA_ASK]) {
      assert.ok(source.includes(toHex(hash("sha256", der))), "fingerprint comment");
    }
  });

  // AMD serves each chain as "intermediate, then ARK" (ask_ark_<product>[_vlek].pem).
  const chains = {
    Milan: { vcek: "ask_ark_milan.pem", vlek: "ask_ark_milan_vlek.pem", asvkName: "SEV-VLEK-Milan" },
    Genoa: { vcek: "ask_ark_genoa.pem", vlek: "ask_ark_genoa_vlek.pem", asvkName: "SEV-VLEK-Genoa" },
    Turin: { vcek: "ask_ark_turin_vcek.pem", vlek: "ask_ark_turin_vlek.pem", asvkName: "SEV-VLEK-Turin" },
  } as const;
  const PINNED = new Date("2025-06-01T00:00:00Z");

  for (const [product, files] of Object.entries(chains) as [
    keyof typeof chains,
    (typeof chains)[keyof typeof chains],
  ][]) {
    it(`${product}: ARK, ASK and ASVK are AMD's, byte for byte, and each chain verifies at a pinned time`, async () => {
      const anchors = AMD_SNP_ROOTS[product];
      assert.ok(anchors?.ask && anchors.asvk, `${product} has an ASK and an ASVK`);
      const [ask, arkOfVcek] = pemCertificates(files.vcek) as [Uint8Array, Uint8Array];
      const [asvk, arkOfVlek] = pemCertificates(files.vlek) as [Uint8Array, Uint8Array];
      assert.deepEqual(anchors.ask, ask);
      assert.deepEqual(anchors.asvk, asvk);
      assert.deepEqual(anchors.ark, arkOfVcek);
      assert.deepEqual(anchors.ark, arkOfVlek, "one ARK signs both the ASK and the ASVK");
      const source = readFileSync(new URL("../../../src/sev-snp/roots.ts", import.meta.url), "utf8");
      for (const der of [anchors.ark, anchors.ask, anchors.asvk]) {
        assert.ok(source.includes(toHex(hash("sha256", der))), "fingerprint comment");
      }

      // Independently of our X.509 code: OpenSSL checks the signatures (RSASSA-PSS SHA-384).
      const ark = new X509Certificate(anchors.ark);
      assert.ok(ark.verify(ark.publicKey), "the ARK is self-signed");
      assert.equal(ark.subject, ark.issuer);
      for (const [der, cn] of [
        [anchors.ask, `SEV-${product}`],
        [anchors.asvk, files.asvkName],
      ] as const) {
        const cert = new X509Certificate(der);
        assert.ok(cert.verify(ark.publicKey), `${cn} is signed by ARK-${product}`);
        assert.match(cert.subject, new RegExp(`CN=${cn}$`, "m"));
        assert.ok(cert.ca, `${cn} is a CA`);
        // And by our own path validation, at the pinned time, with the embedded ARK as the only root.
        const chain = await verifyCertificateChain({ leaf: der, intermediates: [], roots: [anchors.ark], at: PINNED });
        assert.equal(chain.path.length, 2);
        assert.ok(new Date(cert.validFrom) < PINNED && PINNED < new Date(cert.validTo));
      }
      await assert.rejects(
        verifyCertificateChain({
          leaf: anchors.asvk,
          intermediates: [],
          roots: [anchors.ark],
          at: new Date("2049-01-01"),
        }),
        VerificationError,
      );
    });
  }

  it("the ARKs of different products are different roots", () => {
    const arks = [AMD_SNP_ROOTS.Milan!.ark, AMD_SNP_ROOTS.Genoa!.ark, AMD_SNP_ROOTS.Turin!.ark].map((d) => toHex(d));
    assert.equal(new Set(arks).size, 3);
  });
});

describe("verifySnpReport on the real Milan report", () => {
  it("verifies at the pinned time against the embedded roots", async () => {
    const v = await verifySnpReport({ report: SNP_REPORT, vcek: SNP_VCEK, at: SNP_AT });
    assert.ok(VerifiedSnpReport.is(v));
    assert.ok(Object.isFrozen(v));
    assert.equal(v.product, "Milan");
    assert.equal(v.signer, "vcek");
    assert.equal(v.endorsement.chain.path.length, 3);
    assert.deepEqual(v.endorsement.chain.anchor.der, MILAN_ARK);
    assert.equal(v.endorsement.extensions.productName, "Milan-B0");
    assert.deepEqual(v.endorsement.extensions.tcb, { bootloader: 2, tee: 0, snp: 5, microcode: 0x44, fmc: undefined });
    assert.equal(v.verifiedAt.toISOString(), SNP_AT.toISOString());
    assert.equal(v.report.measurement.length, 48);
  });

  it("verifies with the host-supplied chain (milan.testcer) and an explicit product", async () => {
    const v = await verifySnpReport({
      report: SNP_REPORT,
      vcek: SNP_VCEK,
      chain: { ask: MILAN_ASK, ark: MILAN_ARK },
      product: "Milan",
      at: SNP_AT,
    });
    assert.equal(v.product, "Milan");
  });

  it("reuses a verified endorsement, re-checking validity at the new time", async () => {
    const endorsement = await verifySnpEndorsement({ vcek: SNP_VCEK, at: SNP_AT });
    assert.ok(VerifiedSnpEndorsement.is(endorsement));
    const v = await verifySnpReport({ report: SNP_REPORT, vcek: endorsement, at: new Date("2024-06-01T00:00:00Z") });
    assert.equal(v.endorsement, endorsement);
    await rejects(
      verifySnpReport({ report: SNP_REPORT, vcek: endorsement, at: new Date("2030-01-01") }),
      "cert-expired",
    );
    await rejects(
      verifySnpReport({ report: SNP_REPORT, vcek: endorsement, at: new Date("2022-01-01") }),
      "cert-not-yet-valid",
    );
    await rejects(
      verifySnpReport({ report: SNP_REPORT, vcek: endorsement, product: "Genoa", at: SNP_AT }),
      "snp-product-mismatch",
    );
  });

  it("rejects outside the VCEK's validity", async () => {
    await rejects(verifySnpReport({ report: SNP_REPORT, vcek: SNP_VCEK, at: new Date("2030-01-01") }), "cert-expired");
    await rejects(
      verifySnpReport({ report: SNP_REPORT, vcek: SNP_VCEK, at: new Date("2022-09-01") }),
      "cert-not-yet-valid",
    );
  });

  it("rejects the wrong product, missing roots, a foreign ARK and a foreign ASK", async () => {
    const base = { report: SNP_REPORT, vcek: SNP_VCEK, at: SNP_AT };
    await rejects(verifySnpReport({ ...base, product: "Genoa" }), "snp-product-mismatch");
    await rejects(verifySnpReport({ ...base, roots: { Genoa: AMD_SNP_ROOTS.Genoa! } }), "cert-untrusted-root");
    await rejects(verifySnpReport({ ...base, chain: { ark: GENOA_ARK } }), "snp-chain-mismatch");
    await rejects(verifySnpReport({ ...base, chain: { ask: GENOA_ASK } }), "cert-untrusted-root");
    // Milan's ASK as the root: the path ends one step early, without the ARK.
    await rejects(
      verifySnpReport({ ...base, roots: { Milan: { ark: MILAN_ASK, ask: MILAN_ASK } } }),
      "snp-chain-mismatch",
    );
  });

  it("refuses a look-alike result and an invalid time", async () => {
    assert.throws(
      () => new (VerifiedSnpReport as unknown as new (...a: unknown[]) => unknown)(Symbol("x"), {}, {}, SNP_AT),
      TypeError,
    );
    assert.equal(VerifiedSnpReport.is({ report: {}, product: "Milan" }), false);
    await assert.rejects(verifySnpReport({ report: SNP_REPORT, vcek: SNP_VCEK, at: new Date(Number.NaN) }), TypeError);
  });
});

describe("single-byte mutations of the real evidence", () => {
  // Must-be-zero ranges of a version 2 report (56860 Table 23): a change there is malformed, not merely unsigned.
  const reserved = (i: number) =>
    (i >= 0x4c && i < 0x50) ||
    (i >= 0x188 && i < 0x1a0) ||
    i === 0x1eb ||
    i === 0x1ef ||
    (i >= 0x1f8 && i < 0x2a0) ||
    (i >= 0x2a0 + 48 && i < 0x2a0 + 72) ||
    (i >= 0x2e8 + 48 && i < 0x2e8 + 72) ||
    i >= 0x330;

  it("every byte of the report, flipped, is rejected with a typed error", async () => {
    const endorsement = await verifySnpEndorsement({ vcek: SNP_VCEK, at: SNP_AT });
    const counts = new Map<string, number>();
    for (let i = 0; i < SNP_REPORT.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const b = SNP_REPORT.slice();
        b[i]! ^= mask;
        const e = await typedRejection(verifySnpReport({ report: b, vcek: endorsement, at: SNP_AT }));
        if (reserved(i)) assert.ok(e instanceof MalformedError, `byte 0x${i.toString(16)} is reserved: ${e.message}`);
        if (i >= 0x50 && i < 0x180) assert.equal(e.code, "signature-invalid", `byte 0x${i.toString(16)}`);
        counts.set(e.code, (counts.get(e.code) ?? 0) + 1);
      }
    }
    assert.ok((counts.get("signature-invalid") ?? 0) > 500);
    assert.ok((counts.get("reserved-nonzero") ?? 0) > 500);
  });

  it("every byte of the VCEK certificate, flipped, is rejected with a typed error", async () => {
    for (let i = 0; i < SNP_VCEK.length; i++) {
      const der = SNP_VCEK.slice();
      der[i]! ^= 0x01;
      await typedRejection(verifySnpReport({ report: SNP_REPORT, vcek: der, at: SNP_AT }));
    }
  });

  it("sampled bytes of the supplied ASK and ARK, flipped, are rejected with a typed error", async () => {
    for (let i = 0; i < MILAN_ASK.length; i += 7) {
      const ask = MILAN_ASK.slice();
      ask[i]! ^= 0x01;
      await typedRejection(verifySnpReport({ report: SNP_REPORT, vcek: SNP_VCEK, chain: { ask }, at: SNP_AT }));
      const ark = MILAN_ARK.slice();
      ark[i % ark.length]! ^= 0x01;
      await typedRejection(verifySnpReport({ report: SNP_REPORT, vcek: SNP_VCEK, chain: { ark }, at: SNP_AT }));
    }
  });
});

describe("snpProductFromCpuid (56860 Table 23 CPUID_FAM_ID / CPUID_MOD_ID)", () => {
  it("names Milan, Genoa (with Bergamo and Siena) and Turin, and nothing else", () => {
    assert.equal(snpProductFromCpuid({ family: 0x19, model: 0x01 }), "Milan");
    assert.equal(snpProductFromCpuid({ family: 0x19, model: 0x11 }), "Genoa");
    assert.equal(snpProductFromCpuid({ family: 0x19, model: 0xa0 }), "Genoa");
    assert.equal(snpProductFromCpuid({ family: 0x1a, model: 0x02 }), "Turin");
    assert.equal(snpProductFromCpuid({ family: 0x1a, model: 0x11 }), "Turin");
    assert.equal(snpProductFromCpuid({ family: 0x19, model: 0x21 }), undefined);
    assert.equal(snpProductFromCpuid({ family: 0x1a, model: 0x40 }), undefined);
    assert.equal(snpProductFromCpuid({ family: 0x17, model: 0x01 }), undefined);
  });

  it("property: Turin exactly for family 1Ah, never throws", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (family, model) => {
        const product = snpProductFromCpuid({ family, model });
        if (product === "Turin") assert.equal(family, 0x1a);
        if (product === "Milan" || product === "Genoa") assert.equal(family, 0x19);
      }),
    );
  });
});
