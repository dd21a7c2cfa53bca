/**
 * `veritee serve`: the attested inference server, composed. The order is the
 * measured-launch order of docs/ATTESTATION.md:
 *
 *  1. the TPM (a fresh development swtpm, or the platform's), and a check that
 *     the application PCR is still zero — one launch per boot;
 *  2. the engine, loaded before measuring, with the model and every native
 *     engine file opened first, so that the files measured are the ones the
 *     engine read and this process mapped;
 *  3. measurements (code bundle, configuration, runtime, engine binaries,
 *     model), the in-memory key set, the launch log extended into the
 *     application PCR and sealed with a separator;
 *  4. the attester (EK, AK) and the HTTP server with the attestation routes.
 *
 * Before all of it, the ports are bound (answering 503 until step 4), so a
 * port already in use fails at once rather than after loading a model.
 *
 * Any failure on the way stops the server: it never serves unmeasured.
 */
import { sign as signWith } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createAttestedCertificate } from "@veritee/channel/node";
import { decodePemBlock, toHex } from "@veritee/core";
import type { RetryOptions } from "@veritee/custody";
import { provisionSwtpm, type SwtpmInstance, startSwtpm, TpmClient, type TransportSpec } from "@veritee/tpm";
import { type Attester, createAttester } from "./attestation/attester.js";
import { handleActivateRequest, handleAttestationRequest } from "./attestation/http.js";
import { serverRecipientKey } from "./channel/recipient.js";
import { wasSealed, withSealedChannel } from "./channel/sealed-http.js";
import { loadSealedModel, type SealedCustody } from "./custody/load.js";
import { sealedEngineConfig } from "./custody/sealed-config.js";
import { openSealedModel } from "./custody/sealed-model.js";
import { createEmbeddedEngine } from "./engine/embedded.js";
import { engineFileMappings } from "./engine/native.js";
import { OnnxEngine } from "./engine/onnx/onnx-engine.js";
import { NoOpenAiModels } from "./engine/onnx/openai-stub.js";
import type { Engine } from "./engine/types.js";
import { createUpstreamEngine } from "./engine/upstream.js";
import { withCors } from "./http/cors.js";
import { HttpError } from "./http/errors.js";
import type { ResponseSink } from "./http/exchange.js";
import { createHttpHandler, type HttpLimits, metricsListener } from "./http/handler.js";
import { inferenceProtocolRoutes } from "./http/inference-protocol.js";
import type { Logger } from "./http/logger.js";
import type { Route } from "./http/router.js";
import { type BoundHttpServer, bindHttpServer, type RunningHttpServer } from "./http/server.js";
import { assertEngineMappingsPinned, closeEngineFiles, pinEngineFiles } from "./launch/engine-files.js";
import { LaunchError } from "./launch/errors.js";
import { assertApplicationPcrFresh, type MeasuredLaunch, runMeasuredLaunch } from "./launch/launch.js";
import {
  assertNoLoaderEnvironment,
  currentLaunchEnvironment,
  type LaunchEnvironment,
} from "./launch/launch-environment.js";
import { type LaunchMeasurements, measureLaunch, measureModel } from "./launch/measure.js";
import { pinFile } from "./launch/pinned-file.js";
import { APPLICATION_PCR, engineLimits, serverConfig, type TpmChoice } from "./launch/server-config.js";
import { ModelError, type ProgressCallback, resolveModel } from "./model/resolve.js";
import { AZURE_AK_PERSISTENT_HANDLE, type AzureCertificateSource } from "./tee/azure-vtpm.js";
import {
  type GpuEvidenceSource,
  type PlatformCollector,
  type PlatformEvidenceChoice,
  platformCollectorFor,
} from "./tee/collector.js";

/** What to serve and where. */
export interface ServeOptions {
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 8080; 0 picks a free one). */
  readonly port?: number;
  /**
   * Also serve HTTPS with the attested TLS key (a self-signed certificate
   * made at start; clients pin the key, docs/CHANNEL.md), on this interface
   * (default: `host`) and port (default 8443; 0 picks a free one).
   */
  readonly tls?: { readonly host?: string; readonly port?: number };
  readonly engine:
    | {
        readonly kind: "embedded";
        /** A GGUF path, `hf:OWNER/REPO/FILE.gguf` or an https URL. */
        readonly model: string;
        readonly modelSha256?: string;
        readonly allowUnpinnedModel?: boolean;
        readonly contextSize?: number;
        readonly parallelSequences?: number;
        readonly threads?: number;
        /**
         * `model` is a sealed model file (docs/CUSTODY.md): its key is
         * released by the custodians after they verified this server's
         * attestation, and the plaintext lives only in an unlinked RAM file.
         */
        readonly sealed?: SealedModelOptions;
      }
    | {
        /** ONNX models (issue 13), served by the Open Inference Protocol (`/v2`). */
        readonly kind: "onnx";
        /** `.onnx` files; each model's name is the file's base name without `.onnx`. */
        readonly models: readonly string[];
        /** onnxruntime execution providers (default `["cpu"]`). */
        readonly executionProviders?: readonly string[];
      }
    | {
        readonly kind: "upstream";
        readonly url: string;
        readonly apiKey?: string;
        /** The model id to serve (default: the upstream's list). */
        readonly model?: string;
        /** The served model's digest when known (published in the configuration measurement). */
        readonly modelSha256?: string;
        /** The upstream's context window in tokens (default: asked from the upstream; unknown if it does not say). */
        readonly contextSize?: number;
      };
  /** The development swtpm (started fresh, in a temp dir unless given), or a TPM address. */
  readonly tpm: (TpmChoice & { readonly kind: "address" }) | { readonly kind: "dev"; readonly stateDir?: string };
  /** The release root holding packages/<name>/dist/src and package-lock.json (the code bundle). */
  readonly codeRoot: string;
  readonly limits?: HttpLimits;
  readonly logger?: Logger;
  /** Progress of long start-up work (downloading and hashing models). */
  readonly onProgress?: (what: string) => ProgressCallback;
  /**
   * Confidential-computing evidence in every attestation document
   * (`platform`): `"auto"` (default) uses configfs-tsm when this machine
   * offers it (an SEV-SNP or TDX guest on Linux 6.7+), `"none"` sends none,
   * `{ tsm }` uses that configfs-tsm root or file system (tests).
   * `"auto"` also takes an Azure confidential VM's vTPM HCL report (NV
   * 0x01400001) when there is no configfs-tsm and the TPM has one;
   * `"azure-vtpm"` requires it. Azure evidence needs `azureCertificates`,
   * and the server then quotes with the vTPM AK the HCL report names
   * (persistent handle 0x81000003) instead of a fresh AK.
   */
  readonly platformEvidence?: PlatformEvidenceChoice;
  /**
   * The VCEK chain of an Azure HCL report's SEV-SNP report: a directory with
   * `vcek.der` (and `ask.der`, `ark.der`), or a callback (e.g. fetching from
   * IMDS THIM, `http://169.254.169.254/metadata/THIM/amd/certification`).
   */
  readonly azureCertificates?: AzureCertificateSource;
  /** GPU attestation reports for every attestation (NVML needs native code: none by default). */
  readonly gpuEvidence?: GpuEvidenceSource;
  /**
   * Start even with Node.js start-up flags or loader-relevant environment
   * variables (`NODE_OPTIONS`, `LD_PRELOAD`, …; launch/launch-environment.ts).
   * They are recorded in the configuration event either way; without this
   * the server refuses to start (LaunchError `loader-environment`).
   */
  readonly allowLoaderEnvironment?: boolean;
  /**
   * The launch environment to record and check (default: this process's,
   * `currentLaunchEnvironment()`). For servers started inside a test runner,
   * whose own flags are not the server's; `veritee serve` never sets it.
   */
  readonly launchEnvironment?: LaunchEnvironment;
  /**
   * The EK certificate's CA chain for a real TPM (its vendor's root and
   * intermediates, PEM): the roots go into `referenceValues.ekRootsPem`, so
   * that a policy written from them trusts this TPM; the intermediates also
   * go into every attestation document. Ignored with the development TPM,
   * whose local CA is used.
   */
  readonly ekTrust?: { readonly rootsPem: readonly string[]; readonly intermediatesPem?: readonly string[] };
  /**
   * Serve `/metrics` on this separate admin listener (e.g. 127.0.0.1, for a
   * Prometheus scraper in the same VM). Without it no listener serves
   * metrics: the public port never publishes them.
   */
  readonly metrics?: { readonly host?: string; readonly port: number };
  /** Web origins (`https://app.example`, from `parseCorsOrigin`) allowed to call the API from a browser (CORS). */
  readonly corsOrigins?: readonly string[];
  /**
   * API keys: requests to every route but health, metrics and attestation
   * need `Authorization: Bearer <one of them>` (compared in constant time;
   * never measured or logged). Default: none required.
   */
  readonly apiKeys?: readonly string[];
  /** Refuse plaintext requests to those routes: only sealed ones are served (docs/CHANNEL.md). Default false. */
  readonly requireSealed?: boolean;
}

/** Where a sealed model's key comes from. */
export interface SealedModelOptions {
  /** The custodians' base URLs: one, or the k-of-n owners'. */
  readonly custodians: readonly string[];
  readonly deployment: string;
  /** A RAM file system for the plaintext (default /dev/shm; tmpfs or ramfs, checked). */
  readonly memoryDir?: string;
  readonly retry?: RetryOptions;
  /** Test hook: the fetch the release client uses. */
  readonly fetch?: typeof fetch;
}

/** The reference values a client policy needs, as the server measured them. */
export interface ReferenceValues {
  /** True for a development TPM: any policy built from these values is a development policy. */
  readonly development: boolean;
  readonly appPcr: number;
  /** SHA-256 boot PCRs 0–7 as read at start (all zero on swtpm: no measured boot). */
  readonly bootPcrs: Readonly<Record<string, string>>;
  readonly launch: {
    readonly codeBundle: string;
    readonly configuration: string;
    readonly runtime: string;
    readonly engineBinaries: Readonly<Record<string, string>>;
    readonly models: Readonly<Record<string, string>>;
  };
  /** The expected value of the application PCR (the launch log's replay; the key set makes it unique per launch). */
  readonly appPcrValue: string;
  /** PEM of the EK certificate's root CA (development: the swtpm local CA root; else `ekTrust.rootsPem`, maybe none). */
  readonly ekRootsPem: readonly string[];
}

/** A running attested server. */
export interface RunningVeriteeServer {
  readonly url: string;
  /** The attested-TLS URL (`https://…`) when `tls` was asked for. */
  readonly tlsUrl: string | undefined;
  /** The admin listener's URL (`/metrics`) when `metrics` was asked for. */
  readonly metricsUrl: string | undefined;
  readonly engine: Engine;
  readonly launch: MeasuredLaunch;
  readonly measurements: LaunchMeasurements;
  readonly attester: Attester;
  /** Which platform evidence the server attaches to attestations (configfs-tsm CPU reports, GPU reports). */
  readonly platformSources: PlatformCollector["sources"];
  readonly referenceValues: ReferenceValues;
  /**
   * A sealed model's custody: its meter and lease keeper; `drop()` ends the
   * engine and frees the plaintext, as the end of a lease does (the server
   * then answers 503). Absent for a plaintext model.
   */
  readonly custody: SealedCustody | undefined;
  /** Graceful shutdown: drain requests, close the engine, drop keys, release the TPM. Idempotent. */
  close(): Promise<void>;
}

const BOOT_PCRS = [0, 1, 2, 3, 4, 5, 6, 7];

/** Start the attested server. Everything started is released again if a later step fails. */
export async function startVeriteeServer(options: ServeOptions): Promise<RunningVeriteeServer> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    // 0. Flags and loader variables change what runs without changing a measured file: refuse them unless allowed.
    const launchEnvironment = options.launchEnvironment ?? currentLaunchEnvironment();
    if (options.allowLoaderEnvironment !== true) assertNoLoaderEnvironment(launchEnvironment);

    // 0b. The ports, first: a port in use is an environment error before anything slow happens.
    const bound: BoundHttpServer = await bindHttpServer({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 8080,
    });
    cleanups.push(() => bound.close());
    let tlsBound: BoundHttpServer | undefined;
    if (options.tls) {
      const tls = await bindHttpServer({
        host: options.tls.host ?? options.host ?? "127.0.0.1",
        port: options.tls.port ?? 8443,
        tls: true,
      });
      tlsBound = tls;
      cleanups.push(() => tls.close());
    }
    let metricsBound: BoundHttpServer | undefined;
    if (options.metrics) {
      const admin = await bindHttpServer({ host: options.metrics.host ?? "127.0.0.1", port: options.metrics.port });
      metricsBound = admin;
      cleanups.push(() => admin.close());
    }

    // 1. The TPM.
    let spec: TransportSpec;
    let sim: SwtpmInstance | undefined;
    let ekRootsPem: string[] = [];
    let ekIntermediates: Uint8Array[] = [];
    if (options.tpm.kind === "dev") {
      const stateDir = options.tpm.stateDir ?? (await mkdtemp(path.join(os.tmpdir(), "veritee-dev-tpm-")));
      if (options.tpm.stateDir === undefined) cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
      const state = await provisionSwtpm({ stateDir });
      sim = await startSwtpm({ stateDir });
      const started = sim;
      cleanups.push(() => started.stop());
      spec = { kind: "tcp", host: sim.host, port: sim.port };
      const [root, issuer] = await Promise.all([
        readFile(state.rootCaCertPath, "utf8"),
        readFile(state.issuerCertPath, "utf8"),
      ]);
      ekRootsPem = [root];
      // Core's strict PEM decoder: one CERTIFICATE block, nothing else (this used to skip junk silently).
      ekIntermediates = [
        decodePemBlock(issuer, { label: "CERTIFICATE", what: "swtpm EK issuer", maxBytes: 64 * 1024 }),
      ];
    } else {
      spec = options.tpm.spec;
      ekRootsPem = [...(options.ekTrust?.rootsPem ?? [])];
      ekIntermediates = (options.ekTrust?.intermediatesPem ?? []).map((pem) =>
        decodePemBlock(pem, { label: "CERTIFICATE", what: "EK intermediate", maxBytes: 64 * 1024 }),
      );
    }
    const tpm = await TpmClient.connect(spec);
    cleanups.push(() => tpm.close());
    await tpm.startup("clear");
    await assertApplicationPcrFresh(tpm, APPLICATION_PCR);

    // 2. The engine.
    // A sealed model's engine loads after the release (step 4b): its key needs this launch's attestation.
    const opened = await openEngine(options, cleanups);
    const { models, engineFiles, sealedModel } = opened;
    let engine = opened.engine;
    let config = { ...opened.config, launchEnvironment };
    if (engine) {
      const started = engine;
      cleanups.push(() => started.close());
    }

    // 3. Measurements, keys, launch log → application PCR.
    // Every native file mapped now must be one pinned before the load (device and inode); all pinned are measured.
    if (engine?.kind === "embedded") assertEngineMappingsPinned(await engineFileMappings(), engineFiles);
    if (engine?.kind === "onnx") assertEngineMappingsPinned(await engineFileMappings(undefined, "onnx"), engineFiles);
    // The model is hashed once, after loading, from the descriptor pinned before the engine opened its path;
    // the configuration records that digest. A sealed model's measurement is its header's plaintext digest,
    // which unsealing verifies before the engine opens the plaintext.
    const onnxOpened = "onnx" in opened ? opened.onnx : undefined;
    const modelMeasurements = onnxOpened
      ? onnxOpened.measured
      : sealedModel
        ? [
            {
              id: sealedModel.header.modelId,
              digest: sealedModel.header.plaintextSha256,
              size: sealedModel.header.plaintextLength,
            },
          ]
        : await Promise.all(
            models.map((m) =>
              measureModel(
                m,
                options.onProgress ? (p) => options.onProgress?.(`measuring ${p.what}`)(p.done, p.total) : undefined,
              ),
            ),
          );
    // Measured: the pinned descriptors have done their work.
    for (const m of models) await m.pinned.close();
    if (config.engine.kind === "embedded" && !sealedModel) {
      const measured = modelMeasurements[0]!.digest;
      if (config.engine.modelSha256 !== "" && config.engine.modelSha256 !== measured) {
        throw new ModelError("digest-mismatch", "the model file changed while the server was starting");
      }
      config = { ...config, engine: { ...config.engine, modelSha256: measured } };
    }
    const measured = await measureLaunch({
      codeRoot: options.codeRoot,
      config,
      models: [],
      engineBinaries: engineFiles,
      ...(options.onProgress
        ? { onProgress: (p) => options.onProgress?.(`measuring ${p.what}`)(p.done, p.total) }
        : {}),
    });
    // Engine files stay pinned until a sealed model's engine has loaded and its mappings are checked.
    if (!sealedModel) await closeEngineFiles(engineFiles);
    const measurements: LaunchMeasurements = { ...measured, models: modelMeasurements };
    const launch = await runMeasuredLaunch({ tpm, measurements, appPcr: APPLICATION_PCR });
    cleanups.push(async () => launch.keys.dropKeys());

    // 4. Attester and HTTP.
    const platform = await platformCollectorFor(options.platformEvidence ?? "auto", options.gpuEvidence, {
      tpm,
      ...(options.azureCertificates ? { certificates: options.azureCertificates } : {}),
    });
    const attester = await createAttester({
      platform,
      tpm,
      keySet: launch.keys.keySet,
      launchLog: launch.launchLog,
      appPcr: APPLICATION_PCR,
      bootPcrs: BOOT_PCRS,
      ekIntermediates,
      bootEventLog: sim ? "none" : "system",
      // The HCL report names the vTPM's own AK; a fresh AK would not be bound to it.
      ...(platform.sources.azureVtpm ? { ak: { persistentHandle: AZURE_AK_PERSISTENT_HANDLE } } : {}),
    });
    cleanups.push(() => attester.close());
    const bootValues = (await tpm.pcrRead({ sha256: BOOT_PCRS })).get("sha256")!;

    // 4b. A sealed model: the key, released to this attested launch; the plaintext, in RAM only; then the engine.
    let custody: RunningVeriteeServer["custody"];
    if (sealedModel && options.engine.kind === "embedded" && config.engine.kind === "embedded") {
      const loaded = await loadSealedModel(sealedModel, options.engine, config.engine, {
        attester,
        keys: launch.keys,
        engineFiles,
        // Renewals are signed with the attested TLS key, which the custodian recorded at the release.
        sign: async (data) =>
          new Uint8Array(signWith("sha256", data, { key: launch.keys.tlsPrivateKey, dsaEncoding: "der" })),
        cleanups,
        logger: options.logger,
        onProgress: options.onProgress,
      });
      engine = loaded.engine;
      custody = loaded.custody;
    }
    if (!engine) throw new LaunchError("bad-config", "no engine was started");

    // The limits measured are the limits served (an ONNX server's body default is larger: server-config.ts).
    const limits = engineLimits(options.limits, config.engine.kind);
    const http = createHttpHandler({
      engine,
      ...(custody ? { governance: custody.meter } : {}),
      extraRoutes: [...attestationRoutes(attester), ...(onnxOpened ? inferenceProtocolRoutes(onnxOpened.engine) : [])],
      access: { apiKeys: options.apiKeys ?? [], requireSealed: options.requireSealed ?? false, isSealed: wasSealed },
      ...(limits ? { limits } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      metricsRoute: false,
    });
    // Sealed requests are opened with the in-memory HPKE key and their responses sealed; others pass through.
    const sealed = {
      ...http,
      handler: withSealedChannel(http.handler, {
        recipient: serverRecipientKey(launch.keys),
        ...(limits?.maxBodyBytes !== undefined ? { maxBodyBytes: limits.maxBodyBytes } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
      }),
    };
    // Shutdown drains HTTP first (before the engine and keys go): the close registered here runs before those above.
    const publicListener = withCors(sealed.handler, options.corsOrigins ?? []);
    const served = { ...sealed, handler: publicListener };
    const running: RunningHttpServer = bound.serve(served);
    cleanups.push(() => running.close());
    let tlsRunning: RunningHttpServer | undefined;
    if (tlsBound) {
      const certificate = createAttestedCertificate({
        privateKey: launch.keys.tlsPrivateKey,
        spki: launch.keys.keySet.tlsSpki,
      });
      const started = tlsBound.serve(served, { key: launch.keys.tlsPrivateKey, cert: certificate.pem });
      tlsRunning = started;
      cleanups.push(() => started.close());
    }

    if (custody) {
      const governor = custody.governor;
      http.metrics.addCollector(() => governor.renderMetrics());
    }
    const metricsRunning = metricsBound?.serve(metricsListener(http.metrics));

    const referenceValues: ReferenceValues = {
      development: sim !== undefined,
      appPcr: APPLICATION_PCR,
      bootPcrs: Object.fromEntries([...bootValues].map(([i, v]) => [String(i), toHex(v)])),
      launch: {
        codeBundle: measurements.codeBundle.digest,
        configuration: measurements.configuration.digest,
        runtime: measurements.runtime.digest,
        engineBinaries: Object.fromEntries(measurements.engineBinaries.map((b) => [b.name, b.digest])),
        models: Object.fromEntries(measurements.models.map((m) => [m.id, m.digest])),
      },
      appPcrValue: toHex(launch.pcrValue),
      ekRootsPem,
    };
    let closing: Promise<void> | undefined;
    return {
      url: running.url,
      tlsUrl: tlsRunning?.url,
      metricsUrl: metricsRunning?.url,
      engine,
      launch,
      measurements,
      attester,
      referenceValues,
      platformSources: platform.sources,
      custody,
      close: () => {
        closing ??= cleanup();
        return closing;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

async function openEngine(options: ServeOptions, cleanups: (() => Promise<void>)[]) {
  const common = {
    host: options.host,
    port: options.port,
    limits: options.limits,
    tpm: options.tpm,
    // A custodial deployment always takes its consumers' keys (docs/CUSTODY.md "Governance").
    access: {
      requireSealed: options.requireSealed ?? false,
      requireApiKey:
        (options.apiKeys?.length ?? 0) > 0 ||
        (options.engine.kind === "embedded" && options.engine.sealed !== undefined),
    },
  };
  if (options.engine.kind === "embedded" && options.engine.sealed && (options.apiKeys?.length ?? 0) > 0) {
    throw new LaunchError(
      "bad-config",
      "a sealed model's API keys are its consumers', issued by the custodian (veritee custodian consumer add): drop --api-key",
    );
  }
  if (options.engine.kind === "onnx") return openOnnxEngine(options, options.engine, common, cleanups);
  if (options.engine.kind === "embedded" && options.engine.sealed) {
    const e = options.engine;
    const sealed = e.sealed!;
    const progress = options.onProgress;
    const sealedModel = await openSealedModel(
      e.model,
      progress ? (p) => progress("measuring the sealed model")(p.done, p.total) : undefined,
    );
    cleanups.push(() => sealedModel.pinned.close());
    const engineFiles = await pinEngineFiles(path.join(options.codeRoot, "node_modules"));
    cleanups.push(() => closeEngineFiles(engineFiles));
    const h = sealedModel.header;
    const config = serverConfig({
      ...common,
      engine: sealedEngineConfig({
        sealedPath: e.model,
        header: h,
        sealedSha256: sealedModel.sealedSha256,
        deployment: sealed.deployment,
        custodians: sealed.custodians,
        contextSize: e.contextSize,
        threads: e.threads,
      }),
    });
    return { engine: undefined, config, models: [], engineFiles, sealedModel };
  }
  if (options.engine.kind === "embedded") {
    const e = options.engine;
    const model = await resolveModel(e.model, {
      ...(e.modelSha256 ? { sha256: e.modelSha256 } : {}),
      ...(e.allowUnpinnedModel ? { allowUnpinned: true } : {}),
      hashUnpinnedLocal: false,
      ...(options.onProgress ? { onProgress: options.onProgress("model") } : {}),
    });
    // Opened before the engine opens the path: the launch hashes this very file (launch/pinned-file.ts).
    const pinned = await pinFile(model.path, "the model");
    cleanups.push(() => pinned.close());
    // Every native file the engine could load (ggml loads each CPU variant to pick one): pinned likewise.
    const engineFiles = await pinEngineFiles(path.join(options.codeRoot, "node_modules"));
    cleanups.push(() => closeEngineFiles(engineFiles));
    const engine = await createEmbeddedEngine({
      modelPath: model.path,
      ...(e.contextSize ? { contextSize: e.contextSize } : {}),
      ...(e.parallelSequences ? { parallelSequences: e.parallelSequences } : {}),
      ...(e.threads ? { threads: e.threads } : {}),
    });
    const s = engine.settings;
    const config = serverConfig({
      ...common,
      engine: {
        kind: "embedded",
        modelId: s.modelId,
        modelPath: path.basename(model.path),
        modelSha256: model.sha256,
        contextSize: s.contextSize,
        threads: s.threads,
        gpu: "none",
      },
    });
    return {
      engine: engine as Engine,
      config,
      models: [{ id: s.modelId, path: model.path, pinned }],
      engineFiles,
      sealedModel: undefined,
    };
  }
  const u = options.engine;
  const engine = await createUpstreamEngine({
    baseURL: u.url,
    ...(u.apiKey ? { apiKey: u.apiKey } : {}),
    ...(u.model ? { models: [u.model] } : {}),
    ...(u.contextSize ? { contextSize: u.contextSize } : {}),
  });
  const config = serverConfig({
    ...common,
    engine: {
      kind: "upstream",
      modelId: engine.models()[0]!.id,
      modelSha256: u.modelSha256 ?? null,
      url: u.url,
      ...(u.apiKey ? { apiKey: u.apiKey } : {}),
    },
  });
  return { engine: engine as Engine, config, models: [], engineFiles: [], sealedModel: undefined };
}

/** The largest ONNX model file served (protobuf's own limit is 2 GiB). */
const MAX_ONNX_MODEL_BYTES = 2 ** 31 - 1;

/**
 * ONNX models: onnxruntime's native files pinned before it is imported, then
 * each model file pinned, read whole from that descriptor, hashed and loaded
 * from those very bytes — what runs is what the launch measures.
 */
async function openOnnxEngine(
  options: ServeOptions,
  e: { readonly models: readonly string[]; readonly executionProviders?: readonly string[] },
  common: Omit<Parameters<typeof serverConfig>[0], "engine">,
  cleanups: (() => Promise<void>)[],
) {
  if (e.models.length === 0) throw new LaunchError("bad-config", "the ONNX engine needs at least one model");
  const engineFiles = await pinEngineFiles(path.join(options.codeRoot, "node_modules"), "onnx");
  cleanups.push(() => closeEngineFiles(engineFiles));
  const onnx = await OnnxEngine.create(e.executionProviders ? { executionProviders: e.executionProviders } : {});
  cleanups.push(() => onnx.close());
  const measured: { id: string; digest: string; size: number }[] = [];
  for (const file of e.models) {
    if (!file.endsWith(".onnx"))
      throw new LaunchError("bad-config", `${path.basename(file)}: an ONNX model file ends in .onnx`);
    const name = path.basename(file, ".onnx");
    const pinned = await pinFile(file, `the model ${name}`);
    let bytes: Buffer;
    try {
      const size = (await pinned.handle.stat()).size;
      if (size > MAX_ONNX_MODEL_BYTES) throw new LaunchError("bad-config", `${name}: larger than 2 GiB`);
      bytes = await pinned.handle.readFile();
    } finally {
      await pinned.close();
    }
    const info = await onnx.load(name, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    measured.push({ id: info.name, digest: info.sha256, size: info.size });
  }
  const config = serverConfig({
    ...common,
    engine: {
      kind: "onnx",
      models: measured.map((m) => ({ name: m.id, sha256: m.digest })),
      executionProviders: [...(e.executionProviders ?? ["cpu"])],
    },
  });
  return {
    engine: new NoOpenAiModels(() => onnx.close()) as Engine,
    config,
    models: [],
    engineFiles,
    sealedModel: undefined,
    onnx: { engine: onnx, measured },
  };
}

/** Simple token bucket: credential activation costs a TPM operation per call. */
function rateLimiter(perSecond: number, burst: number): () => boolean {
  let tokens = burst;
  let last = Date.now();
  return () => {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

function sendRaw(sink: ResponseSink, r: { status: number; headers: Readonly<Record<string, string>>; body: string }) {
  sink.head(r.status, { ...r.headers, "content-length": Buffer.byteLength(r.body) });
  sink.end(r.body);
}

/** GET /v1/attestation?nonce=HEX and POST /v1/attestation/activate (docs/ATTESTATION.md). */
function attestationRoutes(attester: Attester): Route[] {
  const activationAllowed = rateLimiter(10, 20);
  return [
    {
      method: "GET",
      path: "/v1/attestation",
      limited: true,
      public: true,
      handler: async (_req, res, ctx) => {
        sendRaw(res, await handleAttestationRequest(attester, new URLSearchParams(ctx.query)));
      },
    },
    {
      method: "POST",
      path: "/v1/attestation/activate",
      limited: true,
      public: true,
      handler: async (_req, res, ctx) => {
        if (!activationAllowed())
          throw new HttpError("too-many-requests", "too many credential activations", { retryAfterSeconds: 1 });
        sendRaw(res, await handleActivateRequest(attester, await ctx.readJson()));
      },
    },
  ];
}
