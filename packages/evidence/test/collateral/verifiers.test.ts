/**
 * The cached SEV-SNP and NVIDIA verifiers (`createSnpVerifier`,
 * `createGpuVerifier`) on the real vectors: the verdicts of the functional
 * verifiers, and a warm cache still refuses a time outside a certificate's
 * window and any mutated report, with the same typed error.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fromHex, VeriteeError } from "@veritee/core";
import { sharedPath } from "@veritee/testkit";
import { decodePemChain } from "../../src/nvidia/cert-chain.js";
import { createGpuVerifier, verifyGpuReport } from "../../src/nvidia/verify.js";
import { createSnpVerifier, verifySnpReport } from "../../src/sev-snp/verify.js";

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof VeriteeError) return `${e.kind}:${e.code}`;
    throw e;
  }
}

describe("createSnpVerifier (real Milan report)", () => {
  const read = (name: string) => new Uint8Array(readFileSync(sharedPath("vectors", "sev-snp", name)));
  const report = read("attestation.bin");
  const vcek = read("vcek.der");
  const at = new Date("2023-01-01T00:00:00Z");

  it("verifies like verifySnpReport and caches the endorsement once", async () => {
    const snp = createSnpVerifier({ cacheSize: 4 });
    const a = await snp.verify({ report, vcek, at });
    const b = await snp.verify({ report, vcek, at });
    assert.equal(snp.size, 1);
    assert.equal(a.endorsement, b.endorsement, "the second call reused the verified endorsement");
    assert.deepEqual(b.report.measurement, (await verifySnpReport({ report, vcek, at })).report.measurement);
    assert.equal(
      await outcome(snp.verify({ report, vcek, at, product: "Genoa" })),
      "verification:snp-product-mismatch",
    );
  });

  it("a warm cache refuses times outside the VCEK's window and every sampled mutated report, as uncached", async () => {
    const snp = createSnpVerifier();
    await snp.verify({ report, vcek, at });
    for (const [time, expected] of [
      ["2030-01-01T00:00:00Z", "verification:cert-expired"],
      ["2022-09-01T00:00:00Z", "verification:cert-not-yet-valid"],
    ] as const) {
      const t = new Date(time);
      assert.equal(await outcome(snp.verify({ report, vcek, at: t })), expected);
      assert.equal(await outcome(verifySnpReport({ report, vcek, at: t })), expected);
    }
    for (let i = 0; i < 0x2a0; i += 13) {
      const bad = Uint8Array.from(report);
      bad[i]! ^= 0x04;
      const cached = await outcome(snp.verify({ report: bad, vcek, at }));
      assert.notEqual(cached, "ok", `byte ${i}`);
      assert.equal(cached, await outcome(verifySnpReport({ report: bad, vcek, at })), `byte ${i}`);
    }
  });
});

describe("createGpuVerifier (real Hopper report)", () => {
  const dir = (name: string) => sharedPath("vectors", "nvidia", name);
  const report = fromHex(readFileSync(dir("hopperAttestationReport.txt"), "utf8").trim());
  const certChain = decodePemChain(readFileSync(dir("hopperCertChain.txt"), "utf8"));
  const expectedNonce = report.slice(4, 36);
  const at = new Date("2024-06-01T00:00:00Z");

  it("verifies like verifyGpuReport and caches the device chain once", async () => {
    const gpus = createGpuVerifier();
    const a = await gpus.verify({ report, certChain, expectedNonce, at });
    const b = await gpus.verify({ report, certChain, expectedNonce, at });
    assert.equal(gpus.size, 1);
    assert.equal(a.chain, b.chain);
    assert.equal(b.driverVersion, (await verifyGpuReport({ report, certChain, expectedNonce, at })).driverVersion);
  });

  it("a warm cache refuses an early time, another nonce and mutated reports, as uncached", async () => {
    const gpus = createGpuVerifier();
    await gpus.verify({ report, certChain, expectedNonce, at });
    const early = new Date("2000-01-01T00:00:00Z");
    const expected = await outcome(verifyGpuReport({ report, certChain, expectedNonce, at: early }));
    assert.equal(expected, "verification:cert-not-yet-valid");
    assert.equal(await outcome(gpus.verify({ report, certChain, expectedNonce, at: early })), expected);
    const otherNonce = new Uint8Array(32);
    assert.equal(
      await outcome(gpus.verify({ report, certChain, expectedNonce: otherNonce, at })),
      "verification:nvidia-nonce-mismatch",
    );
    for (let i = 0; i < report.length; i += 97) {
      const bad = Uint8Array.from(report);
      bad[i]! ^= 0x01;
      const cached = await outcome(gpus.verify({ report: bad, certChain, expectedNonce, at }));
      assert.notEqual(cached, "ok", `byte ${i}`);
      assert.equal(cached, await outcome(verifyGpuReport({ report: bad, certChain, expectedNonce, at })), `byte ${i}`);
    }
  });
});
