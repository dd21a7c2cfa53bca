/**
 * Start to first token with a sealed model (issue 11): `veritee serve
 * --sealed-model` (challenge, attestation, credential activation and policy
 * at a real custodian process, HPKE release, unsealing into RAM, the first
 * lease) against the same server on the plaintext model, both on the
 * development TPM, each launch after a fresh TPM boot (one launch per boot).
 * Measured from the spawn of `veritee serve` to the first streamed byte of a
 * one-token completion. Rounds alternate. Goal: sealed ≤ 1.10 × plain for
 * stories260K.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { startVeritee } from "@veritee/e2e/support/process";
import { fmt } from "./harness.js";
import { MODEL, MODEL_ID, type SealedDeployment, setUpSealedDeployment } from "./sealed-setup.js";

const ROUNDS = 3;

async function firstByte(url: string, apiKey: string): Promise<void> {
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ model: MODEL_ID, prompt: "Once", max_tokens: 1, stream: true }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const reader = res.body.getReader();
  await reader.read();
  await reader.cancel();
}

export async function benchCustodyStartup(): Promise<void> {
  console.log("\n## sealed model: serve start → first token, vs the plaintext model (development TPM)");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-bench-custody-"));
  let d: SealedDeployment | undefined;
  try {
    d = await setUpSealedDeployment(tmp);
    const variants = {
      plain: ["--model", MODEL, "--context-size", "2048", "--api-key-file", d.keyList],
      sealed: [...d.sealedFlags],
    };
    const times: Record<keyof typeof variants, number[]> = { plain: [], sealed: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of ["plain", "sealed"] as const) {
        await d.rebootTpm();
        const start = performance.now();
        const server = await startVeritee(["serve", ...d.tpm, "--port", String(d.port), ...variants[name]], {
          ready: /listening on (http:\/\/\S+)/,
          timeoutMs: 120_000,
        });
        try {
          await firstByte(server.ready[1]!, d.apiKey);
          times[name].push(performance.now() - start);
        } finally {
          await server.stop();
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const plain = median(times.plain);
    const sealedMs = median(times.sealed);
    console.log(`plain  start → first token: median ${fmt(plain)} ms (${times.plain.map((t) => fmt(t)).join(", ")})`);
    console.log(
      `sealed start → first token: median ${fmt(sealedMs)} ms (${times.sealed.map((t) => fmt(t)).join(", ")})`,
    );
    console.log(
      `sealed / plain: ${(sealedMs / plain).toFixed(2)} (+${fmt(sealedMs - plain)} ms; goal ≤ 1.10 for stories260K)`,
    );
  } finally {
    await d?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
