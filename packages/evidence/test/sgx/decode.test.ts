import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError, toHex } from "@veritee/core";
import { forgeSgxQuote, forgeTdxQuote, makeTdxPki } from "@veritee/testkit/tdx";
import fc from "fast-check";
import { DCAP_SIZES } from "../../src/dcap/quote.js";
import { decodeSgxQuote } from "../../src/sgx/decode.js";
import { decodeTdxQuote } from "../../src/tdx/decode.js";
import { intelSgxRootCa } from "../../src/tdx/roots.js";
import { OCCLUM, QUOTE_V3 } from "./vectors.js";

const pki = makeTdxPki();

function expectCode(fn: () => unknown, code: string, what?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MalformedError, `expected MalformedError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    if (what !== undefined) assert.match(e.what, what);
    return true;
  });
}

function onlyMalformed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
  }
}

describe("decodeSgxQuote on the real vectors", () => {
  it("decodes the Occlum quote (version 3, inline QE report, PCK chain of 3)", () => {
    const q = decodeSgxQuote(OCCLUM);
    assert.equal(q.header.version, 3);
    assert.equal(q.header.teeType, 0);
    assert.equal(q.header.qeSvn, 8);
    assert.equal(q.header.pceSvn, 13);
    assert.equal(toHex(q.header.qeVendorId), "939a7233f79c4ca9940a0db3957f0607");
    assert.equal(toHex(q.body.mrEnclave), "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68");
    assert.equal(toHex(q.body.mrSigner), "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e");
    assert.equal(toHex(q.body.attributes), "0700000000000000e700000000000000");
    assert.equal(q.body.isvProdId, 0);
    assert.equal(q.body.isvSvn, 0);
    assert.equal(q.signedData.length, 48 + 384);
    assert.equal(q.certification.qeReport.isvProdId, 1);
    assert.equal(q.certification.qeReport.isvSvn, 8);
    assert.equal(q.certification.qeAuthData.length, 32);
    assert.equal(q.certification.pckChain.length, 3);
    assert.deepEqual(q.certification.pckChain[2], intelSgxRootCa());
    assert.equal(q.raw.length, OCCLUM.length);
    assert.equal(q.trailingBytes, 0);
  });
  it("decodes the v3 hex sample", () => {
    const q = decodeSgxQuote(QUOTE_V3);
    assert.equal(toHex(q.body.mrEnclave), "a4f45c39dac622cb1dd32ddb35a52ec92db41d0fa88a1c911c49e59c534f61cd");
    assert.equal(toHex(q.body.attributes.subarray(0, 8)), "0500000000000000");
    assert.equal(q.certification.qeReport.isvSvn, 9);
  });
  it("accepts zero padding (a GetQuote buffer) and counts it; a non-zero trailing byte is trailing-data", () => {
    const padded = Uint8Array.from([...OCCLUM, ...new Uint8Array(8192 - OCCLUM.length)]);
    const q = decodeSgxQuote(padded);
    assert.equal(q.trailingBytes, 8192 - OCCLUM.length);
    assert.deepEqual(q.raw, OCCLUM);
    padded[padded.length - 1] = 1;
    expectCode(() => decodeSgxQuote(padded), "trailing-data");
    assert.equal(decodeSgxQuote(padded, { trailingData: "ignore" }).trailingBytes, 8192 - OCCLUM.length);
  });
  it("returns copies, not views of the input", () => {
    const buf = Buffer.from(QUOTE_V3);
    const q = decodeSgxQuote(buf);
    buf.fill(0);
    assert.equal(q.raw[0], 3);
    assert.notEqual(q.body.mrEnclave[0], 0);
  });
});

describe("decodeSgxQuote strictness", () => {
  const good = forgeSgxQuote(pki);
  const patch = (b: Uint8Array, at: number, ...v: number[]) => {
    const c = Uint8Array.from(b);
    c.set(v, at);
    return c;
  };
  it("decodes the forged quote", () => {
    assert.equal(decodeSgxQuote(good).body.isvProdId, 7);
  });
  it("refuses other versions, key types and TEE types (a TDX quote is not an SGX quote)", () => {
    expectCode(() => decodeSgxQuote(patch(good, 0, 4)), "unsupported", /version/);
    expectCode(() => decodeSgxQuote(patch(good, 2, 3)), "unsupported", /attestationKeyType/);
    expectCode(() => decodeSgxQuote(patch(good, 4, 0x81)), "unsupported", /teeType/);
    expectCode(() => decodeSgxQuote(forgeTdxQuote(pki)), "unsupported", /version/);
    // And the TDX decoder refuses SGX quotes.
    expectCode(() => decodeTdxQuote(good), "unsupported", /version/);
  });
  it("refuses non-zero reserved bytes of the enclave report body", () => {
    expectCode(() => decodeSgxQuote(patch(good, 48 + 20, 1)), "reserved-nonzero", /body\.reserved1/);
    expectCode(() => decodeSgxQuote(patch(good, 48 + 96, 1)), "reserved-nonzero", /body\.reserved2/);
  });
  it("refuses a signature data length beyond the buffer, and every truncation", () => {
    expectCode(() => decodeSgxQuote(patch(good, 432, 0xff, 0xff, 0, 0)), "truncated");
    for (let n = 0; n < good.length; n += 17) {
      assert.throws(
        () => decodeSgxQuote(good.subarray(0, n)),
        (e: unknown) => e instanceof MalformedError,
      );
    }
  });
  it("refuses a wrong certification data type and an oversized auth data", () => {
    const sig = 436;
    const authAt = sig + 64 + 64 + 384 + 64;
    expectCode(() => decodeSgxQuote(patch(good, authAt, 0xff, 0xff)), "too-large", /qeAuthData/);
    const typeAt = authAt + 2 + 32;
    expectCode(() => decodeSgxQuote(patch(good, typeAt, 6)), "unsupported", /pckCertificationData\.type/);
  });
  it("refuses an oversized quote before parsing", () => {
    expectCode(() => decodeSgxQuote(new Uint8Array(DCAP_SIZES.maxQuote + 1)), "too-large");
  });
});

describe("decodeSgxQuote properties", () => {
  const good = forgeSgxQuote(pki);
  it("random bytes yield only MalformedError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => onlyMalformed(() => decodeSgxQuote(bytes))),
      { numRuns: 500 },
    );
  });
  it("random bytes behind a valid header and body yield only MalformedError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (tail) => {
        onlyMalformed(() => decodeSgxQuote(Uint8Array.from([...good.subarray(0, 432), ...tail])));
      }),
      { numRuns: 300 },
    );
  });
  it("any one mutated byte yields a decode or only MalformedError", () => {
    fc.assert(
      fc.property(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const c = Uint8Array.from(good);
        c[at] = c[at]! ^ x;
        onlyMalformed(() => decodeSgxQuote(c));
      }),
      { numRuns: 500 },
    );
  });
  it("decode(forge(fields)) returns the fields forged, and raw is the quote", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.nat({ max: 0xffff }),
        fc.nat({ max: 0xffff }),
        fc.nat({ max: 4096 - 0 }),
        (mrEnclave, mrSigner, reportData, isvProdId, isvSvn, pad) => {
          const quote = forgeSgxQuote(pki, { body: { mrEnclave, mrSigner, reportData, isvProdId, isvSvn } });
          const q = decodeSgxQuote(Uint8Array.from([...quote, ...new Uint8Array(pad)]));
          assert.deepEqual(q.body.mrEnclave, mrEnclave);
          assert.deepEqual(q.body.mrSigner, mrSigner);
          assert.deepEqual(q.body.reportData, reportData);
          assert.equal(q.body.isvProdId, isvProdId);
          assert.equal(q.body.isvSvn, isvSvn);
          assert.deepEqual(q.raw, quote);
          assert.equal(q.trailingBytes, pad);
          assert.deepEqual(decodeSgxQuote(q.raw), { ...q, trailingBytes: 0 });
        },
      ),
      { numRuns: 50 },
    );
  });
});
