import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { fromHex, type HashAlg, MalformedError } from "@veritee/core";
import fc from "fast-check";
import { VerificationError } from "../../src/errors.js";
import {
  decodePcrSelection,
  decodePcrValuesFile,
  encodePcrSelection,
  type PcrSelection,
  type PcrValues,
  pcrDigest,
} from "../../src/tpm/pcr-selection.js";
import { mutated, pcrSelection } from "./arbitraries.js";
import { onlyMalformed, throwsMalformed } from "./typed.js";

test("pcrSelect[i] bit j selects PCR 8*i+j (Part 2 §10.6.2)", () => {
  // sha1 {0, 16} and sha256 {0, 1, 16, 23}, as swtpm reported them in a real quote.
  const sel = decodePcrSelection(fromHex("00000002" + "0004" + "03" + "010001" + "000b" + "03" + "030081"));
  assert.deepEqual(sel, [
    { hash: "sha1", sizeofSelect: 3, pcrs: [0, 16] },
    { hash: "sha256", sizeofSelect: 3, pcrs: [0, 1, 16, 23] },
  ]);
  const four = decodePcrSelection(fromHex("00000001000c0400000080"));
  assert.deepEqual(four, [{ hash: "sha384", sizeofSelect: 4, pcrs: [31] }]);
  assert.deepEqual(decodePcrSelection(fromHex("00000000")), []);
});

test("encodePcrSelection writes the bit order the decoder reads", () => {
  const sel: PcrSelection = [{ hash: "sha256", sizeofSelect: 3, pcrs: [0, 7, 8, 23] }];
  assert.deepEqual(encodePcrSelection(sel), fromHex("00000001000b03810180"));
  assert.throws(() => encodePcrSelection([{ hash: "sha256", sizeofSelect: 3, pcrs: [24] }]), RangeError);
  assert.throws(() => encodePcrSelection([{ hash: "sha256", sizeofSelect: 3, pcrs: [2, 1] }]), RangeError);
});

test("the decoder bounds count and sizeofSelect and rejects repeated banks", () => {
  throwsMalformed(() => decodePcrSelection(fromHex("00000009")), "too-large");
  throwsMalformed(() => decodePcrSelection(fromHex("00000001000b02ffff")), "bad-length");
  throwsMalformed(() => decodePcrSelection(fromHex("00000001000b05ffffffffff")), "bad-length");
  throwsMalformed(() => decodePcrSelection(fromHex("00000002000b03ffffff000b03ffffff")), "bad-value");
  throwsMalformed(() => decodePcrSelection(fromHex("000000010010030000ff")), "bad-value"); // TPM_ALG_NULL bank
  throwsMalformed(() => decodePcrSelection(fromHex("000000010012030000ff")), "unsupported"); // SM3 bank
  throwsMalformed(() => decodePcrSelection(fromHex("00000001000b03ffff")), "truncated");
  throwsMalformed(() => decodePcrSelection(fromHex("00000001000b03ffffff00")), "trailing-data");
});

test("pcrDigest hashes the selected values, banks in order, PCRs ascending (Part 3 §18.4)", () => {
  const v = (s: string, n: number) =>
    new Uint8Array(
      createHash(n === 20 ? "sha1" : "sha256")
        .update(s)
        .digest(),
    );
  const values: PcrValues = new Map<HashAlg, ReadonlyMap<number, Uint8Array>>([
    [
      "sha256",
      new Map([
        [3, v("a", 32)],
        [1, v("b", 32)],
        [9, v("unselected", 32)],
      ]),
    ],
    ["sha1", new Map([[0, v("c", 20)]])],
  ]);
  const sel: PcrSelection = [
    { hash: "sha1", sizeofSelect: 3, pcrs: [0] },
    { hash: "sha256", sizeofSelect: 3, pcrs: [1, 3] },
  ];
  const expected = createHash("sha384").update(v("c", 20)).update(v("b", 32)).update(v("a", 32)).digest();
  assert.deepEqual(pcrDigest("sha384", sel, values), new Uint8Array(expected));
  // An empty selection digests the empty string.
  assert.deepEqual(pcrDigest("sha256", [], values), new Uint8Array(createHash("sha256").digest()));
});

test("pcrDigest rejects a missing PCR and a value of the wrong size", () => {
  const sel: PcrSelection = [{ hash: "sha256", sizeofSelect: 3, pcrs: [0, 1] }];
  const one = new Map([["sha256" as HashAlg, new Map([[0, new Uint8Array(32)]])]]);
  assert.throws(
    () => pcrDigest("sha256", sel, one),
    (e: unknown) => e instanceof VerificationError && e.code === "pcr-values-missing",
  );
  assert.throws(
    () => pcrDigest("sha256", sel, new Map()),
    (e: unknown) => e instanceof VerificationError && e.code === "pcr-values-missing",
  );
  // 33 + 31 bytes concatenate like 32 + 32: sizes must be exact.
  const shifted = new Map([
    [
      "sha256" as HashAlg,
      new Map([
        [0, new Uint8Array(33)],
        [1, new Uint8Array(31)],
      ]),
    ],
  ]);
  throwsMalformed(() => pcrDigest("sha256", sel, shifted), "bad-length");
});

test("decodePcrValuesFile splits tpm2_quote -F values output by the selection", () => {
  const sel: PcrSelection = [
    { hash: "sha1", sizeofSelect: 3, pcrs: [0] },
    { hash: "sha256", sizeofSelect: 3, pcrs: [1, 16] },
  ];
  const file = new Uint8Array(20 + 64).map((_, i) => i);
  const values = decodePcrValuesFile(file, sel);
  assert.deepEqual(values.get("sha1")?.get(0), file.slice(0, 20));
  assert.deepEqual(values.get("sha256")?.get(1), file.slice(20, 52));
  assert.deepEqual(values.get("sha256")?.get(16), file.slice(52, 84));
  throwsMalformed(() => decodePcrValuesFile(file.subarray(0, 83), sel), "truncated");
  throwsMalformed(() => decodePcrValuesFile(new Uint8Array(85), sel), "trailing-data");
  // The values are copies: changing the file afterwards changes nothing.
  file[0] = 0xff;
  assert.equal(values.get("sha1")?.get(0)?.[0], 0);
});

test("property: TPML_PCR_SELECTION round trips", () => {
  fc.assert(
    fc.property(pcrSelection, (sel) => {
      assert.deepEqual(decodePcrSelection(encodePcrSelection(sel)), sel);
    }),
    { numRuns: 500 },
  );
});

test("property: arbitrary and mutated bytes yield only MalformedError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => onlyMalformed(() => decodePcrSelection(b))),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(mutated(pcrSelection.map(encodePcrSelection)), (b) => onlyMalformed(() => decodePcrSelection(b))),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(pcrSelection, fc.uint8Array({ maxLength: 600 }), (sel, b) =>
      onlyMalformed(() => decodePcrValuesFile(b, sel)),
    ),
    { numRuns: 500 },
  );
});

test("property: a values file of the right length always decodes and digests", () => {
  fc.assert(
    fc.property(
      pcrSelection.chain((sel) => {
        const size = sel.reduce(
          (n, b) => n + b.pcrs.length * { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[b.hash],
          0,
        );
        return fc.tuple(fc.constant(sel), fc.uint8Array({ minLength: size, maxLength: size }));
      }),
      ([sel, file]) => {
        const values = decodePcrValuesFile(file, sel);
        const concatenated = sel.flatMap((b) => b.pcrs.map((p) => values.get(b.hash)!.get(p)!));
        const expected = createHash("sha256");
        for (const v of concatenated) expected.update(v);
        assert.deepEqual(pcrDigest("sha256", sel, values), new Uint8Array(expected.digest()));
      },
    ),
    { numRuns: 300 },
  );
});

test("MalformedError names the field", () => {
  try {
    decodePcrSelection(fromHex("00000001000b09"));
    assert.fail("should throw");
  } catch (e) {
    assert.ok(e instanceof MalformedError);
    assert.equal(e.what, "TPML_PCR_SELECTION.pcrSelections[0].sizeofSelect");
  }
});
