import path from "node:path";
import { parseTransportSpec, swtpmStatus, TpmClient, type TransportSpec } from "@veritee/tpm";
import { CliError } from "./cli-error.js";

/** Default state directory of the development TPM. */
export const DEFAULT_SIM_DIR = path.join(".veritee", "swtpm");

/**
 * Where to find the TPM: an explicit `--tpm` address (`swtpm:host=H,port=P`,
 * `unix:PATH`, `device:/dev/tpmrm0`), or else the development TPM recorded
 * in `--state-dir` by `veritee tpm sim start`.
 */
export async function resolveTpm(opts: { tpm?: string; stateDir: string }): Promise<TransportSpec> {
  if (opts.tpm !== undefined) return parseTransportSpec(opts.tpm);
  const status = await swtpmStatus(path.resolve(opts.stateDir));
  if (!status.running || status.port === undefined) {
    throw new CliError(
      "not-running",
      `no development TPM is running in ${opts.stateDir}: run \`veritee tpm sim start\` or pass --tpm`,
    );
  }
  return { kind: "tcp", host: status.host ?? "127.0.0.1", port: status.port };
}

/** Connect and make sure the TPM has been started up (TPM2_Startup(CLEAR) once after power-on). */
export async function connectTpm(spec: TransportSpec): Promise<TpmClient> {
  const tpm = await TpmClient.connect(spec);
  try {
    await tpm.startup("clear");
    return tpm;
  } catch (error) {
    await tpm.close();
    throw error;
  }
}
