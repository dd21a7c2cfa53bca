/**
 * Start to first token with a sealed model (issue 11): `veritee serve
 * --sealed-model` (challenge, attestation, credential activation and policy
 * at a real custodian process, HPKE release, unsealing into RAM) against the
 * same server on the plaintext model, both on the development TPM, each
 * launch after a fresh TPM boot (one launch per boot). Measured from the
 * spawn of `veritee serve` to the first streamed byte of a one-token
 * completion. Rounds alternate. Goal: sealed ≤ 1.10 × plain for stories260K.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { freePort, runVeritee, startVeritee, type VeriteeProcess } from "@veritee/e2e/support/process";
import { sharedPath } from "@veritee/testkit";
import { fmt } from "./harness.js";

const MODEL = sharedPath("models", "stories260K.gguf");
const ROUNDS = 3;
const TOKEN = `bench-admin-${process.pid}-0123456789abcdef`;

async function must(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await runVeritee(args, env);
  if (r.code !== 0) throw new Error(`veritee ${args.slice(0, 3).join(" ")} exited ${r.code}: ${r.stderr.slice(-500)}`);
  return r.stdout;
}

async function firstByte(url: string): Promise<void> {
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "stories260K", prompt: "Once", max_tokens: 1, stream: true }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const reader = res.body.getReader();
  await reader.read();
  await reader.cancel();
}

export async function benchCustodyStartup(): Promise<void> {
  console.log("\n## sealed model: serve start → first token, vs the plaintext model (development TPM)");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-bench-custody-"));
  const state = ["--state-dir", path.join(tmp, "swtpm"), "--json"];
  const simPort = await freePort(true);
  const tpm = ["--tpm", `swtpm:host=127.0.0.1,port=${simPort}`];
  let custodian: VeriteeProcess | undefined;
  try {
    await must(["tpm", "sim", "start", "--port", String(simPort), ...state]);
    const data = path.join(tmp, "custodian");
    mkdirSync(data);
    custodian = await startVeritee(["custodian", "serve", "--data", data, "--port", "0"], {
      ready: /(http:\/\/127\.0\.0\.1:\d+)/,
      env: { VERITEE_ADMIN_TOKEN: TOKEN },
    });
    const url = custodian.ready[1]!;
    const sealed = path.join(tmp, "model.sealed");
    const keyFile = path.join(tmp, "model.key");
    await must(["model", "seal", "--in", MODEL, "--out", sealed, "--key-out", keyFile]);
    const admin = { VERITEE_ADMIN_TOKEN: TOKEN };
    await must(["custodian", "model", "add", "--custodian", url, "--key-file", keyFile], admin);
    const port = await freePort();
    const policy = path.join(tmp, "policy.json");
    await must([
      ...["measure", "--sealed-model", sealed, "--custodian", url, "--deployment", "bench"],
      ...["--port", String(port), ...tpm, "--development", "--write-policy", policy],
      ...["--ek-root", path.join(tmp, "swtpm", "ca", "swtpm-localca-rootca-cert.pem")],
      ...["--ek-intermediate", path.join(tmp, "swtpm", "ca", "issuercert.pem")],
    ]);
    await must(
      ["custodian", "deployment", "add", "--custodian", url, "--id", "bench", "--model-id", "stories260K"].concat([
        "--policy",
        policy,
      ]),
      admin,
    );

    const variants = {
      plain: ["--model", MODEL, "--context-size", "2048"],
      sealed: ["--sealed-model", sealed, "--custodian", url, "--deployment", "bench"],
    };
    const times: Record<keyof typeof variants, number[]> = { plain: [], sealed: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of ["plain", "sealed"] as const) {
        await must(["tpm", "sim", "stop", ...state]);
        await must(["tpm", "sim", "start", "--port", String(simPort), ...state]);
        const start = performance.now();
        const server = await startVeritee(["serve", ...tpm, "--port", String(port), ...variants[name]], {
          ready: /listening on (http:\/\/\S+)/,
          timeoutMs: 120_000,
        });
        try {
          await firstByte(server.ready[1]!);
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
    await custodian?.stop();
    await runVeritee(["tpm", "sim", "stop", ...state]);
    rmSync(tmp, { recursive: true, force: true });
  }
}
