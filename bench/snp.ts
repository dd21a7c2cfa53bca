/**
 * AMD SEV-SNP report verification on the real Milan report and VCEK
 * (../shared/vectors/sev-snp), side by side with the physical floor: one bare
 * node:crypto ECDSA P-384 SHA-384 verification of the same signed bytes with
 * the VCEK key already imported.
 *  - full `verifySnpReport` with the VCEK → ASK → ARK chain verified per call
 *    (decode, two RSA-4096 PSS verifications, extensions, report checks);
 *  - `verifySnpReport` with a cached `VerifiedSnpEndorsement` (validity
 *    windows re-checked, report decoded and its signature and TCB checked);
 *  - `createSnpVerifier().verify` with the VCEK bytes and AMD's ASK+ARK
 *    (warm cache: the endorsement is looked up by SHA-256 of the bytes and
 *    its windows re-checked; the report is checked in full).
 */
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { concatBytes } from "@veritee/core";
import {
  createSnpVerifier,
  decodeCertificate,
  decodePemChain,
  decodeSnpReport,
  verifySnpEndorsement,
  verifySnpReport,
} from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import { compare, fmt } from "./harness.js";

const AT = new Date("2023-01-01T00:00:00Z");

export async function benchSnp(): Promise<void> {
  const read = (name: string) => new Uint8Array(readFileSync(sharedPath("vectors", "sev-snp", name)));
  const report = read("attestation.bin");
  const vcek = read("vcek.der");
  await verifySnpReport({ report, vcek, at: AT }); // it verifies before we time it
  const endorsement = await verifySnpEndorsement({ vcek, at: AT });
  const decoded = decodeSnpReport(report);
  const key = createPublicKey({ key: Buffer.from(decodeCertificate(vcek).spki), format: "der", type: "spki" });
  const signature = concatBytes(decoded.signatureR, decoded.signatureS);
  const signed = report.subarray(0, 0x2a0);
  const bare = () => nodeVerify("sha384", signed, { key, dsaEncoding: "ieee-p1363" }, signature);
  if (!bare()) throw new Error("bare verification failed");

  const [ask, ark] = decodePemChain(readFileSync(sharedPath("vectors", "sev-snp", "ask_ark_milan.pem"), "utf8"));
  const chain = { ask: ask!, ark: ark! };
  const verifier = createSnpVerifier();
  await verifier.verify({ report, vcek, chain, at: AT });

  const full = await compare(() => verifySnpReport({ report, vcek, chain, at: AT }), bare);
  const cached = await compare(() => verifySnpReport({ report, vcek: endorsement, at: AT }), bare);
  const warm = await compare(() => verifier.verify({ report, vcek, chain, at: AT }), bare);
  console.log("\n## SEV-SNP report verification (real Milan report) vs one bare ECDSA P-384 verify");
  console.log("| verification | verifications/s | bare verify/s | ratio |");
  console.log("| --- | ---: | ---: | ---: |");
  console.log(
    `| full verifySnpReport (VCEK → ASK → ARK chain per call) | ${fmt(full.subject.opsPerSecond)} | ${fmt(full.baseline.opsPerSecond)} | ${fmt(full.ratio)}× |`,
  );
  console.log(
    `| verifySnpReport with a cached VerifiedSnpEndorsement | ${fmt(cached.subject.opsPerSecond)} | ${fmt(cached.baseline.opsPerSecond)} | ${fmt(cached.ratio)}× |`,
  );
  console.log(
    `| createSnpVerifier().verify, VCEK + ASK + ARK bytes, warm cache | ${fmt(warm.subject.opsPerSecond)} | ${fmt(warm.baseline.opsPerSecond)} | ${fmt(warm.ratio)}× |`,
  );
}
