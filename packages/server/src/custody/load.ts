/**
 * Step 4b of the measured launch for a sealed model (serve.ts): the release,
 * the unseal into RAM, the engine on the plaintext, and the checks that the
 * engine runs what was measured — the native files pinned before the launch,
 * the context and threads the configuration records.
 */
import { obtainModelKey } from "@veritee/custody";
import type { Attester } from "../attestation/attester.js";
import { createEmbeddedEngine } from "../engine/embedded.js";
import { engineFileMappings } from "../engine/native.js";
import type { Engine } from "../engine/types.js";
import type { Logger } from "../http/logger.js";
import type { EmbeddedEngineConfig } from "../launch/config.js";
import { assertEngineMappingsPinned, closeEngineFiles, type PinnedEngineFile } from "../launch/engine-files.js";
import { LaunchError } from "../launch/errors.js";
import type { ServerKeys } from "../launch/keys.js";
import type { ProgressCallback } from "../model/resolve.js";
import type { SealedModelOptions } from "../serve.js";
import { type OpenedSealedModel, releaseAttesterFor, unsealToMemory } from "./sealed-model.js";

/** What the launch lends step 4b. */
export interface SealedLoadContext {
  readonly attester: Attester;
  readonly keys: ServerKeys;
  readonly engineFiles: readonly PinnedEngineFile[];
  /** The server's cleanups: the engine and the RAM file are added to them. */
  readonly cleanups: (() => Promise<void>)[];
  readonly logger?: Logger | undefined;
  readonly onProgress?: ((what: string) => ProgressCallback) | undefined;
}

/**
 * Release, unseal, load.
 *
 * @throws CustodyError (refused, revoked, unreachable, not-enough-shares, …),
 *   SealedModelError (the released key does not open the file), LaunchError
 *   `file-replaced` / `bad-config`.
 */
export async function loadSealedModel(
  sealed: OpenedSealedModel,
  options: { readonly sealed?: SealedModelOptions; readonly parallelSequences?: number },
  measured: EmbeddedEngineConfig,
  context: SealedLoadContext,
): Promise<{ engine: Engine; custody: { readonly deployment: string; drop(): Promise<void> } }> {
  const custody = options.sealed!;
  const { header } = sealed;
  const key = await obtainModelKey({
    custodians: custody.custodians,
    deployment: custody.deployment,
    threshold: header.threshold,
    modelId: header.modelId,
    attester: releaseAttesterFor(context.attester, context.keys),
    ...(custody.fetch ? { fetch: custody.fetch } : {}),
    ...(custody.retry ? { retry: custody.retry } : {}),
    onRetry: (event) => context.logger?.log("warn", "custody-release-retry", { ...event }),
  });
  const progress = context.onProgress?.("unsealing the model");
  const memory = await unsealToMemory(sealed, key, {
    ...(custody.memoryDir ? { dir: custody.memoryDir } : {}),
    ...(progress ? { onProgress: (p) => progress(p.done, p.total) } : {}),
  });
  context.cleanups.push(() => memory.close());
  await sealed.pinned.close();
  context.logger?.log("info", "custody-model-released", { deployment: custody.deployment, model: header.modelId });

  const engine = await createEmbeddedEngine({
    modelPath: memory.path,
    modelId: header.modelId,
    contextSize: measured.contextSize,
    threads: measured.threads,
    ...(options.parallelSequences ? { parallelSequences: options.parallelSequences } : {}),
  });
  let dropped: Promise<void> | undefined;
  const drop = () => {
    dropped ??= (async () => {
      await engine.close();
      await memory.close();
    })();
    return dropped;
  };
  context.cleanups.push(drop);
  assertEngineMappingsPinned(await engineFileMappings(), context.engineFiles);
  await closeEngineFiles(context.engineFiles);
  if (engine.settings.contextSize !== measured.contextSize || engine.settings.threads !== measured.threads) {
    throw new LaunchError(
      "bad-config",
      `the engine runs with context ${engine.settings.contextSize} and ${engine.settings.threads} threads; the launch measured ${measured.contextSize} and ${measured.threads}`,
    );
  }
  return { engine: engine as Engine, custody: { deployment: custody.deployment, drop } };
}
