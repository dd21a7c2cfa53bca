/**
 * Real attested servers for client tests: `startVeriteeServer` with a fresh
 * development TPM, the embedded model, a plain HTTP port and an attested TLS
 * port (both chosen by the OS), and a silent logger.
 */
import { type RunningVeriteeServer, type ServeOptions, startVeriteeServer } from "@veritee/server";
import { sharedPath } from "@veritee/testkit";
import { REPO_ROOT } from "./paths.js";

/** Start a development server: ~3 s (swtpm provisioning, model load, measured launch). `extra` adds options. */
export function startDevServer(extra: Partial<ServeOptions> = {}): Promise<RunningVeriteeServer> {
  return startVeriteeServer({
    // The test runner's own flags and variables are not the server's: record a clean launch.
    launchEnvironment: { execArgv: [], env: {} },
    port: 0,
    tls: { port: 0 },
    tpm: { kind: "dev" },
    codeRoot: REPO_ROOT,
    engine: {
      kind: "embedded",
      model: sharedPath("models", "stories260K.gguf"),
      threads: 1,
      parallelSequences: 2,
    },
    logger: { log: () => undefined },
    ...extra,
  });
}

/** A unique string to plant in a prompt: it must never appear on the attacker's side. */
export function canary(): string {
  return `CANARY-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
}
