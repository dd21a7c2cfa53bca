/**
 * The `.npy` reader: every array NumPy's format can hold in the dtypes read
 * round-trips (fast-check, against a writer made here to the format's
 * description), and truncated, extended, mis-headed or foreign files are
 * refused naming what is wrong.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { CliError } from "../src/cli-error.js";
import { decodeNpy } from "../src/npy.js";

/** A .npy file (version 1.0): magic, version, header length, the header padded to a multiple of 64, the data. */
function npy(descr: string, shape: readonly number[], data: Uint8Array, version = 1): Uint8Array {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const prefix = version === 1 ? 10 : 12;
  header += `${" ".repeat(63 - ((prefix + header.length) % 64))}\n`;
  const head = new Uint8Array(prefix);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(head.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(prefix + text.length + data.length);
  out.set(head);
  out.set(text, prefix);
  out.set(data, prefix + text.length);
  return out;
}

test("float32, int64 and uint8 arrays of any shape round-trip, in versions 1 to 3", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 }),
      fc.constantFrom(1, 2, 3),
      fc.integer({ min: 0, max: 1000 }),
      (shape, version, seed) => {
        const count = shape.reduce((a, b) => a * b, 1);
        const f = Float32Array.from({ length: count }, (_, i) => (i + seed) / 7);
        const got = decodeNpy(npy("<f4", shape, new Uint8Array(f.buffer), version), "x", "a.npy");
        assert.deepEqual([got.datatype, got.shape], ["FP32", shape]);
        assert.deepEqual(Array.from(got.data as Float32Array), Array.from(f));
        const ints = BigInt64Array.from({ length: count }, (_, i) => BigInt(i * seed - 3));
        const i64 = decodeNpy(npy("<i8", shape, new Uint8Array(ints.buffer), version), "ids", "b.npy");
        assert.equal(i64.datatype, "INT64");
        assert.deepEqual(Array.from(i64.data as BigInt64Array), Array.from(ints));
        const bytes = Uint8Array.from({ length: count }, (_, i) => (i + seed) & 0xff);
        assert.deepEqual(
          Array.from(decodeNpy(npy("|u1", shape, bytes, version), "u", "c.npy").data as Uint8Array),
          Array.from(bytes),
        );
      },
    ),
  );
});

test("truncated, extended, big-endian, Fortran-ordered or foreign files are refused", () => {
  const data = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
  const good = npy("<f4", [2, 2], data);
  const fortran = Uint8Array.from(good);
  fortran.set(new TextEncoder().encode("True "), Buffer.from(good).indexOf("False"));
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, good.length - 1), /data bytes for a shape of 4/],
    [new Uint8Array([...good, 0]), /data bytes for a shape of 4/],
    [npy(">f4", [2, 2], data), /a header other than/],
    [npy("<c8", [2, 2], data), /a header other than/],
    [npy("<f2", [2, 2], data.subarray(0, 8)), /dtype <f2/],
    [fortran, /a header other than/],
    [new TextEncoder().encode("PK\u0003\u0004 not numpy"), /no NUMPY magic/],
    [npy("|b1", [2], new Uint8Array([0, 2])), /BOOL bytes/],
    [good.subarray(0, 12), /truncated header/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(
      () => decodeNpy(bytes, "x", "f.npy"),
      (e: unknown) => e instanceof CliError && e.code === "bad-argument" && message.test(e.message),
      String(message),
    );
  }
});
