import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fromHex, MalformedError } from "@veritee/core";
import { sharedPath } from "@veritee/testkit";
import { VerificationError } from "../../src/errors.js";
import { decodePemChain } from "../../src/nvidia/cert-chain.js";
import { GPU_REQUEST_SIZE } from "../../src/nvidia/decode.js";
import { verifyGpuReport } from "../../src/nvidia/verify.js";

// Mutation sweeps over the real Hopper capture: every byte of the report,
// a sample of the certificate chain's bytes. Each changed input must fail
// with a typed error, never verify and never crash.

const dir = (name: string) => sharedPath("vectors", "nvidia", name);
const REPORT = fromHex(readFileSync(dir("hopperAttestationReport.txt"), "utf8").trim());
const CHAIN = decodePemChain(readFileSync(dir("hopperCertChain.txt"), "utf8"));
const NONCE = REPORT.slice(4, 36);
const AT = new Date("2024-06-01T00:00:00Z");

function isTyped(e: unknown): boolean {
  return e instanceof MalformedError || e instanceof VerificationError;
}

describe("NVIDIA Hopper vector, single-byte mutations", () => {
  it("rejects a single-byte change anywhere in the report with a typed error", async () => {
    // Every byte is either structure (decode fails) or signed (the signature fails).
    const codes = new Map<string, number>();
    for (let i = 0; i < REPORT.length; i++) {
      const bad = REPORT.slice();
      bad[i]! ^= i < GPU_REQUEST_SIZE ? 0x01 : 0x80;
      try {
        await verifyGpuReport({ report: bad, certChain: CHAIN, expectedNonce: NONCE, at: AT });
        assert.fail(`byte ${i} changed and the report still verified`);
      } catch (e) {
        assert.ok(isTyped(e), `byte ${i}: ${String(e)}`);
        const code = (e as MalformedError | VerificationError).code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    assert.ok((codes.get("signature-invalid") ?? 0) > 3000);
  });

  it("rejects sampled single-byte changes in the certificate chain with a typed error", async () => {
    let checked = 0;
    for (let c = 0; c < CHAIN.length - 1; c++) {
      const der = CHAIN[c]!;
      for (let i = 0; i < der.length; i += 29) {
        const bad = CHAIN.map((d) => d.slice());
        bad[c]![i]! ^= 0x04;
        try {
          await verifyGpuReport({ report: REPORT, certChain: bad, expectedNonce: NONCE, at: AT });
        } catch (e) {
          assert.ok(isTyped(e), `cert ${c} byte ${i}: ${String(e)}`);
          checked++;
          continue;
        }
        // Every certificate byte is signed or structural: none may change and still verify.
        assert.fail(`cert ${c} byte ${i} changed and the chain still verified`);
      }
    }
    assert.ok(checked > 80);
  });
});
