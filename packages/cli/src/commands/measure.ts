/**
 * `veritee measure`: recompute a server's launch reference values from a
 * release bundle, a configuration and a model file — on any machine, without
 * a TPM — with the very functions the server measures itself with
 * (`measureCodeBundle`, `measureConfiguration`, `measureRuntime`,
 * `measureEngineBinaries`, `measureModel`). So a user can check what a
 * server should measure from the published source, and write the policy
 * that accepts it (`--write-policy`).
 *
 * The configuration comes from a JSON file (`--config`: the server
 * configuration as the launch log publishes it, docs/POLICY.md) or from the
 * same flags as `veritee serve`, with the defaults `veritee serve` uses.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { DEVELOPMENT_POLICY_WARNING, type DigestSpec, policyFromReferenceValues } from "@veritee/policy";
import {
  defaultThreads,
  type EmbeddedEngineConfig,
  type EngineBinaryMeasurement,
  embeddedContextSize,
  engineBinaryInputs,
  LaunchError,
  listEngineFiles,
  type ModelMeasurement,
  measureCodeBundle,
  measureConfiguration,
  measureEngineBinaries,
  measureModel,
  measureRuntime,
  openSealedModel,
  type ServerConfig,
  sealedEngineConfig,
  serverConfig,
  type TpmChoice,
} from "@veritee/server";
import { parseTransportSpec } from "@veritee/tpm";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";
import { out, parsePort, positive, readInputFile, sha256Option } from "../io.js";
import { CODE_ROOT, DEFAULT_MODEL } from "./serve.js";
import { type SealedFlags, sealedChoice, sealedOptions } from "./serve-sealed.js";

interface Options extends SealedFlags {
  codeRoot?: string;
  config?: string;
  dev?: boolean;
  host?: string;
  port?: number;
  engine?: string;
  model?: string[];
  modelSha256?: string;
  upstreamUrl?: string;
  upstreamModel?: string;
  tpm?: string;
  contextSize?: string;
  threads?: string;
  requireSealed?: boolean;
  apiKeys?: boolean;
  runtime?: string;
  anyRuntime?: boolean;
  anyEngineBinaries?: boolean;
  json?: boolean;
  writePolicy?: string;
  ekRoot: string[];
  ekIntermediate: string[];
  development?: boolean;
  bootPcr: string[];
  anyBootPcrs?: boolean;
  maxAge?: string;
}

/** The flags that build a configuration; `--config` excludes them. */
const CONFIG_FLAGS: readonly (keyof Options)[] = [
  "dev",
  "host",
  "port",
  "engine",
  "modelSha256",
  "upstreamUrl",
  "upstreamModel",
  "tpm",
  "contextSize",
  "threads",
  "requireSealed",
  "apiKeys",
  "custodian",
  "deployment",
];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `veritee measure`: reference values without a TPM. */
export function registerMeasure(program: Command): void {
  const measureCommand = program
    .command("measure")
    .description(
      "recompute a server's launch reference values (code bundle, configuration, runtime, engine, model) from a release bundle, a configuration and a model file, without a TPM; optionally write the policy that accepts them",
    )
    .option(
      "--code-root <dir>",
      "the release bundle: packages/*/dist/src, package.json files, package-lock.json (default: this installation)",
    )
    .option("--config <file>", "the server configuration as JSON (as the launch log publishes it; see docs/POLICY.md)")
    .option("--dev", "configuration flag as for veritee serve: the development TPM")
    .option("--host <host>", "configuration flag as for veritee serve (default: 127.0.0.1)")
    .option("--port <n>", "configuration flag as for veritee serve (default: 8080)", parsePort)
    .option("--engine <kind>", "embedded or upstream (default: embedded)")
    .option(
      "--model <path>",
      "the model file, GGUF (default: ../shared/models/stories260K.gguf when present); with --engine onnx a FILE.onnx, repeatable",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      "--model-sha256 <hex>",
      "embedded: the model's expected SHA-256; upstream: the digest the server declares",
      sha256Option,
    )
    .option("--upstream-url <url>", "upstream engine: its API root")
    .option("--upstream-model <id>", "upstream engine: the model id it serves (required: measure cannot ask it)")
    .option("--tpm <address>", "configuration flag as for veritee serve (default: device:/dev/tpmrm0)")
    .option(
      "--context-size <n>",
      "embedded engine: context size per sequence (default: as veritee serve, the model's training context, at most 2048)",
    )
    .option(
      "--threads <n>",
      "embedded engine: the server's thread count (default: the server's on this machine, cores − 1)",
    )
    .option("--require-sealed", "configuration flag as for veritee serve: only sealed requests are served")
    .option(
      "--api-keys",
      "configuration: the server runs with API keys (--api-key, --api-key-file or $VERITEE_API_KEY); only their presence is measured",
    )
    .option("--runtime <file>", "the Node.js executable the server runs (default: this one)")
    .option("--any-runtime", 'write runtime "any" in the policy (skip the runtime check)')
    .option("--any-engine-binaries", 'write engineBinaries "any" in the policy (skip the engine check)')
    .option("--json", "print the measurements as JSON")
    .option("--write-policy <file>", "write a policy accepting these reference values")
    .option(
      "--ek-root <pem>",
      "with --write-policy: a trusted EK root CA certificate (PEM file; repeatable, at least one)",
      collect,
      [],
    )
    .option(
      "--ek-intermediate <pem>",
      "with --write-policy: an EK intermediate CA certificate (PEM file; repeatable)",
      collect,
      [],
    )
    .option("--development", "with --write-policy: a development policy (trusts swtpm; INSECURE)")
    .option(
      "--boot-pcr <index=hex|any>",
      "with --write-policy: a SHA-256 boot PCR reference value (repeatable)",
      collect,
      [],
    )
    .option("--any-boot-pcrs", 'with --write-policy: boot PCRs "any" (skip the boot check)')
    .option("--max-age <seconds>", "with --write-policy: freshness limit (default: 300)");
  sealedOptions(measureCommand, false).action(async (opts: Options) => {
    try {
      await measure(opts);
    } catch (error) {
      // Measurement problems are the user's input (a missing file, a bad configuration), not internal errors.
      if (error instanceof LaunchError) {
        throw new CliError(error.code === "bad-config" ? "bad-argument" : "file-unreadable", error.message, {
          cause: error,
        });
      }
      throw error;
    }
  });
}

async function measure(opts: Options): Promise<void> {
  checkPolicyFlags(opts);
  const codeRoot = path.resolve(opts.codeRoot ?? CODE_ROOT);
  const { config, modelPath, modelMeasured, onnxModels } = opts.config
    ? await configFromFile(opts)
    : await configFromFlags(opts);

  const configuration = measureConfiguration(config);
  const codeBundle = await measureCodeBundle(codeRoot);
  const runtime = await measureRuntime(
    opts.runtime === undefined
      ? { path: process.execPath, version: process.version }
      : { path: opts.runtime, version: "unknown" },
  );
  let engineBinaries: EngineBinaryMeasurement[] = [];
  const models: ModelMeasurement[] = [];
  if (config.engine.kind === "embedded") {
    engineBinaries = await measureEngineBinaries(await nativeEngineFiles(codeRoot, opts.anyEngineBinaries === true));
    const model = modelMeasured
      ? { ...modelMeasured, id: config.engine.modelId }
      : config.engine.sealed
        ? await sealedModelMeasurement(opts, config.engine)
        : await measureModel({ id: config.engine.modelId, path: modelPath! });
    if (model.digest !== config.engine.modelSha256) {
      throw new CliError(
        "bad-argument",
        `the model file's SHA-256 is ${model.digest}, but the configuration pins ${config.engine.modelSha256}`,
      );
    }
    models.push(model);
  }
  if (config.engine.kind === "onnx") {
    if (!onnxModels)
      throw new CliError(
        "bad-argument",
        "--config with an ONNX engine: pass the models with --engine onnx --model instead",
      );
    engineBinaries = await measureEngineBinaries(
      await nativeEngineFiles(codeRoot, opts.anyEngineBinaries === true, "onnx"),
    );
    models.push(...onnxModels);
  }

  const development = config.tpm.kind === "swtpm-dev";
  if (opts.json) {
    out(
      JSON.stringify(
        {
          development,
          appPcr: config.appPcr,
          codeBundle: { digest: codeBundle.digest, files: codeBundle.files },
          configuration: { digest: configuration.digest, config: configuration.config },
          runtime: { digest: runtime.digest, size: runtime.size, version: runtime.version },
          engineBinaries,
          models,
        },
        null,
        2,
      ),
    );
  } else {
    if (development) out(`⚠ the configuration uses the development TPM (swtpm) — INSECURE, for development`);
    out("reference values (recomputed without a TPM):");
    out(`  application PCR ${config.appPcr}`);
    out(`  code bundle     ${codeBundle.digest}  (${codeBundle.files} files)`);
    out(`  configuration   ${configuration.digest}`);
    out(`                  ${configuration.canonical}`);
    out(`  runtime         ${runtime.digest}  node ${runtime.version}`);
    for (const b of engineBinaries) out(`  engine binary   ${b.digest}  ${b.name}`);
    for (const m of models) out(`  model           ${m.digest}  ${m.id}`);
  }

  if (opts.writePolicy) {
    if (development && !opts.development) {
      throw new CliError(
        "bad-argument",
        "the configuration uses the development TPM: only a development policy accepts it (add --development)",
      );
    }
    const policy = policyFromReferenceValues({
      development: opts.development === true,
      appPcr: config.appPcr,
      bootPcrs: bootReferenceValues(opts),
      launch: {
        codeBundle: codeBundle.digest,
        configuration: configuration.digest,
        runtime: opts.anyRuntime ? "any" : runtime.digest,
        engineBinaries: opts.anyEngineBinaries
          ? "any"
          : Object.fromEntries(engineBinaries.map((b) => [b.name, b.digest])),
        models: Object.fromEntries(models.map((m) => [m.id, m.digest])),
      },
      ekRootsPem: await readPems(opts.ekRoot, "--ek-root"),
      ekIntermediatesPem: await readPems(opts.ekIntermediate, "--ek-intermediate"),
      description: opts.development
        ? DEVELOPMENT_POLICY_WARNING
        : "Reference values recomputed by veritee measure from a release bundle, a configuration and a model.",
      ...(opts.maxAge === undefined ? {} : { maxAgeSeconds: Number(opts.maxAge) }),
    });
    await writeFile(opts.writePolicy, `${JSON.stringify(policy, null, 2)}\n`);
    process.stderr.write(
      `policy written to ${opts.writePolicy}${policy.development ? ` (a DEVELOPMENT policy — INSECURE)` : ""}\n`,
    );
  }
}

function checkPolicyFlags(opts: Options): void {
  const policyOnly = [
    opts.ekRoot.length > 0 && "--ek-root",
    opts.ekIntermediate.length > 0 && "--ek-intermediate",
    opts.development && "--development",
    opts.bootPcr.length > 0 && "--boot-pcr",
    opts.anyBootPcrs && "--any-boot-pcrs",
    opts.maxAge !== undefined && "--max-age",
  ].filter((f): f is string => typeof f === "string");
  if (!opts.writePolicy) {
    if (policyOnly.length > 0) throw new CliError("bad-argument", `${policyOnly[0]} goes with --write-policy`);
    return;
  }
  if (opts.ekRoot.length === 0) {
    throw new CliError("bad-argument", "--write-policy needs the EK root CA: --ek-root PEM_FILE (repeatable)");
  }
  if (opts.bootPcr.length > 0 && opts.anyBootPcrs) {
    throw new CliError("bad-argument", "--boot-pcr and --any-boot-pcrs exclude each other");
  }
  if (!opts.development && opts.bootPcr.length === 0 && !opts.anyBootPcrs) {
    // Fail closed: boot PCRs are platform-specific, and measure cannot know them.
    throw new CliError(
      "bad-argument",
      "a production policy needs boot PCR reference values: --boot-pcr INDEX=HEX for each of PCRs 0-7 (from the platform's vendor, or tpm2_pcrread sha256:0-7 on a known-good server), or --any-boot-pcrs to skip the check",
    );
  }
}

/** Boot PCR reference values from --boot-pcr, or zeros for PCRs 0–7 in a development policy (swtpm has no measured boot). */
function bootReferenceValues(opts: Options): "any" | Record<string, DigestSpec> {
  if (opts.anyBootPcrs) return "any";
  if (opts.bootPcr.length === 0)
    return Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7].map((i) => [String(i), "0".repeat(64)]));
  const values: Record<string, string[] | "any"> = {};
  for (const spec of opts.bootPcr) {
    const match = /^(\d{1,2})=(any|[0-9a-fA-F]{64})$/.exec(spec);
    if (!match)
      throw new CliError("bad-argument", "--boot-pcr takes INDEX=HEX (a SHA-256 value, 64 hex digits) or INDEX=any");
    const [, index, value] = match;
    const key = String(Number(index));
    const digest = value!.toLowerCase();
    const previous = values[key];
    if (digest === "any" || previous === "any") values[key] = "any";
    else values[key] = [...(previous ?? []), digest];
  }
  // Repeating an index allows several values for it.
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, v === "any" ? v : v.length === 1 ? v[0]! : [...new Set(v)]]),
  );
}

async function readPems(files: readonly string[], option: string): Promise<string[]> {
  const out: string[] = [];
  for (const file of files) out.push(new TextDecoder().decode(await readInputFile(file, option)));
  return out;
}

/** A configuration, the model file it names, and that file's measurement when taking it already measured it. */
interface ConfigSource {
  readonly config: ServerConfig;
  readonly modelPath: string | undefined;
  readonly modelMeasured?: ModelMeasurement;
  /** The ONNX engine's models, measured as the server measures them (name: the file's base name). */
  readonly onnxModels?: readonly ModelMeasurement[];
}

/** The configuration from a JSON file: the ServerConfig as the launch log's configuration event publishes it. */
async function configFromFile(opts: Options): Promise<ConfigSource> {
  const conflicting = CONFIG_FLAGS.filter((f) => opts[f] !== undefined);
  if (conflicting.length > 0) {
    throw new CliError(
      "bad-argument",
      "--config excludes the configuration flags (--dev, --host, --port, --engine, --require-sealed, …)",
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(new TextDecoder().decode(await readInputFile(opts.config!, "--config")));
  } catch (error) {
    if (error instanceof SyntaxError) throw new CliError("bad-argument", "--config: not JSON", { cause: error });
    throw error;
  }
  const engine = (config as { engine?: { kind?: unknown; modelId?: unknown; modelSha256?: unknown } } | null)?.engine;
  const tpm = (config as { tpm?: { kind?: unknown } } | null)?.tpm;
  const appPcr = (config as { appPcr?: unknown } | null)?.appPcr;
  if (
    typeof config !== "object" ||
    config === null ||
    Array.isArray(config) ||
    typeof engine !== "object" ||
    engine === null ||
    (engine.kind !== "embedded" && engine.kind !== "upstream") ||
    typeof tpm !== "object" ||
    tpm === null ||
    typeof tpm.kind !== "string" ||
    typeof appPcr !== "number"
  ) {
    throw new CliError(
      "bad-argument",
      "--config: not a server configuration (an object with engine.kind embedded or upstream, tpm.kind and appPcr)",
    );
  }
  if (engine.kind === "embedded" && (typeof engine.modelId !== "string" || typeof engine.modelSha256 !== "string")) {
    throw new CliError("bad-argument", "--config: an embedded engine needs engine.modelId and engine.modelSha256");
  }
  let modelPath: string | undefined;
  if (engine.kind === "embedded") {
    if ((opts.model?.length ?? 0) > 1) throw new CliError("bad-argument", "the embedded engine takes one --model");
    modelPath = opts.model?.[0] ?? DEFAULT_MODEL;
  } else if (opts.model !== undefined) {
    throw new CliError("bad-argument", "--model goes with an embedded engine (an upstream server loads its own model)");
  }
  return { config: config as ServerConfig, modelPath };
}

/** The configuration `veritee serve` would measure with the same flags. */
async function configFromFlags(opts: Options): Promise<ConfigSource> {
  if (opts.dev && opts.tpm) throw new CliError("bad-argument", "--dev and --tpm exclude each other");
  const tpm: TpmChoice = opts.dev
    ? { kind: "dev" }
    : { kind: "address", spec: parseTransportSpec(opts.tpm ?? "device:/dev/tpmrm0") };
  const sealed = sealedChoice(opts, {
    "--model": opts.model,
    "--model-sha256": opts.modelSha256,
    "--engine upstream": opts.engine === "upstream" ? true : undefined,
    // Custodial ONNX models are not served yet (issue 13): a sealed model is a GGUF for the embedded engine.
    "--engine onnx": opts.engine === "onnx" ? true : undefined,
  });
  // A custodial deployment always takes its consumers' keys (docs/CUSTODY.md "Governance").
  const common = {
    host: opts.host,
    port: opts.port,
    tpm,
    access: {
      requireSealed: opts.requireSealed === true,
      requireApiKey: opts.apiKeys === true || sealed !== undefined,
    },
  };
  if (sealed) {
    const opened = await openSealedModel(sealed.path);
    await opened.pinned.close();
    const engine = sealedEngineConfig({
      sealedPath: sealed.path,
      header: opened.header,
      sealedSha256: opened.sealedSha256,
      deployment: sealed.deployment,
      custodians: sealed.custodians,
      contextSize: positive(opts.contextSize, "--context-size"),
      threads: positive(opts.threads, "--threads"),
    });
    const h = opened.header;
    const modelMeasured = { id: h.modelId, digest: h.plaintextSha256, size: h.plaintextLength };
    return { config: serverConfig({ ...common, engine }), modelPath: undefined, modelMeasured };
  }
  const kind = opts.engine ?? "embedded";
  if (kind === "onnx") {
    if (!opts.model?.length) throw new CliError("bad-argument", "--engine onnx needs --model FILE.onnx (repeatable)");
    if (opts.upstreamUrl || opts.upstreamModel || opts.modelSha256 || opts.contextSize || opts.threads) {
      throw new CliError("bad-argument", "--engine onnx takes --model files only");
    }
    const onnxModels: ModelMeasurement[] = [];
    for (const file of opts.model) {
      if (!file.endsWith(".onnx"))
        throw new CliError("bad-argument", `--model ${file}: an ONNX model file ends in .onnx`);
      onnxModels.push(await measureModel({ id: path.basename(file, ".onnx"), path: file }));
    }
    const config = serverConfig({
      ...common,
      engine: {
        kind: "onnx",
        models: onnxModels.map((m) => ({ name: m.id, sha256: m.digest })),
        executionProviders: ["cpu"],
      },
    });
    return { config, modelPath: undefined, onnxModels };
  }
  if (kind === "embedded") {
    if (opts.upstreamUrl || opts.upstreamModel) {
      throw new CliError("bad-argument", "--upstream-url and --upstream-model go with --engine upstream");
    }
    if ((opts.model?.length ?? 0) > 1) throw new CliError("bad-argument", "the embedded engine takes one --model");
    const modelPath = opts.model?.[0] ?? DEFAULT_MODEL;
    if (/^(hf:|https?:)/.test(modelPath)) {
      throw new CliError(
        "bad-argument",
        "--model must be a local file: measure does not download (veritee serve caches downloads; pass that file)",
      );
    }
    // The server pins the digest it measured; a given --model-sha256 must agree.
    const model = await measureModel({ id: "model", path: modelPath });
    if (opts.modelSha256 !== undefined && opts.modelSha256.toLowerCase() !== model.digest) {
      throw new CliError(
        "bad-argument",
        `--model-sha256 does not match the model file (its SHA-256 is ${model.digest})`,
      );
    }
    const config = serverConfig({
      ...common,
      engine: {
        kind: "embedded",
        modelId: path.basename(modelPath).replace(/\.gguf$/i, ""),
        modelPath: path.basename(modelPath),
        modelSha256: model.digest,
        contextSize: positive(opts.contextSize, "--context-size") ?? (await contextSizeOf(modelPath)),
        threads: positive(opts.threads, "--threads") ?? defaultThreads(),
        gpu: "none",
      },
    });
    return { config, modelPath, modelMeasured: model };
  }
  if (kind !== "upstream") throw new CliError("bad-argument", "--engine must be embedded, upstream or onnx");
  if (!opts.upstreamUrl || !opts.upstreamModel) {
    throw new CliError("bad-argument", "--engine upstream needs --upstream-url and --upstream-model");
  }
  if (opts.model !== undefined || opts.contextSize !== undefined || opts.threads !== undefined) {
    throw new CliError("bad-argument", "--model, --context-size and --threads go with the embedded engine");
  }
  const config = serverConfig({
    ...common,
    engine: {
      kind: "upstream",
      modelId: opts.upstreamModel,
      modelSha256: opts.modelSha256?.toLowerCase() ?? null,
      url: opts.upstreamUrl,
    },
  });
  return { config, modelPath: undefined };
}

/** The context size the server would pick for the model (its GGUF header's training context, capped). */
/**
 * A sealed configuration's model measurement (`--config` with `engine.sealed`):
 * the header's plaintext digest of the `--sealed-model` file, which must be
 * the sealed file the configuration names.
 */
async function sealedModelMeasurement(opts: Options, engine: EmbeddedEngineConfig): Promise<ModelMeasurement> {
  if (opts.sealedModel === undefined) {
    throw new CliError("bad-argument", "the configuration serves a sealed model: pass its file with --sealed-model");
  }
  const opened = await openSealedModel(opts.sealedModel);
  await opened.pinned.close();
  if (opened.sealedSha256 !== engine.sealed?.sha256) {
    throw new CliError(
      "bad-argument",
      `--sealed-model's SHA-256 is ${opened.sealedSha256}, but the configuration names ${engine.sealed?.sha256}`,
    );
  }
  const h = opened.header;
  return { id: engine.modelId, digest: h.plaintextSha256, size: h.plaintextLength };
}

async function contextSizeOf(modelPath: string): Promise<number> {
  try {
    return await embeddedContextSize(modelPath);
  } catch (error) {
    throw new CliError("bad-argument", "--model: not a GGUF model whose header can be read", { cause: error });
  }
}

/**
 * Every llama.cpp native file under the release's node_modules: the server
 * pins and measures all of them before loading (ggml loads every CPU variant
 * to pick one), with the same list (`listEngineFiles`).
 */
async function nativeEngineFiles(
  codeRoot: string,
  optional: boolean,
  family: "llama" | "onnx" = "llama",
): Promise<{ name: string; path: string }[]> {
  const nodeModules = path.join(codeRoot, "node_modules");
  const files = await listEngineFiles(nodeModules, family);
  if (files.length === 0 && !optional) {
    throw new CliError(
      "file-not-found",
      `no ${family === "onnx" ? "onnxruntime" : "llama.cpp"} native files under the release's node_modules: install its dependencies (npm ci), or pass --any-engine-binaries`,
    );
  }
  return engineBinaryInputs(files, nodeModules);
}
