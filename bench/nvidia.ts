/**
 * NVIDIA Hopper GPU report verification on the real capture
 * (../shared/vectors/nvidia): the full `verifyGpuReport` (decode, request
 * checks, SPDM signature, nonce, device chain of 5 ECDSA P-384 certificates
 * to the embedded root) against the physical floor, one bare node:crypto
 * ECDSA P-384/SHA-384 verification of the same transcript with the device
 * key already imported; and `createGpuVerifier().verify` with a warm cache
 * (the device chain looked up by SHA-256 of its certificates, windows
 * re-checked; request, signature, nonce and indices checked every call).
 */
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { fromHex } from "@veritee/core";
import { createGpuVerifier, decodeCertificate, decodePemChain, verifyGpuReport } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import { compare, fmt } from "./harness.js";

export async function benchNvidia(): Promise<void> {
  const dir = (name: string) => sharedPath("vectors", "nvidia", name);
  const report = fromHex(readFileSync(dir("hopperAttestationReport.txt"), "utf8").trim());
  const chain = decodePemChain(readFileSync(dir("hopperCertChain.txt"), "utf8"));
  const input = { report, certChain: chain, expectedNonce: report.slice(4, 36), at: new Date("2024-06-01T00:00:00Z") };
  await verifyGpuReport(input); // it verifies before we time it
  const key = createPublicKey({ key: Buffer.from(decodeCertificate(chain[0]!).spki), format: "der", type: "spki" });
  const signed = report.subarray(0, report.length - 96);
  const signature = report.subarray(report.length - 96);
  const bare = () => nodeVerify("sha384", signed, { key, dsaEncoding: "ieee-p1363" }, signature);
  if (!bare()) throw new Error("bare verification failed");
  const verifier = createGpuVerifier();
  await verifier.verify(input);
  const r = await compare(() => verifyGpuReport(input), bare, { rounds: 5, roundMs: 300 });
  const w = await compare(() => verifier.verify(input), bare, { rounds: 5, roundMs: 300 });
  console.log("\n## NVIDIA GPU report verification (real Hopper report) vs one bare ECDSA P-384 verify");
  console.log("| verification | verifications/s | bare verify/s | ratio |");
  console.log("| --- | ---: | ---: | ---: |");
  console.log(
    `| full verifyGpuReport (5-certificate P-384 chain per call) | ${fmt(r.subject.opsPerSecond)} | ${fmt(r.baseline.opsPerSecond)} | ${fmt(r.ratio)}× |`,
  );
  console.log(
    `| createGpuVerifier().verify, warm cache | ${fmt(w.subject.opsPerSecond)} | ${fmt(w.baseline.opsPerSecond)} | ${fmt(w.ratio)}× |`,
  );
}
