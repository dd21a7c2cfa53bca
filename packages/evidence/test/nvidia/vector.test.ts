import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { bytesEqual, fromHex, hash, MalformedError, toHex } from "@veritee/core";
import { sharedPath } from "@veritee/testkit";
import { makeRoot } from "@veritee/testkit/x509";
import { VerificationError } from "../../src/errors.js";
import { decodePemChain } from "../../src/nvidia/cert-chain.js";
import {
  decodeGpuReport,
  decodeSpdmMeasurements,
  GPU_REPORT_LIMITS,
  GPU_REQUEST_SIZE,
} from "../../src/nvidia/decode.js";
import { decodeGpuRim } from "../../src/nvidia/rim.js";
import { NVIDIA_DEVICE_IDENTITY_ROOT } from "../../src/nvidia/roots.js";
import { verifyGpuReport } from "../../src/nvidia/verify.js";

const dir = (name: string) => sharedPath("vectors", "nvidia", name);
const REPORT_HEX = readFileSync(dir("hopperAttestationReport.txt"), "utf8");
const CHAIN_PEM = readFileSync(dir("hopperCertChain.txt"), "utf8");
const REPORT = fromHex(REPORT_HEX.trim());
const CHAIN = decodePemChain(CHAIN_PEM);
/** The verifier's nonce of the capture (PROVENANCE.md: 931d8dd0…64dfcb at byte 4). */
const NONCE = fromHex("931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb");
/** Any time after the newest notBefore (2022-03-01); the certificates run to 9999. */
const AT = new Date("2024-06-01T00:00:00Z");

describe("NVIDIA Hopper vector", () => {
  it("decodes: SPDM 1.1, 64 SHA-384 blocks, the opaque fields", () => {
    const r = decodeGpuReport(REPORT_HEX);
    assert.equal(r.request.version, 0x11);
    assert.equal(r.request.measurementOperation, 0xff);
    assert.ok(bytesEqual(r.request.nonce, NONCE));
    assert.equal(r.response.blocks.length, 64);
    assert.deepEqual(
      r.response.blocks.map((b) => b.index),
      Array.from({ length: 64 }, (_, i) => i + 1),
    );
    assert.ok(r.response.blocks.every((b) => b.value.length === 48 && b.valueType === 1 && !b.raw));
    assert.equal(toHex(r.response.blocks[3]!.value).slice(0, 16), "73bbf35822549e28");
    const o = r.response.opaque;
    assert.equal(o.driverVersion, "550.90.07");
    assert.equal(o.vbiosVersion, "96.00.9F.00.01");
    assert.equal(o.project, "1010");
    assert.equal(o.projectSku, "0200");
    assert.equal(o.chipSku, "882");
    assert.equal(o.projectSkuMod, "");
    assert.equal(o.protectedPcieStatus, 0x55);
    assert.equal(o.nvdec0Status, 0x55);
    assert.equal(o.measurementCounts?.length, 64);
    assert.equal(o.fwid?.length, 48);
    assert.equal(r.signedBytes.length, REPORT.length - 96);
  });

  it("verifies at a pinned time with its real nonce", async () => {
    const v = await verifyGpuReport({ report: REPORT_HEX, certChain: CHAIN_PEM, expectedNonce: NONCE, at: AT });
    assert.equal(v.measurements.size, 64);
    assert.equal(v.driverVersion, "550.90.07");
    assert.equal(v.vbiosVersion, "96.00.9F.00.01");
    assert.equal(v.chip, "GH100", "from the device certificate's CN, GH100 A01 GSP FMC LF");
    assert.equal(v.chain.path.length, 5);
    assert.equal(v.chain.anchor.subject.text, "CN=NVIDIA Device Identity CA, O=NVIDIA");
    assert.equal(v.session, undefined);
    assert.ok(Object.isFrozen(v));
    // DER certificates work as well as PEM text.
    await verifyGpuReport({ report: REPORT, certChain: CHAIN, expectedNonce: NONCE, at: AT });
  });

  it("the embedded root is the chain's self-signed root, fingerprint as documented", () => {
    assert.ok(bytesEqual(NVIDIA_DEVICE_IDENTITY_ROOT, CHAIN[CHAIN.length - 1]!));
    assert.equal(
      toHex(hash("sha256", NVIDIA_DEVICE_IDENTITY_ROOT)),
      "102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48",
    );
  });

  it("refuses another nonce, an earlier time, an untrusted root, a chain without its device certificate", async () => {
    const nonce = NONCE.slice();
    nonce[31]! ^= 1;
    await assert.rejects(
      verifyGpuReport({ report: REPORT, certChain: CHAIN, expectedNonce: nonce, at: AT }),
      (e: unknown) => e instanceof VerificationError && e.code === "nvidia-nonce-mismatch",
    );
    await assert.rejects(
      verifyGpuReport({ report: REPORT, certChain: CHAIN, expectedNonce: NONCE, at: new Date("2021-01-01T00:00:00Z") }),
      (e: unknown) => e instanceof VerificationError && e.code === "cert-not-yet-valid",
    );
    await assert.rejects(
      verifyGpuReport({
        report: REPORT,
        certChain: CHAIN,
        expectedNonce: NONCE,
        at: AT,
        roots: [makeRoot("Other").cert],
      }),
      (e: unknown) => e instanceof VerificationError && e.code.startsWith("cert-"),
    );
    await assert.rejects(
      verifyGpuReport({ report: REPORT, certChain: CHAIN.slice(1), expectedNonce: NONCE, at: AT }),
      (e: unknown) => e instanceof VerificationError,
    );
    await assert.rejects(
      verifyGpuReport({ report: REPORT, certChain: [CHAIN[0]!, CHAIN[2]!, CHAIN[3]!], expectedNonce: NONCE, at: AT }),
      (e: unknown) => e instanceof VerificationError && e.code === "cert-untrusted-root",
    );
  });

  it("rejects truncation and extension of the report by anything but zero padding", async () => {
    const bads = [
      REPORT.subarray(0, REPORT.length - 1),
      REPORT.subarray(0, 36),
      new Uint8Array([...REPORT, 1]),
      new Uint8Array([...REPORT, 0, 0, 0x80]),
      new Uint8Array([...REPORT, ...new Uint8Array(GPU_REPORT_LIMITS.maxPadding + 1)]),
    ];
    for (const bad of bads) {
      await assert.rejects(
        verifyGpuReport({ report: bad, certChain: CHAIN, expectedNonce: NONCE, at: AT }),
        (e: unknown) => e instanceof MalformedError && (bad.length < REPORT.length || e.code === "trailing-data"),
      );
    }
  });

  it("accepts zero padding after the signature (a CoCo guest's capture has one byte), unsigned and counted", async () => {
    for (const n of [1, 7, GPU_REPORT_LIMITS.maxPadding]) {
      const padded = new Uint8Array(REPORT.length + n);
      padded.set(REPORT);
      const v = await verifyGpuReport({ report: padded, certChain: CHAIN, expectedNonce: NONCE, at: AT });
      assert.equal(v.driverVersion, "550.90.07");
      const decoded = decodeGpuReport(padded);
      assert.equal(decoded.padding, n);
      assert.deepEqual(decoded.signedBytes, decodeGpuReport(REPORT).signedBytes, "the padding is not signed");
    }
    assert.equal(decodeGpuReport(REPORT).padding, 0);
    // The SPDM message itself stays exact: padding belongs to the capture, not to MEASUREMENTS.
    assert.throws(
      () => decodeSpdmMeasurements(new Uint8Array([...REPORT.subarray(GPU_REQUEST_SIZE), 0])),
      (e: unknown) => e instanceof MalformedError && e.code === "trailing-data",
    );
  });
});

describe("NVIDIA RIM vectors", () => {
  it("decode the reference values of both SWID tags", () => {
    for (const [file, version] of [
      ["1010_0200_882_96005E0001_PROD.swidtag", "96.00.5E.00.01"],
      ["g520_0200_885_9600740001_PROD.swidtag", "96.00.74.00.01"],
    ] as const) {
      const rim = decodeGpuRim(readFileSync(dir(file), "utf8"));
      assert.equal(rim.version, version);
      assert.equal(rim.product, "GH100");
      assert.equal(rim.tagId.length, 96);
      // Active RIM indices 0–6, 8–12, i.e. SPDM blocks 1–7 and 9–13.
      assert.deepEqual([...rim.measurements.keys()], [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13]);
      assert.equal(rim.measurements.get(13)!.alternatives.length, 4);
    }
  });

  it("RIM index n is SPDM block n + 1: the shared FSP measurements match the vector", async () => {
    const rim = decodeGpuRim(readFileSync(dir("1010_0200_882_96005E0001_PROD.swidtag"), "utf8"));
    const v = await verifyGpuReport({ report: REPORT, certChain: CHAIN, expectedNonce: NONCE, at: AT });
    const matches = [...rim.measurements].filter(([i, m]) =>
      m.alternatives.includes(toHex(v.measurements.get(i)!.value)),
    );
    // This RIM is for VBIOS 96.00.5E.00.01 and the GPU runs 96.00.9F.00.01:
    // the blocks that VBIOS version changes (2, 3, 10, 12) differ.
    assert.deepEqual(
      matches.map(([i]) => i),
      [1, 4, 5, 6, 7, 9, 11, 13],
    );
  });
});
