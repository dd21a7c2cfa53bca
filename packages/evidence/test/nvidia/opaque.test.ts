/**
 * NVIDIA opaque data beyond the first Hopper firmware's fields: the newer
 * TLV types (switch PDIs, opaque-data version, feature flag, ...), unknown
 * types kept as `{ type, value }`, TLVs the lengths do not account for, and
 * capture padding after the signature. Reports are forged under a test root
 * (@veritee/testkit/nvidia).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError, randomBytes, toHex } from "@veritee/core";
import { defaultOpaque, forgeGpuReport, makeGpuDeviceChain, opaqueText } from "@veritee/testkit/nvidia";
import fc from "fast-check";
import { decodeGpuOpaqueData, decodeGpuReport, GPU_REQUEST_SIZE, NVIDIA_OPAQUE } from "../../src/nvidia/decode.js";
import { verifyGpuReport } from "../../src/nvidia/verify.js";

const device = makeGpuDeviceChain();
const AT = new Date("2025-01-01T00:00:00Z");
const NONCE = randomBytes(32);

const verify = (report: Uint8Array) =>
  verifyGpuReport({ report, certChain: device.chain, expectedNonce: NONCE, at: AT, roots: [device.root.cert] });

function malformed(f: () => unknown, code: string, message?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof MalformedError, `expected MalformedError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Encode TLVs the way the GPU does: u16 type, u16 size, value, little-endian. */
function tlvs(fields: readonly { type: number; value: Uint8Array }[]): Uint8Array {
  const out: number[] = [];
  for (const f of fields) out.push(f.type & 0xff, f.type >> 8, f.value.length & 0xff, f.value.length >> 8, ...f.value);
  return Uint8Array.from(out);
}

const pdi = (n: number) => Uint8Array.from({ length: 8 }, (_, i) => n * 16 + i);

/** What a newer Hopper firmware adds after the first firmware's fields, plus two types nobody defined yet. */
const NEWER = [
  { type: NVIDIA_OPAQUE.switchPdi, value: Uint8Array.from([...pdi(1), ...pdi(2), ...pdi(3)]) },
  { type: NVIDIA_OPAQUE.floorsweptPorts, value: Uint8Array.of(0, 0, 0, 0) },
  { type: NVIDIA_OPAQUE.positionId, value: Uint8Array.of(3) },
  { type: NVIDIA_OPAQUE.lockSwitchStatus, value: Uint8Array.of(0x55) },
  { type: NVIDIA_OPAQUE.gpuLinkConn, value: Uint8Array.of(1, 0, 0, 0) },
  { type: NVIDIA_OPAQUE.sysEnableStatus, value: Uint8Array.of(0xaa) },
  { type: NVIDIA_OPAQUE.opaqueDataVersion, value: Uint8Array.of(1, 0) },
  { type: NVIDIA_OPAQUE.chipInfo, value: opaqueText("GH100", 16) },
  { type: NVIDIA_OPAQUE.featureFlag, value: Uint8Array.of(2, 0) },
  { type: 0x0040, value: Uint8Array.of(0xde, 0xad) },
  { type: 0x1234, value: new Uint8Array(0) },
];

describe("NVIDIA opaque data: newer and unknown fields", () => {
  it("a report with the newer TLVs and unknown types decodes and verifies; unknown types are kept as found", async () => {
    const report = forgeGpuReport(device, { nonce: NONCE, opaque: [...defaultOpaque(), ...NEWER] });
    const v = await verify(report);
    const o = v.opaque;
    assert.equal(v.driverVersion, "550.90.07");
    assert.deepEqual(o.switchPdis?.map(toHex), [toHex(pdi(1)), toHex(pdi(2)), toHex(pdi(3))]);
    assert.equal(o.opaqueDataVersion, 1);
    assert.equal(o.chipInfo, "GH100");
    assert.equal(o.featureMode, "ppcie");
    assert.deepEqual(
      o.unknown.map((f) => [f.type, toHex(f.value)]),
      [
        [0x40, "dead"],
        [0x1234, ""],
      ],
    );
    assert.equal(o.fields.length, defaultOpaque().length + NEWER.length);
    assert.ok(Object.isFrozen(o.unknown));
  });

  it("the feature flag's three modes; another value, a wrong size, a bad PDI list or the invalid type is refused", () => {
    for (const [flag, mode] of [
      [0, "spt"],
      [1, "mpt"],
      [2, "ppcie"],
    ] as const) {
      assert.equal(decodeGpuOpaqueData(tlvs([{ type: 36, value: Uint8Array.of(flag) }])).featureMode, mode);
    }
    malformed(() => decodeGpuOpaqueData(tlvs([{ type: 36, value: Uint8Array.of(3) }])), "bad-value", /type 36/);
    malformed(() => decodeGpuOpaqueData(tlvs([{ type: 36, value: new Uint8Array(0) }])), "bad-length");
    malformed(() => decodeGpuOpaqueData(tlvs([{ type: 34, value: new Uint8Array(7) }])), "bad-length");
    malformed(() => decodeGpuOpaqueData(tlvs([{ type: 22, value: new Uint8Array(12) }])), "bad-length", /type 22/);
    malformed(() => decodeGpuOpaqueData(tlvs([{ type: 255, value: Uint8Array.of(0) }])), "bad-value", /invalid/);
    malformed(() => decodeGpuOpaqueData(tlvs([{ type: 35, value: opaqueText("GH\u0001") }])), "bad-value");
    const twice = { type: 0x99, value: Uint8Array.of(1) };
    malformed(() => decodeGpuOpaqueData(tlvs([twice, twice])), "bad-value", /twice/);
  });
});

describe("NVIDIA opaque data: only what the lengths account for", () => {
  const good = tlvs([...defaultOpaque(), ...NEWER]);

  it("a TLV header cut short, or a DataSize past the end, is truncated", () => {
    for (const extra of [[0x40], [0x40, 0x00], [0x40, 0x00, 0x05]]) {
      malformed(() => decodeGpuOpaqueData(Uint8Array.from([...good, ...extra])), "truncated");
    }
    // Type 0x40 says 5 bytes of value and 4 follow.
    malformed(() => decodeGpuOpaqueData(Uint8Array.from([...good, 0x40, 0, 5, 0, 1, 2, 3, 4])), "truncated");
    // Every prefix that ends inside a TLV is refused; every prefix at a TLV boundary decodes.
    const boundaries = new Set<number>([0]);
    let at = 0;
    while (at < good.length) {
      at += 4 + (good[at + 2]! | (good[at + 3]! << 8));
      boundaries.add(at);
    }
    for (let n = 0; n <= good.length; n++) {
      if (boundaries.has(n)) decodeGpuOpaqueData(good.subarray(0, n));
      else malformed(() => decodeGpuOpaqueData(good.subarray(0, n)), "truncated");
    }
  });

  it("an OpaqueLength that cuts the last TLV is refused before any signature check", () => {
    const report = forgeGpuReport(device, { nonce: NONCE, opaque: [...defaultOpaque(), ...NEWER] });
    const r = decodeGpuReport(report);
    // Find OpaqueLength: after the 8-byte header, the records and the 32-byte nonce.
    const response = GPU_REQUEST_SIZE;
    const recordLength = report[response + 5]! | (report[response + 6]! << 8) | (report[response + 7]! << 16);
    const at = response + 8 + recordLength + 32;
    const length = report[at]! | (report[at + 1]! << 8);
    assert.equal(length, tlvs(r.response.opaque.fields).length);
    for (const delta of [-1, 1]) {
      const bad = report.slice();
      bad[at] = (length + delta) & 0xff;
      bad[at + 1] = (length + delta) >> 8;
      assert.throws(
        () => decodeGpuReport(bad),
        (e: unknown) => e instanceof MalformedError,
      );
    }
  });

  it("padding after the signature: zero bytes are counted and unsigned, anything else is trailing-data", async () => {
    const report = forgeGpuReport(device, { nonce: NONCE, opaque: [...defaultOpaque(), ...NEWER] });
    const padded = Uint8Array.from([...report, 0]);
    const v = await verify(padded);
    assert.equal(v.opaque.featureMode, "ppcie");
    assert.equal(decodeGpuReport(padded).padding, 1);
    malformed(() => decodeGpuReport(Uint8Array.from([...report, 0, 7])), "trailing-data", /non-zero/);
  });

  it("property: decode(encode(fields)) gives back every field, in order; unknown types exactly the unlisted ones", () => {
    const known = new Set<number>(Object.values(NVIDIA_OPAQUE));
    const unknownType = fc.integer({ min: 0, max: 0xffff }).filter((t) => !known.has(t));
    const field = fc.record({ type: unknownType, value: fc.uint8Array({ maxLength: 40 }) });
    fc.assert(
      fc.property(
        fc.uniqueArray(field, { selector: (f) => f.type, maxLength: 12 }),
        fc.boolean(),
        (extra, withKnown) => {
          const fields = withKnown ? [...defaultOpaque(), ...NEWER.slice(0, 9), ...extra] : extra;
          const o = decodeGpuOpaqueData(tlvs(fields));
          assert.deepEqual(
            o.fields.map((f) => [f.type, toHex(f.value)]),
            fields.map((f) => [f.type, toHex(f.value)]),
          );
          assert.deepEqual(
            o.unknown.map((f) => f.type),
            extra.map((f) => f.type),
          );
          assert.equal(o.driverVersion, withKnown ? "550.90.07" : undefined);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("property: random TLV streams and random bytes yield a decoding or MalformedError, nothing else", () => {
    const field = fc.record({ type: fc.integer({ min: 0, max: 40 }), value: fc.uint8Array({ maxLength: 20 }) });
    fc.assert(
      fc.property(fc.array(field, { maxLength: 10 }), fc.uint8Array({ maxLength: 8 }), (fields, tail) => {
        try {
          decodeGpuOpaqueData(Uint8Array.from([...tlvs(fields), ...tail]));
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe("the GPU's chip, from the proven device certificate", () => {
  it("is the first word of the device certificate's CN when it is a chip name", async () => {
    for (const [deviceName, chip] of [
      ["GH100 A01 GSP FMC LF", "GH100"],
      ["GB202 A01 GSP FMC LF", "GB202"],
      ["Test GH100 GSP FMC LF", undefined],
      ["gh100 A01", undefined],
      ["GH1000 A01", undefined],
    ] as const) {
      const chain = makeGpuDeviceChain({ deviceName });
      const v = await verifyGpuReport({
        report: forgeGpuReport(chain, { nonce: NONCE }),
        certChain: chain.chain,
        expectedNonce: NONCE,
        at: AT,
        roots: [chain.root.cert],
      });
      assert.equal(v.chip, chip, deviceName);
    }
  });
});
