import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MalformedError } from "@veritee/core";
import fc from "fast-check";
import { decodeSnpCertTable, encodeSnpCertTable, SNP_CERT_GUID } from "../../src/tee/snp-cert-table.js";

const der = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe("SEV-SNP certificate table (GHCB 2.0 §4.1.8.1)", () => {
  test("round trip: VCEK, ASK, ARK by role, and an unknown entry kept by GUID", () => {
    const other = "01234567-89ab-cdef-0123-456789abcdef";
    const bytes = encodeSnpCertTable([
      { guid: SNP_CERT_GUID.vcek, der: der(100, 1) },
      { guid: SNP_CERT_GUID.ask, der: der(80, 2) },
      { guid: SNP_CERT_GUID.ark, der: der(60, 3) },
      { guid: other, der: der(5, 4) },
    ]);
    const table = decodeSnpCertTable(bytes);
    assert.deepEqual(table.vcek, der(100, 1));
    assert.deepEqual(table.ask, der(80, 2));
    assert.deepEqual(table.ark, der(60, 3));
    assert.equal(table.vlek, undefined);
    assert.deepEqual(table.entries.get(other), der(5, 4));
    assert.deepEqual([...table.entries.keys()], [SNP_CERT_GUID.vcek, SNP_CERT_GUID.ask, SNP_CERT_GUID.ark, other]);
  });

  test("malformed tables are refused naming the field", () => {
    const good = encodeSnpCertTable([{ guid: SNP_CERT_GUID.vcek, der: der(10, 1) }]);
    const cases: [string, Uint8Array, RegExp][] = [
      ["no terminator", good.slice(0, 24), /truncated|SnpCertTable/],
      ["offset inside the table", withU32(good, 16, 8), /offset/],
      ["length past the end", withU32(good, 20, 11), /offset/],
      ["empty certificate", withU32(good, 20, 0), /length/],
      ["terminator with an offset", withU32(good, 40, 1), /terminator/],
    ];
    for (const [what, bytes, pattern] of cases) {
      assert.throws(
        () => decodeSnpCertTable(bytes),
        (e) => e instanceof MalformedError && pattern.test(e.message),
        what,
      );
    }
    const twice = encodeSnpCertTable([
      { guid: SNP_CERT_GUID.ask, der: der(10, 1) },
      { guid: SNP_CERT_GUID.ask, der: der(10, 2) },
    ]);
    assert.throws(() => decodeSnpCertTable(twice), /twice/);
    const overlapping = withU32(
      encodeSnpCertTable([
        { guid: SNP_CERT_GUID.vcek, der: der(10, 1) },
        { guid: SNP_CERT_GUID.ask, der: der(10, 2) },
      ]),
      40,
      72 + 5,
    );
    assert.throws(() => decodeSnpCertTable(overlapping), /overlap/);
  });

  test("property: random and mutated bytes give a table or a MalformedError, never another exception", () => {
    const table = encodeSnpCertTable([
      { guid: SNP_CERT_GUID.vcek, der: der(40, 1) },
      { guid: SNP_CERT_GUID.ark, der: der(30, 2) },
    ]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.nat(table.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const m = table.slice();
            m[i]! ^= x;
            return m;
          }),
        ),
        (bytes) => {
          try {
            const t = decodeSnpCertTable(bytes);
            for (const cert of t.entries.values()) assert.ok(cert.length > 0);
          } catch (error) {
            assert.ok(error instanceof MalformedError, String(error));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

function withU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value, true);
  return copy;
}
