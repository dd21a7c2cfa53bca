import { existsSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { decodePemCertificate, policyFromReferenceValues } from "@veritee/policy";
import {
  assertNoLoaderEnvironment,
  currentLaunchEnvironment,
  gpuEvidenceFromCommand,
  LaunchError,
  parseCorsOrigin,
  type ServeOptions,
  startVeriteeServer,
} from "@veritee/server";
import { progressBar } from "@veritee/server/progress";
import { parseTransportSpec } from "@veritee/tpm";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";
import { out, parsePort, positive, readInputFile, sha256Option } from "../io.js";
import { type AccessFlags, accessServeOptions, collectApiKey } from "./serve-access.js";
import { type SealedFlags, sealedChoice, sealedOptions } from "./serve-sealed.js";

/** The repository (release) root: packages/cli/dist/src/commands → five levels up. */
export const CODE_ROOT = path.resolve(fileURLToPath(new URL("../../../../../", import.meta.url)));

/** The embedded default model, when the shared test material is beside the repository. */
export const DEFAULT_MODEL = path.resolve(CODE_ROOT, "..", "shared", "models", "stories260K.gguf");

interface Options extends AccessFlags, SealedFlags {
  dev?: boolean;
  host: string;
  port: number;
  engine: string;
  model?: string[];
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
  ekRoot: string[];
  ekIntermediate: string[];
  devStateDir?: string;
  metricsListen?: string;
  corsOrigin: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `veritee serve`: the attested OpenAI-compatible inference server. */
export function registerServe(program: Command): void {
  const serve = program
    .command("serve")
    .description(
      "start the attested OpenAI-compatible inference server: measure the code, configuration, engine and model into the TPM, generate in-memory keys, serve /v1/* and /v1/attestation",
    )
    .option("--dev", "use a fresh development TPM (swtpm with a local CA) — INSECURE, for development")
    .option("--host <host>", "interface to bind (exposing beyond loopback is an explicit choice)", "127.0.0.1")
    .option("--port <n>", "port (0: any free port)", parsePort, 8080)
    .option(
      "--engine <kind>",
      "embedded (llama.cpp in process), upstream (an OpenAI-compatible server) or onnx (ONNX models over /v2)",
      "embedded",
    )
    .option(
      "--model <path|uri>",
      "GGUF path, hf:OWNER/REPO/FILE.gguf or https URL (default: ../shared/models/stories260K.gguf when present); with --engine onnx a FILE.onnx, repeatable (the model's name is the file's base name)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--model-sha256 <hex>", "pin the model's SHA-256 (required for remote models)", sha256Option)
    .option("--allow-unpinned-model", "download a remote model without a pinned SHA-256 (prints the digest)")
    .option(
      "--upstream-url <url>",
      "API root of the upstream engine, e.g. http://127.0.0.1:8000/v1 (key: $VERITEE_UPSTREAM_API_KEY)",
    )
    .option("--upstream-model <id>", "the upstream model to serve (default: its first model)")
    .option(
      "--dev-state-dir <dir>",
      "with --dev: keep the development TPM in DIR (provisioned once) instead of a fresh temporary one; its EK root CA is DIR/ca/swtpm-localca-rootca-cert.pem (for veritee measure --ek-root)",
    )
    .option("--tpm <address>", "the TPM: device:PATH, swtpm:host=H,port=P or unix:PATH (default: device:/dev/tpmrm0)")
    .option("--parallel <n>", "embedded engine: requests generated at the same time (default: 4)")
    .option(
      "--context-size <n>",
      "context window per sequence in tokens (default: embedded, the model's training context, at most 2048, and 2048 for a sealed model; upstream, what the upstream reports, else unknown and left to the upstream)",
    )
    .option(
      "--write-policy <file>",
      "write the reference values as a client policy file (a real TPM also needs --ek-root)",
    )
    .option(
      "--ek-root <pem>",
      "real TPM: its vendor's EK root CA certificate (PEM file; repeatable), trusted by the --write-policy policy",
      collect,
      [],
    )
    .option(
      "--ek-intermediate <pem>",
      "real TPM: an EK intermediate CA certificate (PEM file; repeatable), sent in every attestation document",
      collect,
      [],
    )
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
      "--metrics-listen <host:port>",
      "serve Prometheus /metrics on this separate admin address, e.g. 127.0.0.1:9090 (port 0: any free one); without it no port serves metrics",
    )
    .option(
      "--cors-origin <origin>",
      "let web pages on this origin call the server from a browser, e.g. https://app.example (repeatable; no wildcard)",
      collect,
      [],
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
    .option(
      "--api-key <key>",
      "require 'Authorization: Bearer <key>' on /v1/* but attestation (repeatable; prefer --api-key-file or $VERITEE_API_KEY, which ps cannot show)",
      collectApiKey,
    )
    .option("--api-key-file <file>", "read API keys from FILE, one a line ('#' comments and blank lines ignored)")
    .option("--require-sealed", "refuse plaintext requests to /v1/* but attestation: serve sealed requests only");
  sealedOptions(serve, true).action(async (opts: Options) => {
    if (!opts.allowLoaderEnv) {
      // Before anything is loaded: the flags and variables act on the process from its first instruction.
      try {
        assertNoLoaderEnvironment(currentLaunchEnvironment());
      } catch (error) {
        if (error instanceof LaunchError) throw new CliError("loader-environment", error.message, { cause: error });
        throw error;
      }
    }
    // Every option is checked, and every input file read, before anything is loaded or bound.
    const serveOptions = await buildServeOptions(opts);
    process.stderr.write(`starting${opts.dev ? " (development TPM — INSECURE)" : ""}…\n`);
    const server = await startVeriteeServer(serveOptions);
    const rv = server.referenceValues;
    out(`veritee server listening on ${server.url}`);
    if (server.tlsUrl) out(`attested TLS listening on ${server.tlsUrl} (clients pin the attested key)`);
    if (server.metricsUrl) out(`metrics listening on ${server.metricsUrl}/metrics (admin)`);
    // The models measured: an ONNX server's are served over /v2, not listed by the OpenAI routes.
    out(`  engine          ${server.engine.kind}, models ${server.measurements.models.map((m) => m.id).join(", ")}`);
    if (server.engine.kind === "onnx")
      out(`  inference       POST ${server.url}/v2/models/NAME/infer (Open Inference Protocol)`);
    out(`  attestation     GET ${server.url}/v1/attestation?nonce=HEX`);
    if (server.custody) {
      out(`  sealed model    released for deployment ${server.custody.deployment}; the plaintext lives in RAM only`);
    }
    const sources = server.platformSources;
    out(
      `  platform        ${sources.tsm ? "TPM + confidential-VM report (configfs-tsm)" : sources.azureVtpm ? "Azure vTPM + HCL report (SEV-SNP)" : "TPM only (not a confidential VM, or --platform-evidence none)"}${sources.gpus ? " + GPU reports" : ""}`,
    );
    out("expected measurements (reference values for a client policy):");
    out(`  application PCR ${rv.appPcr} = ${rv.appPcrValue} (unique to this launch: it includes the key set)`);
    out(`  code bundle     ${rv.launch.codeBundle}`);
    out(`  configuration   ${rv.launch.configuration}`);
    out(`  runtime         ${rv.launch.runtime}`);
    for (const [name, digest] of Object.entries(rv.launch.engineBinaries)) out(`  engine binary   ${digest}  ${name}`);
    for (const [id, digest] of Object.entries(rv.launch.models)) out(`  model           ${digest}  ${id}`);
    out(
      `  boot PCRs 0-7   ${Object.values(rv.bootPcrs).every((v) => /^0+$/.test(v)) ? "all zero (no measured boot)" : "see policy"}`,
    );
    if (opts.writePolicy) {
      try {
        await writeFile(opts.writePolicy, `${JSON.stringify(policyFromReferenceValues(rv), null, 2)}\n`);
      } catch (error) {
        // Fail closed: a server whose policy could not be written does not keep serving.
        await server.close();
        throw error;
      }
      out(`policy written to ${opts.writePolicy}${rv.development ? " (a DEVELOPMENT policy)" : ""}`);
    }
    await waitForSignal();
    process.stderr.write("shutting down…\n");
    await server.close();
  });
}

async function buildServeOptions(opts: Options): Promise<ServeOptions> {
  if (opts.dev && opts.tpm) throw new CliError("bad-argument", "--dev and --tpm exclude each other");
  if (opts.dev && opts.ekRoot.length + opts.ekIntermediate.length > 0) {
    throw new CliError("bad-argument", "--ek-root and --ek-intermediate are for a real TPM: --dev uses its local CA");
  }
  if (opts.writePolicy && !opts.dev && opts.ekRoot.length === 0) {
    throw new CliError(
      "bad-argument",
      "--write-policy with a real TPM needs its EK root CA: --ek-root PEM_FILE (repeatable; the TPM vendor's root)",
    );
  }
  if (opts.devStateDir !== undefined && !opts.dev)
    throw new CliError("bad-argument", "--dev-state-dir goes with --dev");
  if (opts.writePolicy) checkWritableTarget(opts.writePolicy, "--write-policy");
  if (opts.tlsPort !== undefined && opts.tlsPort !== 0 && opts.tlsPort === opts.port) {
    throw new CliError("bad-argument", "--tls-port must differ from --port");
  }
  const metrics =
    opts.metricsListen === undefined ? undefined : parseListenAddress(opts.metricsListen, "--metrics-listen");
  const corsOrigins = opts.corsOrigin.map((origin) => {
    try {
      return parseCorsOrigin(origin);
    } catch (error) {
      throw new CliError("bad-argument", `--cors-origin: ${(error as Error).message}`, { cause: error });
    }
  });
  const ekTrust = {
    rootsPem: await readCertificates(opts.ekRoot, "--ek-root"),
    intermediatesPem: await readCertificates(opts.ekIntermediate, "--ek-intermediate"),
  };
  if (opts.writePolicy && !opts.dev) checkPolicyTrust(ekTrust.rootsPem);
  const tpm: ServeOptions["tpm"] = opts.dev
    ? { kind: "dev", ...(opts.devStateDir ? { stateDir: path.resolve(opts.devStateDir) } : {}) }
    : { kind: "address", spec: parseTransportSpec(opts.tpm ?? "device:/dev/tpmrm0") };
  if (!opts.dev && !opts.tpm && !existsSync("/dev/tpmrm0")) {
    throw new CliError("missing-tool", "no TPM at /dev/tpmrm0: pass --tpm ADDRESS, or --dev for a development TPM");
  }
  let engine: ServeOptions["engine"];
  const contextSize = positive(opts.contextSize, "--context-size");
  const sealed = sealedChoice(opts, {
    "--model": opts.model,
    "--model-sha256": opts.modelSha256,
    "--allow-unpinned-model": opts.allowUnpinnedModel,
    "--engine upstream": opts.engine === "upstream" ? true : undefined,
    // Custodial ONNX models are not served yet (issue 13): a sealed model is a GGUF for the embedded engine.
    "--engine onnx": opts.engine === "onnx" ? true : undefined,
  });
  if (sealed) {
    const parallel = positive(opts.parallel, "--parallel");
    engine = {
      kind: "embedded",
      model: sealed.path,
      sealed: {
        custodians: sealed.custodians,
        deployment: sealed.deployment,
        ...(sealed.memoryDir ? { memoryDir: sealed.memoryDir } : {}),
      },
      ...(parallel ? { parallelSequences: parallel } : {}),
      ...(contextSize ? { contextSize } : {}),
    };
  } else if (opts.engine === "onnx") {
    if (!opts.model?.length) throw new CliError("bad-argument", "--engine onnx needs --model FILE.onnx (repeatable)");
    for (const file of opts.model) {
      if (!file.endsWith(".onnx"))
        throw new CliError("bad-argument", `--model ${file}: an ONNX model file ends in .onnx`);
      if (!statSync(file, { throwIfNoEntry: false })?.isFile()) {
        throw new CliError("file-not-found", `--model: no such file: ${file}`);
      }
    }
    const names = opts.model.map((f) => path.basename(f, ".onnx"));
    if (new Set(names).size !== names.length) throw new CliError("bad-argument", "--model: two models with one name");
    if (opts.modelSha256 || opts.upstreamUrl || opts.contextSize || opts.parallel) {
      throw new CliError(
        "bad-argument",
        "--model-sha256, --upstream-url, --context-size and --parallel do not go with --engine onnx",
      );
    }
    engine = { kind: "onnx", models: opts.model };
  } else if (opts.engine === "embedded") {
    if (opts.upstreamUrl) throw new CliError("bad-argument", "--upstream-url goes with --engine upstream");
    if ((opts.model?.length ?? 0) > 1) throw new CliError("bad-argument", "the embedded engine serves one --model");
    const model = opts.model?.[0] ?? (existsSync(DEFAULT_MODEL) ? DEFAULT_MODEL : undefined);
    if (model === undefined)
      throw new CliError("bad-argument", "--model is required (no default model beside the repository)");
    if (!/^(hf:|https?:)/.test(model) && !statSync(model, { throwIfNoEntry: false })?.isFile()) {
      throw new CliError("file-not-found", `--model: no such file: ${model}`);
    }
    const parallel = positive(opts.parallel, "--parallel");
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
      ...(contextSize ? { contextSize } : {}),
    };
  } else {
    throw new CliError("bad-argument", "--engine must be embedded, upstream or onnx");
  }
  const platformEvidence = opts.platformEvidence;
  if (platformEvidence !== "auto" && platformEvidence !== "none" && platformEvidence !== "azure-vtpm") {
    throw new CliError("bad-argument", "--platform-evidence must be auto, azure-vtpm or none");
  }
  const access = accessServeOptions(opts);
  if (engine.kind === "embedded" && engine.sealed && access.apiKeys) {
    throw new CliError(
      "bad-argument",
      "a sealed model's API keys are its consumers', issued by the custodian (veritee custodian consumer add): drop --api-key and --api-key-file, and unset VERITEE_API_KEY for the server",
    );
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
    ...(opts.dev ? {} : { ekTrust }),
    ...(metrics ? { metrics } : {}),
    ...(corsOrigins.length > 0 ? { corsOrigins } : {}),
    onProgress: (what) => progressBar(what),
    ...access,
  };
}

/** `HOST:PORT` (`[v6]:PORT` for IPv6) of a listener. */
function parseListenAddress(value: string, option: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new CliError("bad-argument", `${option} takes HOST:PORT, e.g. 127.0.0.1:9090`);
  return { host: match[1] ?? match[2]!, port };
}

/**
 * The policy `--write-policy` will write takes its trust section from
 * `--ek-root`; everything else is measured later and always valid. So a
 * policy with these roots and placeholder measurements is validated now,
 * before loading: e.g. a swtpm CA in a production policy is refused here.
 * @throws PolicyError `invalid-policy` (kind usage, exit 2) naming the field.
 */
function checkPolicyTrust(rootsPem: readonly string[]): void {
  const zero = "0".repeat(64);
  policyFromReferenceValues({
    development: false,
    appPcr: 15,
    bootPcrs: "any",
    launch: { codeBundle: zero, configuration: zero, runtime: zero, engineBinaries: {}, models: {} },
    ekRootsPem: rootsPem,
  });
}

/** PEM certificate files, each checked to hold exactly one X.509 certificate. */
async function readCertificates(files: readonly string[], option: string): Promise<string[]> {
  const pems: string[] = [];
  for (const file of files) {
    const pem = new TextDecoder().decode(await readInputFile(file, option));
    try {
      decodePemCertificate(pem);
    } catch (error) {
      throw new CliError("bad-argument", `${option} ${file}: not a PEM certificate`, { cause: error });
    }
    pems.push(pem);
  }
  return pems;
}

/** The directory of an output file must exist, so that writing it after a long start cannot fail on that. */
function checkWritableTarget(file: string, option: string): void {
  const dir = statSync(path.dirname(path.resolve(file)), { throwIfNoEntry: false });
  if (!dir?.isDirectory()) throw new CliError("file-not-found", `${option}: no such directory: ${path.dirname(file)}`);
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    throw new CliError("bad-argument", `${option}: ${file} is a directory`);
  }
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
