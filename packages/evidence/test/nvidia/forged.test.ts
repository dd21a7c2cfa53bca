import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { bytesEqual, MalformedError, randomBytes, toHex } from "@veritee/core";
import { sharedPath } from "@veritee/testkit";
import {
  defaultGpuReportFields,
  forgeGpuReport,
  makeGpuDeviceChain,
  opaqueText,
  testMeasurement,
} from "@veritee/testkit/nvidia";
import { ecKey } from "@veritee/testkit/x509";
import fc from "fast-check";
import { VerificationError } from "../../src/errors.js";
import { decodePemChain } from "../../src/nvidia/cert-chain.js";
import { decodeGpuOpaqueData, decodeGpuReport } from "../../src/nvidia/decode.js";
import { decodeGpuRim } from "../../src/nvidia/rim.js";
import { gpuNonceBinding, VerifiedGpuReport, verifyGpuReport } from "../../src/nvidia/verify.js";
import { parseXml } from "../../src/nvidia/xml.js";

const device = makeGpuDeviceChain();
const roots = [device.root.cert];
const AT = new Date("2025-01-01T00:00:00Z");
const NONCE = randomBytes(32);

function verify(report: Uint8Array, extra: Partial<Parameters<typeof verifyGpuReport>[0]> = {}) {
  return verifyGpuReport({ report, certChain: device.chain, expectedNonce: NONCE, at: AT, roots, ...extra });
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof VerificationError || e instanceof MalformedError, String(e));
    assert.equal(e.code, code);
    return true;
  });
}

describe("forged GPU reports: verify", () => {
  it("a correctly forged report verifies under the test root", async () => {
    const v = await verify(forgeGpuReport(device, { nonce: NONCE }));
    assert.ok(VerifiedGpuReport.is(v));
    assert.equal(v.measurements.size, 12);
    assert.equal(toHex(v.measurements.get(5)!.value), toHex(testMeasurement(5)));
    assert.equal(v.driverVersion, "550.90.07");
    assert.ok(bytesEqual(v.nonce, NONCE));
    assert.ok(!VerifiedGpuReport.is({ ...v }));
  });

  it("each check fails on its one changed field", async () => {
    const bad = (o: Parameters<typeof forgeGpuReport>[1]) => forgeGpuReport(device, { nonce: NONCE, ...o });
    await rejectsWith(verify(bad({ nonce: randomBytes(32) })), "nvidia-nonce-mismatch");
    await rejectsWith(verify(bad({ signature: new Uint8Array(96) })), "signature-invalid");
    await rejectsWith(verify(bad({ signingKey: ecKey("P-384").privateKey })), "signature-invalid");
    await rejectsWith(verify(bad({ measurementOperation: 3 })), "nvidia-request-mismatch");
    await rejectsWith(verify(bad({ responseSlotId: 1 })), "nvidia-request-mismatch");
    await rejectsWith(verify(bad({ param1: 1 })), "nvidia-request-mismatch");
    await rejectsWith(verify(bad({ blocks: [] })), "nvidia-request-mismatch");
    const dup = defaultGpuReportFields().blocks;
    dup[1] = { index: 1, value: testMeasurement(2) };
    await rejectsWith(verify(bad({ blocks: dup })), "nvidia-duplicate-measurement");
    // Decoder-level fields.
    await rejectsWith(verify(bad({ version: 0x12 })), "unsupported");
    await rejectsWith(verify(bad({ responseVersion: 0x10 })), "unsupported");
    await rejectsWith(verify(bad({ requestCode: 0xe1 })), "bad-magic");
    await rejectsWith(verify(bad({ responseCode: 0x61 })), "bad-magic");
    await rejectsWith(verify(bad({ attributes: 0 })), "unsupported");
    await rejectsWith(verify(bad({ attributes: 3 })), "reserved-nonzero");
    await rejectsWith(verify(bad({ slotId: 0x10 })), "reserved-nonzero");
    await rejectsWith(verify(bad({ numberOfBlocks: 11 })), "trailing-data");
    await rejectsWith(verify(bad({ numberOfBlocks: 13 })), "truncated");
    await rejectsWith(verify(bad({ blocks: [{ index: 0, value: testMeasurement(0) }] })), "bad-value");
    await rejectsWith(verify(bad({ blocks: [{ index: 1, spec: 2, value: testMeasurement(1) }] })), "unsupported");
    await rejectsWith(
      verify(bad({ blocks: [{ index: 1, value: testMeasurement(1), measurementSize: 50 }] })),
      "truncated",
    );
    await rejectsWith(
      verify(
        bad({
          opaque: [
            { type: 3, value: opaqueText("1.2") },
            { type: 3, value: opaqueText("1.2") },
          ],
        }),
      ),
      "bad-value",
    );
    await rejectsWith(verify(bad({ opaque: [{ type: 3, value: new TextEncoder().encode("550") }] })), "bad-value");
    await rejectsWith(verify(bad({ opaque: [{ type: 6, value: new Uint8Array(7) }] })), "bad-length");
  });

  it("the chain must be trusted, valid at `at`, and hold a P-384 device key", async () => {
    const good = forgeGpuReport(device, { nonce: NONCE });
    await rejectsWith(verify(good, { roots: undefined }), "cert-untrusted-root");
    await rejectsWith(verify(good, { at: new Date("2023-01-01T00:00:00Z") }), "cert-not-yet-valid");
    await rejectsWith(verify(good, { at: new Date("2035-01-01T00:00:00Z") }), "cert-expired");
    const other = makeGpuDeviceChain();
    await rejectsWith(verify(good, { certChain: other.chain }), "signature-invalid");
    // The right device key certified by a look-alike issuer (same names, other keys).
    const rogue = makeGpuDeviceChain({ deviceKey: device.deviceKey });
    await rejectsWith(verify(good, { certChain: rogue.chain }), "cert-signature-invalid");
    const p256 = makeGpuDeviceChain({ deviceKey: ecKey("P-256") });
    await rejectsWith(
      verify(forgeGpuReport(p256, { nonce: NONCE, signature: new Uint8Array(96) }), {
        certChain: p256.chain,
        roots: [p256.root.cert],
      }),
      "nvidia-device-key",
    );
  });

  it("binds the Veritee session: gpuNonceBinding is the SPDM nonce", async () => {
    const session = { clientNonce: randomBytes(32), keySetDigest: randomBytes(32) };
    const nonce = gpuNonceBinding(session);
    assert.equal(nonce.length, 32);
    const report = forgeGpuReport(device, { nonce });
    const v = await verifyGpuReport({ report, certChain: device.chain, session, at: AT, roots });
    assert.ok(v.session && bytesEqual(v.session.clientNonce, session.clientNonce));
    const otherSession = { ...session, keySetDigest: randomBytes(32) };
    await rejectsWith(
      verifyGpuReport({ report, certChain: device.chain, session: otherSession, at: AT, roots }),
      "nvidia-nonce-mismatch",
    );
    assert.throws(() => gpuNonceBinding({ clientNonce: randomBytes(8), keySetDigest: randomBytes(32) }), RangeError);
    assert.throws(() => gpuNonceBinding({ clientNonce: randomBytes(16), keySetDigest: randomBytes(31) }), RangeError);
    await assert.rejects(verifyGpuReport({ report, certChain: device.chain, at: AT, roots }), TypeError);
  });
});

describe("GPU decoders: properties", () => {
  const typedOnly = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof MalformedError)) throw e;
    }
  };

  it("random bytes yield only MalformedError (report, opaque data)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        typedOnly(() => decodeGpuReport(b));
        typedOnly(() => decodeGpuOpaqueData(b));
      }),
      { numRuns: 500 },
    );
  });

  it("mutated forged reports yield only MalformedError or decode", () => {
    const base = forgeGpuReport(device, { nonce: NONCE });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(base.length),
        (edits, cut) => {
          const b = base.slice();
          for (const [i, x] of edits) b[i]! ^= x;
          typedOnly(() => decodeGpuReport(b));
          typedOnly(() => decodeGpuReport(b.subarray(0, cut)));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("decode(forge(fields)) gives back the fields", () => {
    const block = fc.record({
      index: fc.integer({ min: 1, max: 254 }),
      valueType: fc.integer({ min: 0, max: 255 }),
      value: fc.uint8Array({ maxLength: 64 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(block, { selector: (b) => b.index, maxLength: 20 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.stringMatching(/^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{2}$/),
        (blocks, nonce, driver) => {
          const bytes = forgeGpuReport(device, {
            nonce,
            blocks,
            opaque: [{ type: 3, value: opaqueText(driver, driver.length + 3) }],
          });
          const r = decodeGpuReport(bytes);
          assert.ok(bytesEqual(r.request.nonce, nonce));
          assert.equal(r.response.opaque.driverVersion, driver);
          assert.deepEqual(
            r.response.blocks.map((b) => [b.index, b.valueType | (b.raw ? 0x80 : 0), toHex(b.value)]),
            blocks.map((b) => [b.index, b.valueType, toHex(b.value)]),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it("random and mutated text yields only MalformedError (XML, RIM, PEM chain)", () => {
    const rim =
      '<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" xmlns:h="http://www.w3.org/2001/04/xmlenc#sha384" tagId="t"><Meta colloquialVersion="1.0" product="GH100"/><Payload>' +
      `<Resource type="Measurement" index="0" active="True" alternatives="1" h:Hash0="${"ab".repeat(48)}" name="m" size="48"/>` +
      "</Payload></SoftwareIdentity>";
    assert.equal(decodeGpuRim(rim).measurements.get(1)!.alternatives[0], "ab".repeat(48));
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.nat(rim.length - 1), fc.string({ maxLength: 3 }), (s, i, ins) => {
        typedOnly(() => parseXml(s));
        typedOnly(() => decodeGpuRim(s));
        typedOnly(() => decodePemChain(s));
        typedOnly(() => decodeGpuRim(rim.slice(0, i) + ins + rim.slice(i + 1)));
      }),
      { numRuns: 500 },
    );
  });

  it("the PEM chain is read by core's strict decoder (the old one took any whitespace, any line width)", () => {
    const chain = readFileSync(sharedPath("vectors", "nvidia", "hopperCertChain.txt"), "utf8");
    assert.equal(decodePemChain(chain).length, 5);
    const lines = chain.split("\n");
    const spaced = lines.map((l, i) => (i === 1 ? `${l.slice(0, 8)} ${l.slice(8)}` : l)).join("\n");
    const oneLine = chain.replace(/([A-Za-z0-9+/=])\n(?=[A-Za-z0-9+/=])/g, "$1");
    const mismatched = chain.replace("-----END CERTIFICATE-----", "-----END X509 CRL-----");
    for (const bad of [spaced, oneLine, mismatched, `${chain}note\n`]) {
      assert.throws(() => decodePemChain(bad), MalformedError);
    }
  });

  it("the XML parser refuses DTDs, entities, comments and undeclared prefixes", () => {
    for (const bad of [
      '<!DOCTYPE a [<!ENTITY x "y">]><a/>',
      "<a>&x;</a>",
      "<a><!-- c --></a>",
      "<a><![CDATA[x]]></a>",
      "<p:a/>",
      "<a></b>",
      '<a x="1" x="2"/>',
      "<a/><b/>",
    ]) {
      assert.throws(() => parseXml(bad), MalformedError, bad);
    }
    assert.equal(parseXml("<a>&lt;&#x41;&#66;</a>").text, "<AB");
  });
});
