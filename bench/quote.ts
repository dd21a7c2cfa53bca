/**
 * Quote verification and quote latency, on real quotes from a development
 * TPM (swtpm) started for the run:
 *  - full `verifyQuote` (decode attest + signature, AK attributes, signature,
 *    nonce, PCR digest over 24 SHA-256 PCRs) against the physical floor, one
 *    bare node:crypto signature verification of the same message with the key
 *    already imported. Goal ≤ 1.3×.
 *  - quote latency through our client (TPM2_Quote round trip on loopback).
 */
import { createPublicKey, type KeyObject, verify as nodeVerify } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { concatBytes, randomBytes } from "@veritee/core";
import { decodeAkPublic, decodeTpmtSignature, verifyQuote } from "@veritee/evidence";
import { type AkKind, provisionSwtpm, startSwtpm, TpmClient } from "@veritee/tpm";
import { compare, fmt, latency } from "./harness.js";

const ALL_PCRS = { sha256: Array.from({ length: 24 }, (_, i) => i) };

function bareVerifier(akKey: KeyObject, signature: Uint8Array): (attest: Uint8Array) => boolean {
  const sig = decodeTpmtSignature(signature);
  if (sig.sigAlg === "ecdsa") {
    const pad = (v: Uint8Array) => concatBytes(new Uint8Array(32 - v.length), v); // P-256: 32-byte r and s
    const raw = concatBytes(pad(sig.r), pad(sig.s));
    return (attest) => nodeVerify("sha256", attest, { key: akKey, dsaEncoding: "ieee-p1363" }, raw);
  }
  return (attest) => nodeVerify("sha256", attest, akKey, sig.sig);
}

export async function benchQuote(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "veritee-bench-"));
  const state = await provisionSwtpm({ stateDir: path.join(dir, "state") });
  const sim = await startSwtpm({ stateDir: state.stateDir });
  const tpm = await TpmClient.connect({ kind: "tcp", port: sim.port });
  try {
    await tpm.startup("clear");
    const ek = await tpm.createEk("rsa2048");
    console.log("\n## Quote verification: full verifyQuote vs one bare node:crypto verify (24 SHA-256 PCRs)");
    console.log(
      "| AK | verifyQuote/s (decoded AK) | bare verify/s | ratio (goal ≤ 1.3×) | ratio with AK decode + key import per call |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: |");
    const latencies: string[] = [];
    for (const kind of ["ecc-p256", "rsa-2048"] as AkKind[]) {
      const created = await tpm.createAk(ek.handle, kind);
      const ak = await tpm.load(ek.handle, created);
      const nonce = randomBytes(32);
      const { attest, signature } = await tpm.quote(ak.handle, nonce, ALL_PCRS);
      const pcrValues = await tpm.pcrRead(ALL_PCRS);
      const akPublic = decodeAkPublic(created.publicArea);
      const input = { akPublic, attest, signature, expectedExtraData: nonce, pcrValues, requirePcrValues: true };
      await verifyQuote(input); // it verifies before we time it
      // The floor: node:crypto's own KeyObject of the same key, imported outside the timing.
      const bare = bareVerifier(
        createPublicKey({ key: Buffer.from(akPublic.spki()), format: "der", type: "spki" }),
        signature,
      );
      if (!bare(attest)) throw new Error("bare verification failed");
      const cached = await compare(
        () => verifyQuote(input),
        () => bare(attest),
      );
      const uncached = await compare(
        () => verifyQuote({ ...input, akPublic: created.publicArea }),
        () => bare(attest),
        { rounds: 5, roundMs: 200 },
      );
      console.log(
        `| ${kind} | ${fmt(cached.subject.opsPerSecond)} | ${fmt(cached.baseline.opsPerSecond)} | ${fmt(cached.ratio)}× | ${fmt(uncached.ratio)}× |`,
      );
      const l = await latency(() => tpm.quote(ak.handle, nonce, ALL_PCRS), 200);
      latencies.push(`| ${kind} | ${fmt(l.p50)} | ${fmt(l.p99)} | ${fmt(l.mean)} |`);
      await tpm.flushContext(ak.handle);
    }
    console.log("\n## Quote latency against swtpm through our client (TPM2_Quote, 24 PCRs, loopback TCP), ms");
    console.log("| AK | p50 | p99 | mean |");
    console.log("| --- | ---: | ---: | ---: |");
    for (const line of latencies) console.log(line);
    await tpm.flushContext(ek.handle);
  } finally {
    await tpm.close();
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
