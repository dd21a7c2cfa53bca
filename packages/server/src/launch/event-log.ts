/**
 * The attester side of the launch log: build it from the measurements and
 * the key-set digest, and extend its events into the application PCR. The
 * log's schema, encoder and verifier live in `@veritee/evidence` so that
 * both sides share one definition.
 */
import { bytesEqual, toHex } from "@veritee/core";
import {
  createLaunchEvent,
  decodeLaunchLog,
  LAUNCH_LOG_VERSION,
  LAUNCH_SEPARATOR,
  type LaunchEvent,
  type LaunchLog,
  launchLogToJson,
  replayLaunchLog,
} from "@veritee/evidence";
import type { TpmClient } from "@veritee/tpm";
import { LaunchError } from "./errors.js";
import type { LaunchMeasurements } from "./measure.js";

/**
 * The launch log of these measurements and this key set, for `pcr`. Events,
 * in order: code-bundle, configuration, runtime, one engine-binary per native
 * file, one model per model file, key-set, separator. The separator is last
 * and nothing can be appended: the log is a frozen value, and a verifier
 * rejects any event after the separator.
 *
 * @throws MalformedError when a measurement does not fit the log's schema
 *   (e.g. a model id with a control character).
 */
export function buildLaunchLog(measurements: LaunchMeasurements, keySetDigest: Uint8Array, pcr: number): LaunchLog {
  const m = measurements;
  const events: LaunchEvent[] = [
    createLaunchEvent(pcr, "code-bundle", { digest: m.codeBundle.digest, files: m.codeBundle.files }),
    createLaunchEvent(pcr, "configuration", { digest: m.configuration.digest, config: m.configuration.config }),
    createLaunchEvent(pcr, "runtime", {
      name: m.runtime.name,
      version: m.runtime.version,
      digest: m.runtime.digest,
      size: m.runtime.size,
    }),
    ...m.engineBinaries.map((b) =>
      createLaunchEvent(pcr, "engine-binary", { name: b.name, digest: b.digest, size: b.size }),
    ),
    ...m.models.map((x) => createLaunchEvent(pcr, "model", { id: x.id, digest: x.digest, size: x.size })),
    createLaunchEvent(pcr, "key-set", { digest: toHex(keySetDigest) }),
    createLaunchEvent(pcr, "separator", { separator: LAUNCH_SEPARATOR }),
  ];
  // Decoding our own log with the verifier's strict decoder proves a verifier can read it.
  return decodeLaunchLog(launchLogToJson({ version: LAUNCH_LOG_VERSION, hashAlg: "sha256", pcr, events }));
}

/**
 * Extend every event of `log`, in order, into its PCR's SHA-256 bank, then
 * read the PCR back: it must equal the log's replay from zeros.
 *
 * @throws LaunchError `tpm-failed` when an extend or the read fails,
 *   `pcr-mismatch` when the PCR holds anything else (another process extended it).
 */
export async function extendLaunchLog(tpm: TpmClient, log: LaunchLog): Promise<Uint8Array> {
  try {
    for (const event of log.events) await tpm.pcrExtend(event.pcr, { sha256: event.digest });
  } catch (cause) {
    throw new LaunchError("tpm-failed", `extending PCR ${log.pcr} failed`, { cause });
  }
  const value = await readAppPcr(tpm, log.pcr);
  if (!bytesEqual(value, replayLaunchLog(log))) {
    throw new LaunchError("pcr-mismatch", `PCR ${log.pcr} does not hold the replay of the launch log`);
  }
  return value;
}

/** The SHA-256 value of one PCR. */
export async function readAppPcr(tpm: TpmClient, pcr: number): Promise<Uint8Array> {
  try {
    const values = await tpm.pcrRead({ sha256: [pcr] });
    const value = values.get("sha256")?.get(pcr);
    if (value === undefined) throw new LaunchError("tpm-failed", `the TPM returned no SHA-256 value for PCR ${pcr}`);
    return value;
  } catch (cause) {
    if (cause instanceof LaunchError) throw cause;
    throw new LaunchError("tpm-failed", `reading PCR ${pcr} failed`, { cause });
  }
}
