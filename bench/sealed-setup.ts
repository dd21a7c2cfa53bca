/**
 * What the custody and governance benchmarks share: a development TPM, a
 * custodian (SQLite unless `databaseUrl`), the sealed model registered, a
 * deployment whose policy `veritee measure` wrote for `port`, and a consumer
 * with a large quota — whose key the plaintext baseline server also takes
 * (`--api-key-file`), so both answer the same authenticated request.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort, runVeritee, startVeritee, type VeriteeProcess } from "@veritee/e2e/support/process";
import { sharedPath } from "@veritee/testkit";

export const MODEL = sharedPath("models", "stories260K.gguf");
export const MODEL_ID = "stories260K";
export const ADMIN_TOKEN = `bench-admin-${process.pid}-0123456789abcdef`;
export const ADMIN = Object.freeze({ VERITEE_ADMIN_TOKEN: ADMIN_TOKEN });

export async function must(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await runVeritee(args, env);
  if (r.code !== 0) throw new Error(`veritee ${args.slice(0, 3).join(" ")} exited ${r.code}: ${r.stderr.slice(-500)}`);
  return r.stdout;
}

/** A sealed deployment ready to serve. */
export interface SealedDeployment {
  readonly custodian: VeriteeProcess;
  readonly url: string;
  readonly sealed: string;
  readonly port: number;
  readonly apiKey: string;
  /** A file holding `apiKey`, for the plaintext server's `--api-key-file`. */
  readonly keyList: string;
  readonly tpm: readonly string[];
  /** A fresh TPM boot (one launch per boot). */
  rebootTpm(): Promise<void>;
  /** `veritee serve` flags of the sealed model. */
  readonly sealedFlags: readonly string[];
  close(): Promise<void>;
}

export async function setUpSealedDeployment(tmp: string, deployment = "bench"): Promise<SealedDeployment> {
  const state = ["--state-dir", path.join(tmp, "swtpm"), "--json"];
  const simPort = await freePort(true);
  const tpm = ["--tpm", `swtpm:host=127.0.0.1,port=${simPort}`];
  await must(["tpm", "sim", "start", "--port", String(simPort), ...state]);
  const data = path.join(tmp, "custodian");
  mkdirSync(data);
  const custodian = await startVeritee(["custodian", "serve", "--data", data, "--port", "0"], {
    ready: /(http:\/\/127\.0\.0\.1:\d+)/,
    env: { ...ADMIN },
  });
  const url = custodian.ready[1]!;
  const sealed = path.join(tmp, "model.sealed");
  const keyFile = path.join(tmp, "model.key");
  await must(["model", "seal", "--in", MODEL, "--out", sealed, "--key-out", keyFile]);
  await must(["custodian", "model", "add", "--custodian", url, "--key-file", keyFile], ADMIN);
  const port = await freePort();
  const policy = path.join(tmp, "policy.json");
  await must([
    ...["measure", "--sealed-model", sealed, "--custodian", url, "--deployment", deployment],
    ...["--port", String(port), ...tpm, "--development", "--write-policy", policy],
    ...["--ek-root", path.join(tmp, "swtpm", "ca", "swtpm-localca-rootca-cert.pem")],
    ...["--ek-intermediate", path.join(tmp, "swtpm", "ca", "issuercert.pem")],
  ]);
  const custodianArgs = ["--custodian", url, "--deployment", deployment];
  await must(
    [
      "custodian",
      "deployment",
      "add",
      "--custodian",
      url,
      "--id",
      deployment,
      "--model-id",
      MODEL_ID,
      "--policy",
      policy,
    ],
    ADMIN,
  );
  const added = await must(["custodian", "consumer", "add", ...custodianArgs, "--id", "bench"], ADMIN);
  const apiKey = added.trim().split("\n").at(-1)!;
  await must(["custodian", "supply", ...custodianArgs, "--consumer", "bench", "--inferences", "1000000000"], ADMIN);
  const keyList = path.join(tmp, "api-keys");
  writeFileSync(keyList, `${apiKey}\n`, { mode: 0o600 });
  return {
    custodian,
    url,
    sealed,
    port,
    apiKey,
    keyList,
    tpm,
    sealedFlags: ["--sealed-model", sealed, ...custodianArgs],
    async rebootTpm() {
      await must(["tpm", "sim", "stop", ...state]);
      await must(["tpm", "sim", "start", "--port", String(simPort), ...state]);
    },
    async close() {
      await custodian.stop();
      await runVeritee(["tpm", "sim", "stop", ...state]);
    },
  };
}
