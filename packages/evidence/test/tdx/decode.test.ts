import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { MalformedError, toHex } from "@veritee/core";
import { forgeTdxQuote, makeTdxPki } from "@veritee/testkit/tdx";
import fc from "fast-check";
import { decodeTdxQuote, TDX_SIZES } from "../../src/tdx/decode.js";
import { INTEL_SGX_ROOT_CA_SHA256, intelSgxRootCa } from "../../src/tdx/roots.js";
import { tdxVector } from "./vectors.js";

const V4 = tdxVector("tdx_prod_quote_SPR_E4.dat");
const V5 = tdxVector("quote_v5_sample.dat");
const pki = makeTdxPki();

function onlyMalformed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
  }
}

describe("decodeTdxQuote on the real vectors", () => {
  it("decodes the production v4 quote; its appended note is trailing data", () => {
    assert.throws(
      () => decodeTdxQuote(V4),
      (e: unknown) => e instanceof MalformedError && e.code === "trailing-data",
    );
    const q = decodeTdxQuote(V4, { trailingData: "ignore" });
    assert.equal(q.trailingBytes, 39);
    assert.equal(q.header.version, 4);
    assert.equal(q.body.kind, "td1.0");
    assert.equal(q.raw.length, 4935);
    assert.equal(new TextDecoder().decode(V4.subarray(q.raw.length)), "\nextra bytes(only for testing purpose)\n");
    assert.equal(toHex(q.header.qeVendorId), "939a7233f79c4ca9940a0db3957f0607");
    assert.equal(toHex(q.body.teeTcbSvn), "03000400000000000000000000000000");
    assert.equal(toHex(q.body.tdAttributes), "0000004000000000");
    assert.equal(toHex(q.body.xfam), "e71a060000000000");
    assert.equal(q.certification.qeReport.isvProdId, 2);
    assert.equal(q.certification.qeReport.isvSvn, 4);
    assert.equal(
      toHex(q.certification.qeReport.mrSigner),
      "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5",
    );
    assert.equal(q.certification.qeAuthData.length, 32);
    assert.equal(q.certification.pckChain.length, 3);
    assert.equal(q.signedData.length, 48 + 584);
    // The exact quote decodes strictly.
    assert.deepEqual(decodeTdxQuote(q.raw).body.mrTd, q.body.mrTd);
  });

  it("decodes the v5 sample (TD 1.5 body) strictly", () => {
    const q = decodeTdxQuote(V5);
    assert.equal(q.header.version, 5);
    assert.equal(q.body.kind, "td1.5");
    assert.equal(q.body.teeTcbSvn2?.length, 16);
    assert.equal(q.body.mrServiceTd?.length, 48);
    assert.equal(q.signedData.length, 48 + 6 + 648);
    assert.equal(q.raw.length, V5.length);
    assert.equal(q.certification.pckChain.length, 3);
  });

  it("the embedded Intel SGX Root CA equals the root inside the production quote", () => {
    const q = decodeTdxQuote(V4, { trailingData: "ignore" });
    assert.deepEqual(intelSgxRootCa(), q.certification.pckChain[2]);
    assert.deepEqual(intelSgxRootCa(), decodeTdxQuote(V5).certification.pckChain[2]);
    assert.equal(createHash("sha256").update(intelSgxRootCa()).digest("hex"), INTEL_SGX_ROOT_CA_SHA256);
  });

  it("returns copies, not views of the input", () => {
    const buf = Buffer.from(V5);
    const q = decodeTdxQuote(buf);
    buf.fill(0);
    assert.notEqual(
      q.body.mrTd.every((b) => b === 0),
      true,
    );
    assert.equal(q.raw[0], 5);
  });
});

describe("decodeTdxQuote strictness", () => {
  const v4 = forgeTdxQuote(pki);
  const v5 = forgeTdxQuote(pki, { version: 5 });

  function expectCode(bytes: Uint8Array, code: string, what?: RegExp): void {
    assert.throws(
      () => decodeTdxQuote(bytes),
      (e: unknown) => e instanceof MalformedError && e.code === code && (what === undefined || what.test(e.what)),
    );
  }
  const patch = (b: Uint8Array, at: number, ...v: number[]) => {
    const c = Uint8Array.from(b);
    c.set(v, at);
    return c;
  };

  it("decodes forged v4, v5/TD1.5 and v5/TD1.0 quotes", () => {
    assert.equal(decodeTdxQuote(v4).body.kind, "td1.0");
    assert.equal(decodeTdxQuote(v5).body.kind, "td1.5");
    assert.equal(decodeTdxQuote(forgeTdxQuote(pki, { version: 5, bodyType: 2 })).body.kind, "td1.0");
  });
  it("rejects unknown versions, key types, TEE types and body types as unsupported", () => {
    expectCode(patch(v4, 0, 3), "unsupported", /version/);
    expectCode(patch(v4, 0, 6), "unsupported", /version/);
    expectCode(patch(v4, 2, 3), "unsupported", /attestationKeyType/);
    expectCode(patch(v4, 4, 0), "unsupported", /teeType/);
    expectCode(patch(v5, 48, 1), "unsupported", /bodyType/);
  });
  it("rejects a v5 body size that does not fit its type", () => {
    expectCode(patch(v5, 50, 0x48), "bad-length", /bodySize/);
  });
  it("rejects a wrong certification data type (outer 6, inner 5)", () => {
    const outerType = 48 + 584 + 4 + 128;
    expectCode(patch(v4, outerType, 5), "unsupported", /certificationData.type/);
  });
  it("rejects non-zero reserved bytes of the QE report", () => {
    const qe = 48 + 584 + 4 + 128 + 6;
    expectCode(patch(v4, qe + 20, 1), "reserved-nonzero", /reserved1/);
  });
  it("rejects every truncation and trailing data", () => {
    for (let n = 0; n < v4.length; n += 13) {
      assert.throws(
        () => decodeTdxQuote(v4.subarray(0, n)),
        (e: unknown) => e instanceof MalformedError,
      );
    }
    expectCode(Uint8Array.from([...v4, 1]), "trailing-data");
    expectCode(Uint8Array.from([...v4, 0, 0, 0x80]), "trailing-data");
  });
  it("accepts zero padding after the quote (a GetQuote buffer) and records its length", () => {
    assert.equal(decodeTdxQuote(v4).trailingBytes, 0);
    const padded = Uint8Array.from([...v4, ...new Uint8Array(4096 - v4.length)]);
    const q = decodeTdxQuote(padded);
    assert.equal(q.trailingBytes, 4096 - v4.length);
    assert.deepEqual(q.raw, v4);
  });
  it("zero-padding property: all-zero tails decode to the same quote, any non-zero byte is trailing-data", () => {
    fc.assert(
      fc.property(fc.nat({ max: 512 }), fc.nat({ max: 511 }), fc.integer({ min: 1, max: 255 }), (len, at, b) => {
        const tail = new Uint8Array(len + 1);
        assert.equal(decodeTdxQuote(Uint8Array.from([...v4, ...tail])).trailingBytes, len + 1);
        tail[at % (len + 1)] = b;
        expectCode(Uint8Array.from([...v4, ...tail]), "trailing-data");
        assert.equal(
          decodeTdxQuote(Uint8Array.from([...v4, ...tail]), { trailingData: "ignore" }).trailingBytes,
          len + 1,
        );
      }),
      { numRuns: 100 },
    );
  });
  it("rejects an oversized quote before parsing", () => {
    expectCode(new Uint8Array(TDX_SIZES.maxQuote + 1), "too-large");
  });
});

describe("decodeTdxQuote properties", () => {
  const v4 = forgeTdxQuote(pki);
  it("random bytes yield only MalformedError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => onlyMalformed(() => decodeTdxQuote(bytes))),
      { numRuns: 500 },
    );
  });
  it("random bytes behind a valid header yield only MalformedError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), fc.constantFrom(4, 5), (tail, version) => {
        const head = Uint8Array.from(v4.subarray(0, 48));
        head[0] = version;
        onlyMalformed(() => decodeTdxQuote(Uint8Array.from([...head, ...tail])));
      }),
      { numRuns: 300 },
    );
  });
  it("single-byte mutations of real quotes yield a quote or MalformedError, nothing else", () => {
    const q = decodeTdxQuote(V4, { trailingData: "ignore" }).raw;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: q.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (at, x, v5) => {
          const m = Uint8Array.from(v5 ? V5 : q);
          if (at >= m.length) return;
          m[at]! ^= x;
          onlyMalformed(() => decodeTdxQuote(m));
        },
      ),
      { numRuns: 400 },
    );
  });
  it("encodes and decodes forged fields faithfully", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 48, maxLength: 48 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.constantFrom(4 as const, 5 as const),
        (mrTd, reportData, version) => {
          const q = decodeTdxQuote(forgeTdxQuote(pki, { version, body: { mrTd, reportData } }));
          assert.deepEqual(q.body.mrTd, mrTd);
          assert.deepEqual(q.body.reportData, reportData);
          assert.equal(q.header.version, version);
        },
      ),
      { numRuns: 20 },
    );
  });
});
