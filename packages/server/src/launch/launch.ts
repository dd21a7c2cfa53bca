/**
 * The measured launch: refuse a PCR that was already used, generate the
 * ephemeral keys, build the launch log, extend it into the application PCR
 * with the separator last, and check the result. If any step fails the
 * server must not start; the keys are dropped.
 */
import { DEFAULT_LAUNCH_PCR, LAUNCH_PCR_RANGE, type LaunchLog } from "@veritee/evidence";
import type { TpmClient } from "@veritee/tpm";
import { LaunchError } from "./errors.js";
import { buildLaunchLog, extendLaunchLog, readAppPcr } from "./event-log.js";
import { generateServerKeys, type ServerKeys } from "./keys.js";
import type { LaunchMeasurements } from "./measure.js";

/** Options of {@link runMeasuredLaunch}. */
export interface MeasuredLaunchOptions {
  readonly tpm: TpmClient;
  /** What was measured (see `measureLaunch`). */
  readonly measurements: LaunchMeasurements;
  /** The application PCR, 8–15 (default 15). */
  readonly appPcr?: number;
}

/** A completed launch. */
export interface MeasuredLaunch {
  /** The sealed launch log, as extended. */
  readonly launchLog: LaunchLog;
  /** The ephemeral keys whose key set the log records. */
  readonly keys: ServerKeys;
  /** The application PCR's SHA-256 value after the launch (the log's replay). */
  readonly pcrValue: Uint8Array;
}

function checkPcr(pcr: number): void {
  if (!Number.isInteger(pcr) || pcr < LAUNCH_PCR_RANGE.min || pcr > LAUNCH_PCR_RANGE.max) {
    throw new LaunchError("bad-config", "the application PCR must be a static OS PCR, 8..15");
  }
}

/**
 * Refuse to launch unless the application PCR still holds zeros. A PCR that
 * was extended since boot (an earlier launch, or anything else) makes every
 * later quote unverifiable; only a reboot (or, in development, a fresh
 * swtpm) resets it. Call this before the expensive measurements to fail fast;
 * {@link runMeasuredLaunch} checks again.
 *
 * @throws LaunchError `pcr-not-zero`, `tpm-failed`, `bad-config` (a PCR outside 8–15).
 */
export async function assertApplicationPcrFresh(tpm: TpmClient, pcr: number = DEFAULT_LAUNCH_PCR): Promise<void> {
  checkPcr(pcr);
  const value = await readAppPcr(tpm, pcr);
  if (value.some((b) => b !== 0)) {
    throw new LaunchError(
      "pcr-not-zero",
      `PCR ${pcr} was already extended since boot: a second launch in the same boot cannot be verified; ` +
        "reboot the machine (or, in development, start a fresh swtpm)",
    );
  }
}

/**
 * Run the measured launch:
 *
 * 1. the application PCR must be zero ({@link assertApplicationPcrFresh});
 * 2. generate the TLS and HPKE keys in memory;
 * 3. build the launch log: code bundle, configuration, runtime, engine
 *    binaries, models, key set, separator;
 * 4. extend each event into the PCR's SHA-256 bank, in order;
 * 5. read the PCR back and compare with the log's replay.
 *
 * A failure after step 4 began leaves the PCR partly extended: the launch
 * cannot be retried in this boot, by design.
 *
 * @throws LaunchError (`pcr-not-zero`, `pcr-mismatch`, `tpm-failed`, `bad-config`),
 *   or MalformedError for a measurement the log schema refuses; the keys are dropped.
 * @example
 * const measurements = await measureLaunch(inputs);
 * const { launchLog, keys } = await runMeasuredLaunch({ tpm, measurements });
 */
export async function runMeasuredLaunch(options: MeasuredLaunchOptions): Promise<MeasuredLaunch> {
  const pcr = options.appPcr ?? DEFAULT_LAUNCH_PCR;
  await assertApplicationPcrFresh(options.tpm, pcr);
  const keys = generateServerKeys();
  try {
    const launchLog = buildLaunchLog(options.measurements, keys.keySetDigest, pcr);
    const pcrValue = await extendLaunchLog(options.tpm, launchLog);
    return { launchLog, keys, pcrValue };
  } catch (error) {
    keys.dropKeys();
    throw error;
  }
}
