/** A server configuration for tests, with a canary API key that must never be measured. */
import { NO_LOADER_ENVIRONMENT, type ServerConfig, type UpstreamEngineConfig } from "../../src/index.js";

export const UPSTREAM: UpstreamEngineConfig = {
  kind: "upstream",
  modelId: "llama-3-8b",
  modelSha256: "a".repeat(64),
  url: "http://127.0.0.1:8000/v1",
  apiKey: "sk-canary-3f9a1c7e-never-measured",
};

export const SAMPLE_CONFIG: ServerConfig = {
  host: "127.0.0.1",
  port: 8443,
  engine: UPSTREAM,
  limits: {
    maxRequestBytes: 1 << 20,
    maxConcurrentRequests: 4,
    maxQueuedRequests: 16,
    requestTimeoutMs: 60_000,
    maxTokens: 2048,
  },
  tpm: { kind: "device", path: "/dev/tpmrm0" },
  appPcr: 15,
  launchEnvironment: NO_LOADER_ENVIRONMENT,
  access: { requireSealed: false, requireApiKey: false },
};
