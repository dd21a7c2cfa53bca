/**
 * Step 4b of the measured launch for a sealed model (serve.ts): the release,
 * the unseal into RAM, the engine on the plaintext, and the checks that the
 * engine runs what was measured — the native files pinned before the launch,
 * the context and threads the configuration records. Then the lease
 * (custody/governor.ts): the server serves only while it holds one, and each
 * time the lease ends and comes back the same steps run again — a new
 * release to this same attested launch, a new unseal from the same pinned
 * file, a new engine, checked the same way.
 */
import { type LeaseGrant, obtainModelRelease } from "@veritee/custody";
import type { Attester } from "../attestation/attester.js";
import { createEmbeddedEngine } from "../engine/embedded.js";
import { engineFileMappings } from "../engine/native.js";
import type { Engine } from "../engine/types.js";
import type { Logger } from "../http/logger.js";
import type { EmbeddedEngineConfig } from "../launch/config.js";
import { assertEngineMappingsPinned, closeEngineFiles, type PinnedEngineFile } from "../launch/engine-files.js";
import { LaunchError } from "../launch/errors.js";
import type { ServerKeys } from "../launch/keys.js";
import { type DeviceInode, identityOf, readProcMaps, sameFile } from "../launch/proc-maps.js";
import type { ProgressCallback } from "../model/resolve.js";
import type { SealedModelOptions } from "../serve.js";
import { Governor } from "./governor.js";
import type { MemoryFile } from "./memory-file.js";
import { Meter } from "./meter.js";
import { type OpenedSealedModel, releaseAttesterFor, unsealToMemory } from "./sealed-model.js";
import { SwitchableEngine } from "./switchable-engine.js";

/** What the launch lends step 4b. */
export interface SealedLoadContext {
  readonly attester: Attester;
  readonly keys: ServerKeys;
  readonly engineFiles: readonly PinnedEngineFile[];
  /** Sign with the attested TLS key (lease renewals). */
  readonly sign: (data: Uint8Array) => Promise<Uint8Array>;
  /** The server's cleanups: the engine, the RAM file and the lease keeper are added to them. */
  readonly cleanups: (() => Promise<void>)[];
  readonly logger?: Logger | undefined;
  readonly onProgress?: ((what: string) => ProgressCallback) | undefined;
  /** What to do when the model cannot be unloaded at a lease's end (default: log and exit the process). */
  readonly onFatal?: ((error: unknown) => void) | undefined;
}

/** A sealed model's custody in the running server. */
export interface SealedCustody {
  readonly deployment: string;
  /** Metering and quotas (the HTTP handler's governance). */
  readonly meter: Meter;
  readonly governor: Governor;
  /** End the engine and free the plaintext, as the end of a lease does (the server then answers 503). */
  drop(): Promise<void>;
}

interface Loaded {
  readonly engine: Engine;
  readonly memory: MemoryFile;
  /** The RAM file's device and inode: after the unload, no mapping of it may remain. */
  readonly identity: DeviceInode;
  readonly grant: LeaseGrant;
}

/**
 * End the engine, close the RAM file, and check in /proc/self/maps that
 * nothing maps the plaintext any more — the unload is verified, not trusted
 * to the engine's own free().
 *
 * @throws LaunchError `unload-failed` when a mapping of the RAM file remains.
 */
async function unload(loaded: Loaded): Promise<void> {
  await loaded.engine.close();
  await loaded.memory.close();
  if ((await readProcMaps()).some((m) => sameFile(m, loaded.identity))) {
    throw new LaunchError("unload-failed", "the model's plaintext is still mapped after its engine ended");
  }
}

/**
 * Release, unseal, load, and take the first lease.
 *
 * @throws CustodyError (refused, revoked, unreachable, not-enough-shares, lease-lost, …),
 *   SealedModelError (the released key does not open the file), LaunchError
 *   `file-replaced` / `bad-config`.
 */
export async function loadSealedModel(
  sealed: OpenedSealedModel,
  options: { readonly sealed?: SealedModelOptions; readonly parallelSequences?: number },
  measured: EmbeddedEngineConfig,
  context: SealedLoadContext,
): Promise<{ engine: Engine; custody: SealedCustody }> {
  const custody = options.sealed!;
  const { header } = sealed;
  const acquire = async (): Promise<Loaded> => {
    const release = await obtainModelRelease({
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
    // The key is zeroed by unsealToMemory whatever happens.
    const memory = await unsealToMemory(sealed, release.key, {
      ...(custody.memoryDir ? { dir: custody.memoryDir } : {}),
      ...(progress ? { onProgress: (p) => progress(p.done, p.total) } : {}),
    });
    try {
      context.logger?.log("info", "custody-model-released", { deployment: custody.deployment, model: header.modelId });
      const engine = await createEmbeddedEngine({
        modelPath: memory.path,
        modelId: header.modelId,
        contextSize: measured.contextSize,
        threads: measured.threads,
        ...(options.parallelSequences ? { parallelSequences: options.parallelSequences } : {}),
      });
      try {
        // The same check on every load: only the native files measured before the launch are mapped.
        assertEngineMappingsPinned(await engineFileMappings(), context.engineFiles);
        if (engine.settings.contextSize !== measured.contextSize || engine.settings.threads !== measured.threads) {
          throw new LaunchError(
            "bad-config",
            `the engine runs with context ${engine.settings.contextSize} and ${engine.settings.threads} threads; the launch measured ${measured.contextSize} and ${measured.threads}`,
          );
        }
      } catch (error) {
        await engine.close();
        throw error;
      }
      // The lease comes from the first custodian that released (docs/CUSTODY.md "Governance").
      return { engine: engine as Engine, memory, identity: await identityOf(memory.handle), grant: release.grants[0]! };
    } catch (error) {
      await memory.close();
      throw error;
    }
  };

  let current: Loaded | undefined = await acquire();
  // Pinned files have done their work; their identities stay for the checks of later loads.
  await closeEngineFiles(context.engineFiles);
  const engine = new SwitchableEngine(current.engine);
  const drop = async () => {
    engine.detach();
    const loaded = current;
    current = undefined;
    if (loaded) await unload(loaded);
  };
  context.cleanups.push(drop);
  const meter: Meter = new Meter(custody.deployment, {
    topUp: () => governor.topUp(),
    renewSoon: () => governor.renewSoon(),
  });
  const governor: Governor = new Governor({
    deployment: custody.deployment,
    meter,
    sign: context.sign,
    drop,
    reacquire: async () => {
      const next = await acquire();
      current = next;
      engine.attach(next.engine);
      return next.grant;
    },
    ...(custody.fetch ? { fetch: custody.fetch } : {}),
    logger: context.logger,
    ...(context.onFatal ? { onFatal: context.onFatal } : {}),
  });
  // Registered after `drop`, so it runs before it at shutdown: the last usage is reported, then the engine ends.
  context.cleanups.push(() => governor.close());
  await governor.start(current.grant);
  return { engine, custody: { deployment: custody.deployment, meter, governor, drop } };
}
