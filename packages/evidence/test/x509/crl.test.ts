import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import { buildCrl, ecKey, makeIntermediate, makeRoot, name } from "@veritee/testkit/x509";
import fc from "fast-check";
import { VerificationError } from "../../src/errors.js";
import { decodeTdxQuote } from "../../src/tdx/decode.js";
import { decodeCertificate } from "../../src/x509/certificate.js";
import { decodeCrl, VerifiedCrl, verifyCrl } from "../../src/x509/crl.js";
import { tdxVector, V4_AT } from "../tdx/vectors.js";

const PCK_CRL = tdxVector("pckcrl");
const ROOT_CRL = tdxVector("rootcrl.der");
const chain = decodeTdxQuote(tdxVector("tdx_prod_quote_SPR_E4.dat"), {
  trailingData: "ignore",
}).certification.pckChain.map(decodeCertificate);
const [pckCert, platformCa, intelRoot] = chain as [
  ReturnType<typeof decodeCertificate>,
  ReturnType<typeof decodeCertificate>,
  ReturnType<typeof decodeCertificate>,
];

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof VerificationError && e.code === code);
}

describe("Intel's real CRLs", () => {
  it("decode: the PCK Platform CA's CRL lists 44 key-compromised certificates; the root CRL none", () => {
    const crl = decodeCrl(PCK_CRL);
    assert.equal(crl.version, 2);
    assert.equal(crl.revoked.size, 44);
    assert.equal(crl.crlNumber, "1");
    assert.equal(crl.revoked.get("6fc34e5023e728923435d61aa4b83c618166ad35")?.reason, 1);
    assert.equal(crl.thisUpdate.toISOString(), "2023-06-08T07:27:52.000Z");
    assert.equal(decodeCrl(ROOT_CRL).revoked.size, 0);
  });
  it("verify under their issuers, and the production PCK certificate is not revoked", async () => {
    const crl = await verifyCrl({ crl: PCK_CRL, issuer: platformCa, at: V4_AT });
    assert.ok(crl instanceof VerifiedCrl);
    assert.equal(crl.isRevoked(pckCert), false);
    crl.assertNotRevoked(pckCert, "PCK");
    const root = await verifyCrl({ crl: ROOT_CRL, issuer: intelRoot, at: V4_AT });
    root.assertNotRevoked(platformCa, "Platform CA");
  });
  it("accept PEM", async () => {
    const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(ROOT_CRL).toString("base64").replace(/.{64}/g, "$&\n")}\n-----END X509 CRL-----\n`;
    assert.deepEqual(decodeCrl(pem).der, ROOT_CRL);
    assert.deepEqual(decodeCrl(new TextEncoder().encode(pem)).der, ROOT_CRL);
  });
  it("in PEM are read by core's strict decoder: wrong labels, junk, bad base64 refused", () => {
    const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(ROOT_CRL).toString("base64").replace(/.{64}/g, "$&\n")}\n-----END X509 CRL-----\n`;
    const bad = [
      pem.replace("END X509 CRL", "END CERTIFICATE"),
      pem.replace(/X509 CRL/g, "CERTIFICATE"),
      `${pem}${pem}`,
      `${pem}junk\n`,
      pem.replace(/\n([A-Za-z0-9+/]{10})/, "\n$1 "),
      `${pem}\0`,
    ];
    for (const text of bad) {
      assert.throws(() => decodeCrl(text), MalformedError, JSON.stringify(text.slice(0, 40)));
      assert.throws(() => decodeCrl(new TextEncoder().encode(text)), MalformedError);
    }
  });
  it("are refused under the wrong issuer, outside their window", async () => {
    await rejectsWith(verifyCrl({ crl: PCK_CRL, issuer: intelRoot, at: V4_AT }), "crl-issuer-mismatch");
    await rejectsWith(
      verifyCrl({ crl: PCK_CRL, issuer: platformCa, at: new Date("2023-06-01T00:00:00Z") }),
      "crl-not-yet-valid",
    );
    await rejectsWith(
      verifyCrl({ crl: PCK_CRL, issuer: platformCa, at: new Date("2023-07-09T00:00:00Z") }),
      "crl-expired",
    );
  });
  it("reject every single-byte change of the root CRL, and sampled ones of the PCK CRL", async () => {
    for (const [crl, issuer, step] of [
      [ROOT_CRL, intelRoot, 1],
      [PCK_CRL, platformCa, 7],
    ] as const) {
      for (let i = 0; i < crl.length; i += step) {
        const m = Uint8Array.from(crl);
        m[i]! ^= 0x01;
        await assert.rejects(
          verifyCrl({ crl: m, issuer, at: V4_AT }),
          (e: unknown) => e instanceof VerificationError || e instanceof MalformedError,
        );
      }
    }
  });
});

describe("forged CRLs", () => {
  const root = makeRoot("CRL Root");
  const ca = makeIntermediate("CRL CA", root);
  const caCert = decodeCertificate(ca.cert);
  const at = new Date("2025-01-01T00:00:00Z");
  const target = { ...caCert, issuer: caCert.subject, serialHex: "1234" };

  it("a listed serial is revoked", async () => {
    const crl = await verifyCrl({
      crl: buildCrl({ issuer: ca, revoked: [{ serial: Uint8Array.of(0x12, 0x34), reason: 1 }] }),
      issuer: caCert,
      at,
    });
    assert.equal(crl.isRevoked(target), true);
    assert.throws(
      () => crl.assertNotRevoked(target, "x"),
      (e: unknown) => e instanceof VerificationError && e.code === "cert-revoked",
    );
  });
  const cases: [string, () => Uint8Array, string][] = [
    ["bad signature", () => buildCrl({ issuer: ca, signingKey: ecKey().privateKey }), "crl-signature-invalid"],
    ["other issuer name", () => buildCrl({ issuer: ca, issuerName: name("Someone Else") }), "crl-issuer-mismatch"],
    ["no nextUpdate", () => buildCrl({ issuer: ca, nextUpdate: null }), "crl-expired"],
    [
      "critical unknown extension",
      () => buildCrl({ issuer: ca, extensions: [{ oid: "2.5.29.28", critical: true, value: Uint8Array.of(0x30, 0) }] }),
      "crl-unknown-critical-extension",
    ],
    [
      "critical unknown entry extension",
      () =>
        buildCrl({
          issuer: ca,
          revoked: [
            { serial: Uint8Array.of(9), extensions: [{ oid: "1.2.3.4", critical: true, value: Uint8Array.of(5, 0) }] },
          ],
        }),
      "crl-unknown-critical-extension",
    ],
  ];
  for (const [what, make, code] of cases) {
    it(`${what}: ${code}`, async () => rejectsWith(verifyCrl({ crl: make(), issuer: caCert, at }), code));
  }
  it("a listed serial twice is malformed", () => {
    const crl = buildCrl({ issuer: ca, revoked: [{ serial: Uint8Array.of(1) }, { serial: Uint8Array.of(1) }] });
    assert.throws(
      () => decodeCrl(crl),
      (e: unknown) => e instanceof MalformedError && e.code === "bad-value",
    );
  });
  it("random and mutated bytes yield only MalformedError", () => {
    const only = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (!(e instanceof MalformedError)) throw e;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => only(() => decodeCrl(b))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PCK_CRL.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const m = Uint8Array.from(PCK_CRL);
        m[i]! ^= x;
        only(() => decodeCrl(m));
      }),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => only(() => decodeCrl(s))),
      { numRuns: 200 },
    );
  });
});
