import assert from "node:assert/strict";
import { test } from "node:test";
import { concatBytes, fromHex } from "@veritee/core";
import fc from "fast-check";
import { decodeTpmtSignature, encodeTpmtSignature } from "../../src/tpm/signature.js";
import { mutated, tpmtSignature } from "./arbitraries.js";
import { ecdsaP256, rsaPss, rsaSsa } from "./swtpm-vectors.js";
import { onlyMalformed, throwsMalformed } from "./typed.js";

test("decodes the signatures swtpm made (ECDSA, RSAPSS, RSASSA) and re-encodes them exactly", () => {
  const ecdsa = decodeTpmtSignature(ecdsaP256.signature);
  assert.equal(ecdsa.sigAlg, "ecdsa");
  assert.equal(ecdsa.hash, "sha256");
  if (ecdsa.sigAlg === "ecdsa") {
    assert.equal(ecdsa.r.length, 32);
    assert.equal(ecdsa.s.length, 32);
  }
  const pss = decodeTpmtSignature(rsaPss.signature);
  assert.ok(pss.sigAlg === "rsapss" && pss.sig.length === 256);
  assert.equal(decodeTpmtSignature(rsaSsa.signature).sigAlg, "rsassa");
  for (const v of [ecdsaP256, rsaPss, rsaSsa]) {
    assert.deepEqual(encodeTpmtSignature(decodeTpmtSignature(v.signature)), v.signature);
  }
});

test("NULL, HMAC, ECDAA, SM2, ECSCHNORR are unsupported; non-schemes are bad values", () => {
  throwsMalformed(() => decodeTpmtSignature(fromHex("0010")), "unsupported"); // TPM_ALG_NULL
  throwsMalformed(() => decodeTpmtSignature(fromHex("0005000b")), "unsupported"); // HMAC
  for (const alg of ["001a", "001b", "001c"]) {
    throwsMalformed(() => decodeTpmtSignature(fromHex(`${alg}000b00010100010a`)), "unsupported");
  }
  throwsMalformed(() => decodeTpmtSignature(fromHex("0001000b0000")), "bad-value"); // TPM_ALG_RSA
  throwsMalformed(() => decodeTpmtSignature(fromHex("001800100000")), "bad-value"); // hash NULL
  throwsMalformed(() => decodeTpmtSignature(fromHex("001800120000")), "unsupported"); // hash SM3
});

test("size bounds, truncation and trailing data", () => {
  throwsMalformed(() => decodeTpmtSignature(fromHex(`0018000b0043${"00".repeat(67)}0000`)), "too-large");
  throwsMalformed(() => decodeTpmtSignature(fromHex(`0014000b0201${"00".repeat(513)}`)), "too-large");
  for (const v of [ecdsaP256, rsaPss]) {
    for (let n = 0; n < v.signature.length; n++) {
      throwsMalformed(() => decodeTpmtSignature(v.signature.subarray(0, n)), "truncated");
    }
    throwsMalformed(() => decodeTpmtSignature(concatBytes(v.signature, fromHex("00"))), "trailing-data");
  }
});

test("property: TPMT_SIGNATURE round trips", () => {
  fc.assert(
    fc.property(tpmtSignature, (s) => {
      assert.deepEqual(decodeTpmtSignature(encodeTpmtSignature(s)), s);
    }),
    { numRuns: 500 },
  );
});

test("property: arbitrary and mutated bytes yield only MalformedError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyMalformed(() => decodeTpmtSignature(b))),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(mutated(tpmtSignature.map(encodeTpmtSignature)), (b) => onlyMalformed(() => decodeTpmtSignature(b))),
    { numRuns: 2000 },
  );
});
