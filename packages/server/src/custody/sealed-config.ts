/**
 * The measured engine configuration of a sealed model, shared by `veritee
 * serve --sealed-model` and `veritee measure --sealed-model` so that an
 * owner computes a deployment's policy from the sealed file alone, without
 * the borrower (launch/server-config.ts explains why one builder serves both).
 *
 * The model cannot be read before its key is released, and the key is
 * released only to a measured launch: so nothing here comes from the
 * plaintext. The context size is the one asked for, or
 * {@link SEALED_CONTEXT_SIZE}; the server checks after loading that the
 * engine runs with exactly the measured values.
 */
import path from "node:path";
import type { SealedHeader } from "@veritee/custody";
import { defaultThreads } from "../engine/embedded.js";
import type { EmbeddedEngineConfig } from "../launch/config.js";

/** The context of a sealed model when none is asked for (the embedded engine's cap for plaintext models). */
export const SEALED_CONTEXT_SIZE = 2048;

/** What {@link sealedEngineConfig} takes. */
export interface SealedEngineInput {
  readonly sealedPath: string;
  readonly header: SealedHeader;
  readonly sealedSha256: string;
  readonly deployment: string;
  readonly custodians: readonly string[];
  readonly contextSize?: number | undefined;
  readonly threads?: number | undefined;
}

/** The embedded engine's measured configuration for a sealed model. */
export function sealedEngineConfig(input: SealedEngineInput): EmbeddedEngineConfig {
  return {
    kind: "embedded",
    modelId: input.header.modelId,
    modelPath: path.basename(input.sealedPath),
    modelSha256: input.header.plaintextSha256,
    contextSize: input.contextSize ?? SEALED_CONTEXT_SIZE,
    threads: input.threads ?? defaultThreads(),
    gpu: "none",
    sealed: {
      sha256: input.sealedSha256,
      deployment: input.deployment,
      custodians: [...input.custodians],
      threshold: input.header.threshold,
    },
  };
}
