import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { policyFromReferenceValues } from "@veritee/policy";
import {
  assertNoLoaderEnvironment,
  currentLaunchEnvironment,
  gpuEvidenceFromCommand,
  LaunchError,
  type ServeOptions,
  startVeriteeServer,
} from "@veritee/server";
import { progressBar } from "@veritee/server/progress";
import { parseTransportSpec } from "@veritee/tpm";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";
import { out, parsePort, positive } from "../io.js";

/** The repository (release) root: packages/cli/dist/src/commands → five levels up. */
export const CODE_ROOT = path.resolve(fileURLToPath(new URL("../../../../../", import.meta.url)));

/** The embedded default model, when the shared test material is beside the repository. */
export const DEFAULT_MODEL = path.resolve(CODE_ROOT, "..", "shared", "models", "stories260K.gguf");

interface Options {
  dev?: boolean;
  host: string;
  port: number;
  engine: string;
  model?: string;
  modelSha256?: string;
  allowUnpinnedModel?: boolean;
  upstreamUrl?: string;
  upstreamModel?: string;
  tpm?: string;
  parallel?: string;
  contextSize?: string;
  writePolicy?: string;
  tlsPort?: number;
  platformEvidence: string;
  azureCerts?: string;
  gpuEvidenceCommand?: string;
  allowLoaderEnv?: boolean;
}

/** `veritee serve`: the attested OpenAI-compatible inference server. */
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "start the attested OpenAI-compatible inference server: measure the code, configuration, engine and model into the TPM, generate in-memory keys, serve /v1/* and /v1/attestation",
    )
    .option("--dev", "use a fresh development TPM (swtpm with a local CA) — INSECURE, for development")
    .option("--host <host>", "interface to bind (exposing beyond loopback is an explicit choice)", "127.0.0.1")
    .option("--port <n>", "port (0: any free port)", parsePort, 8080)
    .option("--engine <kind>", "embedded (llama.cpp in process) or upstream (an OpenAI-compatible server)", "embedded")
    .option(
      "--model <path|uri>",
      "GGUF path, hf:OWNER/REPO/FILE.gguf or https URL (default: ../shared/models/stories260K.gguf)",
    )
    .option("--model-sha256 <hex>", "pin the model's SHA-256 (required for remote models)")
    .option("--allow-unpinned-model", "download a remote model without a pinned SHA-256 (prints the digest)")
    .option(
      "--upstream-url <url>",
      "API root of the upstream engine, e.g. http://127.0.0.1:8000/v1 (key: $VERITEE_UPSTREAM_API_KEY)",
    )
    .option("--upstream-model <id>", "the upstream model to serve (default: its first model)")
    .option("--tpm <address>", "device:/dev/tpmrm0 (default without --dev), swtpm:host=H,port=P or unix:PATH")
    .option("--parallel <n>", "embedded engine: requests generated at the same time (default 4)")
    .option("--context-size <n>", "embedded engine: context window per sequence in tokens")
    .option("--write-policy <file>", "write the reference values as a client policy file")
    .option(
      "--platform-evidence <mode>",
      "auto: attach SEV-SNP or TDX reports through configfs-tsm when this is a confidential VM, else an Azure vTPM HCL report when the TPM has one; azure-vtpm: require the HCL report; none: TPM evidence only",
      "auto",
    )
    .option(
      "--gpu-evidence-command <path>",
      'attach NVIDIA GPU reports: run PATH NONCE_HEX for each attestation; it prints {"gpus":[{"report":HEX,"certificateChain":PEM}]} (docs/TEE.md)',
    )
    .option(
      "--azure-certs <dir>",
      "Azure confidential VM: directory with vcek.der (and ask.der, ark.der) for the HCL report's SEV-SNP report (e.g. saved from IMDS THIM)",
    )
    .option(
      "--tls-port <n>",
      "also serve attested TLS on this port: a self-signed certificate for the attested TLS key, which clients pin (0: any free port)",
      parsePort,
    )
    .option(
      "--allow-loader-env",
      "start even with Node.js flags or loader variables (NODE_OPTIONS, LD_PRELOAD, …); they are recorded in the configuration, which a policy from veritee measure then refuses",
    )
    .action(async (opts: Options) => {
      if (!opts.allowLoaderEnv) {
        // Before anything is loaded: the flags and variables act on the process from its first instruction.
        try {
          assertNoLoaderEnvironment(currentLaunchEnvironment());
        } catch (error) {
          if (error instanceof LaunchError) throw new CliError("loader-environment", error.message, { cause: error });
          throw error;
        }
      }
      const serveOptions = buildServeOptions(opts);
      process.stderr.write(`starting${opts.dev ? " (development TPM — INSECURE)" : ""}…\n`);
      const server = await startVeriteeServer(serveOptions);
      const rv = server.referenceValues;
      out(`veritee server listening on ${server.url}`);
      if (server.tlsUrl) out(`attested TLS listening on ${server.tlsUrl} (clients pin the attested key)`);
      out(
        `  engine          ${server.engine.kind}, models ${server.engine
          .models()
          .map((m) => m.id)
          .join(", ")}`,
      );
      out(`  attestation     GET ${server.url}/v1/attestation?nonce=HEX`);
      const sources = server.platformSources;
      out(
        `  platform        ${sources.tsm ? "TPM + confidential-VM report (configfs-tsm)" : sources.azureVtpm ? "Azure vTPM + HCL report (SEV-SNP)" : "TPM only (not a confidential VM, or --platform-evidence none)"}${sources.gpus ? " + GPU reports" : ""}`,
      );
      out("expected measurements (reference values for a client policy):");
      out(`  application PCR ${rv.appPcr} = ${rv.appPcrValue} (unique to this launch: it includes the key set)`);
      out(`  code bundle     ${rv.launch.codeBundle}`);
      out(`  configuration   ${rv.launch.configuration}`);
      out(`  runtime         ${rv.launch.runtime}`);
      for (const [name, digest] of Object.entries(rv.launch.engineBinaries))
        out(`  engine binary   ${digest}  ${name}`);
      for (const [id, digest] of Object.entries(rv.launch.models)) out(`  model           ${digest}  ${id}`);
      out(
        `  boot PCRs 0-7   ${Object.values(rv.bootPcrs).every((v) => /^0+$/.test(v)) ? "all zero (no measured boot)" : "see policy"}`,
      );
      if (opts.writePolicy) {
        await writeFile(opts.writePolicy, `${JSON.stringify(policyFromReferenceValues(rv), null, 2)}\n`);
        out(`policy written to ${opts.writePolicy}${rv.development ? " (a DEVELOPMENT policy)" : ""}`);
      }
      await waitForSignal();
      process.stderr.write("shutting down…\n");
      await server.close();
    });
}

function buildServeOptions(opts: Options): ServeOptions {
  if (opts.dev && opts.tpm) throw new CliError("bad-argument", "--dev and --tpm exclude each other");
  const tpm: ServeOptions["tpm"] = opts.dev
    ? { kind: "dev" }
    : { kind: "address", spec: parseTransportSpec(opts.tpm ?? "device:/dev/tpmrm0") };
  if (!opts.dev && !opts.tpm && !existsSync("/dev/tpmrm0")) {
    throw new CliError("missing-tool", "no TPM at /dev/tpmrm0: pass --tpm ADDRESS, or --dev for a development TPM");
  }
  let engine: ServeOptions["engine"];
  if (opts.engine === "embedded") {
    if (opts.upstreamUrl) throw new CliError("bad-argument", "--upstream-url goes with --engine upstream");
    const model = opts.model ?? (existsSync(DEFAULT_MODEL) ? DEFAULT_MODEL : undefined);
    if (model === undefined)
      throw new CliError("bad-argument", "--model is required (no default model beside the repository)");
    const parallel = positive(opts.parallel, "--parallel");
    const contextSize = positive(opts.contextSize, "--context-size");
    engine = {
      kind: "embedded",
      model,
      ...(opts.modelSha256 ? { modelSha256: opts.modelSha256 } : {}),
      ...(opts.allowUnpinnedModel ? { allowUnpinnedModel: true } : {}),
      ...(parallel ? { parallelSequences: parallel } : {}),
      ...(contextSize ? { contextSize } : {}),
    };
  } else if (opts.engine === "upstream") {
    if (!opts.upstreamUrl) throw new CliError("bad-argument", "--engine upstream needs --upstream-url");
    const apiKey = process.env.VERITEE_UPSTREAM_API_KEY;
    engine = {
      kind: "upstream",
      url: opts.upstreamUrl,
      ...(apiKey ? { apiKey } : {}),
      ...(opts.upstreamModel ? { model: opts.upstreamModel } : {}),
      ...(opts.modelSha256 ? { modelSha256: opts.modelSha256 } : {}),
    };
  } else {
    throw new CliError("bad-argument", "--engine must be embedded or upstream");
  }
  const platformEvidence = opts.platformEvidence;
  if (platformEvidence !== "auto" && platformEvidence !== "none" && platformEvidence !== "azure-vtpm") {
    throw new CliError("bad-argument", "--platform-evidence must be auto, azure-vtpm or none");
  }
  return {
    host: opts.host,
    port: opts.port,
    engine,
    tpm,
    platformEvidence,
    ...(opts.azureCerts ? { azureCertificates: { dir: opts.azureCerts } } : {}),
    ...(opts.gpuEvidenceCommand ? { gpuEvidence: gpuEvidenceFromCommand({ command: opts.gpuEvidenceCommand }) } : {}),
    codeRoot: CODE_ROOT,
    ...(opts.allowLoaderEnv ? { allowLoaderEnvironment: true } : {}),
    ...(opts.tlsPort !== undefined ? { tls: { port: opts.tlsPort } } : {}),
    onProgress: (what) => progressBar(what),
  };
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}
