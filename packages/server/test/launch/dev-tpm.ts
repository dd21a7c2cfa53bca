/**
 * A development TPM for tests: a swtpm provisioned with EK certificates from
 * its own local CA, in a temporary directory, on free 127.0.0.1 ports.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { provisionSwtpm, type SwtpmInstance, type SwtpmState, startSwtpm, TpmClient } from "@veritee/tpm";

/** A started swtpm with a connected client and its CA certificates. */
export interface DevTpm {
  readonly state: SwtpmState;
  sim: SwtpmInstance;
  tpm: TpmClient;
  /** The local CA's root certificate (DER): the trust anchor for this TPM's EK certificate. */
  readonly root: Uint8Array;
  /** The local CA's intermediate certificate (DER) that issued the EK certificate. */
  readonly intermediate: Uint8Array;
  /** Power-cycle: stop swtpm and start it again (PCRs reset, NV kept). */
  reboot(): Promise<void>;
  stop(): Promise<void>;
}

function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(body, "base64"));
}

async function connect(state: SwtpmState): Promise<{ sim: SwtpmInstance; tpm: TpmClient }> {
  const sim = await startSwtpm({ stateDir: state.stateDir });
  const tpm = await TpmClient.connect({ kind: "tcp", port: sim.port }, { timeoutMs: 30_000 });
  await tpm.startup("clear");
  return { sim, tpm };
}

/** Provision (in `dir/name`) and start a swtpm. */
export async function startDevTpm(dir: string, name: string): Promise<DevTpm> {
  const state = await provisionSwtpm({ stateDir: path.join(dir, name) });
  const root = pemToDer(await readFile(state.rootCaCertPath, "utf8"));
  const intermediate = pemToDer(await readFile(state.issuerCertPath, "utf8"));
  const started = await connect(state);
  const dev: DevTpm = {
    state,
    sim: started.sim,
    tpm: started.tpm,
    root,
    intermediate,
    async reboot() {
      await dev.tpm.close();
      await dev.sim.stop();
      const again = await connect(state);
      dev.sim = again.sim;
      dev.tpm = again.tpm;
    },
    async stop() {
      await dev.tpm.close().catch(() => undefined);
      await dev.sim.stop();
    },
  };
  return dev;
}
