import assert from "node:assert/strict";
import { test } from "node:test";
import { concatBytes, fromHex } from "@veritee/core";
import fc from "fast-check";
import { decodeTpmsAttest, encodeTpmsAttest, type TpmsAttest } from "../../src/tpm/attest.js";
import { decodePcrValuesFile, pcrDigest } from "../../src/tpm/pcr-selection.js";
import { mutated, tpmsAttest } from "./arbitraries.js";
import { ecdsaP256, rsaPss, rsaSsa, SWTPM_VECTORS } from "./swtpm-vectors.js";
import { onlyMalformed, throwsMalformed } from "./typed.js";

test("decodes a quote swtpm signed", () => {
  const a = decodeTpmsAttest(ecdsaP256.attest);
  assert.deepEqual(a.extraData, ecdsaP256.nonce);
  assert.deepEqual(a.qualifiedSigner.subarray(0, 2), fromHex("000b"));
  assert.equal(a.qualifiedSigner.length, 34);
  assert.equal(a.clockInfo.safe, true);
  assert.equal(a.clockInfo.clock, 0x86an);
  assert.equal(a.clockInfo.resetCount, 1);
  assert.equal(a.clockInfo.restartCount, 0);
  assert.equal(a.firmwareVersion, 0x2019102300163636n);
  assert.equal(a.attested.type, "quote");
  if (a.attested.type !== "quote") return;
  assert.deepEqual(a.attested.pcrSelect, [
    { hash: "sha1", sizeofSelect: 3, pcrs: [0, 16] },
    { hash: "sha256", sizeofSelect: 3, pcrs: [0, 1, 16, 23] },
  ]);
  assert.deepEqual(a.attested.pcrDigest, fromHex("c7aec85398f8657b0726957aa03714d4faa707d3e2a957402f8aa0661eb74d21"));
});

test("the swtpm PCR digests equal SHA-256 over the tpm2_quote -F values files", () => {
  for (const v of SWTPM_VECTORS) {
    const a = decodeTpmsAttest(v.attest);
    if (a.attested.type !== "quote") throw new Error("not a quote");
    const values = decodePcrValuesFile(v.pcrValuesFile, a.attested.pcrSelect);
    assert.deepEqual(pcrDigest("sha256", a.attested.pcrSelect, values), a.attested.pcrDigest, v.description);
    assert.deepEqual(encodeTpmsAttest(a), v.attest, v.description);
  }
});

test("magic, type, TPMI_YES_NO and size bounds are checked", () => {
  const good = rsaPss.attest;
  const patch = (offset: number, hex: string) => {
    const b = good.slice();
    b.set(fromHex(hex), offset);
    return b;
  };
  throwsMalformed(() => decodeTpmsAttest(patch(0, "ff544348")), "bad-magic");
  throwsMalformed(() => decodeTpmsAttest(patch(4, "8001")), "bad-value"); // TPM_ST_NO_SESSIONS is no attest type
  throwsMalformed(() => decodeTpmsAttest(patch(6, "0043")), "too-large"); // TPM2B_NAME > 66
  throwsMalformed(() => decodeTpmsAttest(patch(6, "0021")), "bad-length"); // a SHA-256 name of 33 bytes
  // extraData at 42: TPM2B_DATA is bounded by sizeof(TPMT_HA) = 66.
  throwsMalformed(() => decodeTpmsAttest(patch(42, "0043")), "too-large");
  // clockInfo.safe at 44 + 8 (extraData) + 16.
  throwsMalformed(() => decodeTpmsAttest(patch(68, "02")), "bad-value");
  for (let n = 0; n < good.length; n++) throwsMalformed(() => decodeTpmsAttest(good.subarray(0, n)), "truncated");
  throwsMalformed(() => decodeTpmsAttest(concatBytes(good, fromHex("00"))), "trailing-data");
});

test("every attestation type round trips; the decoder copies", () => {
  const base = decodeTpmsAttest(rsaSsa.attest);
  const others: TpmsAttest["attested"][] = [
    { type: "certify", name: fromHex(`000b${"11".repeat(32)}`), qualifiedName: fromHex("40000001") },
    { type: "creation", objectName: new Uint8Array(0), creationHash: new Uint8Array(32) },
    {
      type: "time",
      time: 5n,
      clockInfo: { clock: 1n, resetCount: 2, restartCount: 3, safe: false },
      firmwareVersion: 9n,
    },
    {
      type: "command-audit",
      auditCounter: 7n,
      digestAlg: "sha384",
      auditDigest: new Uint8Array(48),
      commandDigest: new Uint8Array(48),
    },
    { type: "session-audit", exclusiveSession: true, sessionDigest: new Uint8Array(32) },
    { type: "nv", indexName: fromHex(`000b${"22".repeat(32)}`), offset: 4, nvContents: fromHex("0102") },
    { type: "nv-digest", indexName: fromHex(`0004${"33".repeat(20)}`), nvDigest: new Uint8Array(20) },
  ];
  for (const attested of others) {
    const a: TpmsAttest = { ...base, attested };
    const bytes = encodeTpmsAttest(a);
    const d = decodeTpmsAttest(bytes);
    assert.deepEqual(d, a, attested.type);
    bytes.fill(0);
    assert.deepEqual(d, a, "decoded values do not alias the input");
  }
});

test("property: TPMS_ATTEST round trips", () => {
  fc.assert(
    fc.property(tpmsAttest, (a) => {
      assert.deepEqual(decodeTpmsAttest(encodeTpmsAttest(a)), a);
    }),
    { numRuns: 1000 },
  );
});

test("property: arbitrary and mutated bytes yield only MalformedError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyMalformed(() => decodeTpmsAttest(b))),
    { numRuns: 2000 },
  );
  // Random bytes rarely get past the magic; start from it.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) =>
      onlyMalformed(() => decodeTpmsAttest(concatBytes(fromHex("ff5443478018"), b))),
    ),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(mutated(tpmsAttest.map(encodeTpmsAttest)), (b) => onlyMalformed(() => decodeTpmsAttest(b))),
    { numRuns: 2000 },
  );
});
