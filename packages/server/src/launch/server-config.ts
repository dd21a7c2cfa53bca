/**
 * The one place a {@link ServerConfig} is assembled from what an operator
 * chose and the server's defaults. `startVeriteeServer` measures the result
 * at launch; `veritee measure` builds the same value on any machine to
 * recompute the configuration digest. Sharing the builder is what keeps the
 * two equal: a default changed here changes both, so a published policy never
 * drifts from what servers measure.
 */
import type { TransportSpec } from "@veritee/tpm";
import { DEFAULT_LIMITS, type HttpLimits } from "../http/handler.js";
import type { ServerAccess, ServerConfig, ServerLimits, TpmConfig } from "./config.js";
import { type LaunchEnvironment, NO_LOADER_ENVIRONMENT } from "./launch-environment.js";

/** The application PCR the measured launch extends (docs/TRUST_MODEL.md: 15 is the last PCR resettable by no one at locality 0 that boot firmware leaves alone). */
export const APPLICATION_PCR = 15;
/** Default listening address: loopback, never all interfaces unless asked. */
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8080;
/** Engine queue depth beyond the concurrent sequences (measured: it shapes the service's behaviour). */
const MAX_QUEUED_REQUESTS = 64;

/** Where the TPM is: the development swtpm or an address (`device:…`, `tcp:…`). */
export type TpmChoice = { readonly kind: "dev" } | { readonly kind: "address"; readonly spec: TransportSpec };

/** The measured TPM configuration for a choice; the development TPM's state directory is never measured (it is ephemeral). */
export function tpmConfigFor(choice: TpmChoice): TpmConfig {
  if (choice.kind === "dev") return { kind: "swtpm-dev", stateDir: "ephemeral" };
  const spec = choice.spec;
  if (spec.kind === "tcp") return { kind: "tcp", host: spec.host ?? "127.0.0.1", port: spec.port };
  return { kind: "device", path: spec.path ?? "/dev/tpmrm0" };
}

/** An ONNX server's request body limit when none is given: tensors are larger than chat requests. */
export const ONNX_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The HTTP limits a server of `engine` runs with: the ONNX engine takes 64 MiB bodies unless told otherwise. */
export function engineLimits(
  limits: HttpLimits | undefined,
  engine: ServerConfig["engine"]["kind"],
): HttpLimits | undefined {
  if (engine !== "onnx" || limits?.maxBodyBytes !== undefined) return limits;
  return { ...limits, maxBodyBytes: ONNX_MAX_BODY_BYTES };
}

/** The measured limits for the HTTP limits the server runs with (the HTTP layer's defaults where unset). */
export function measuredLimits(limits: HttpLimits | undefined): ServerLimits {
  return {
    maxRequestBytes: limits?.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
    maxConcurrentRequests: limits?.maxConcurrentRequests ?? DEFAULT_LIMITS.maxConcurrentRequests,
    maxQueuedRequests: MAX_QUEUED_REQUESTS,
    requestTimeoutMs: limits?.requestTimeoutMs ?? DEFAULT_LIMITS.requestTimeoutMs,
    maxTokens: 0,
  };
}

/** What the operator chose, as {@link serverConfig} takes it. */
export interface ServerConfigInput {
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly limits?: HttpLimits | undefined;
  readonly tpm: TpmChoice;
  readonly engine: ServerConfig["engine"];
  /** The start-up flags and loader environment the launch records (default: none, as a production launch). */
  readonly launchEnvironment?: LaunchEnvironment | undefined;
  /** The access rules (default: plaintext allowed, no API keys, as `veritee serve` without flags). */
  readonly access?: Partial<ServerAccess> | undefined;
}

/**
 * The server configuration, defaults applied, exactly as the launch measures it.
 *
 * @example
 * serverConfig({ tpm: { kind: "dev" }, engine: { kind: "embedded", modelId: "m", modelPath: "m.gguf",
 *   modelSha256: "…", contextSize: 512, threads: 1, gpu: "none" } });
 */
export function serverConfig(input: ServerConfigInput): ServerConfig {
  return {
    host: input.host ?? DEFAULT_HOST,
    port: input.port ?? DEFAULT_PORT,
    limits: measuredLimits(engineLimits(input.limits, input.engine.kind)),
    tpm: tpmConfigFor(input.tpm),
    appPcr: APPLICATION_PCR,
    engine: input.engine,
    launchEnvironment: input.launchEnvironment ?? NO_LOADER_ENVIRONMENT,
    access: {
      requireSealed: input.access?.requireSealed ?? false,
      requireApiKey: input.access?.requireApiKey ?? false,
    },
  };
}
