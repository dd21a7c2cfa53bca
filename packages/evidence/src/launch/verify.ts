/**
 * Verification of a launch log against the value a quote attested for the
 * application PCR. A log that decoded is only evidence once (1) it is sealed:
 * the separator is its last event and appears exactly once, so nothing was
 * measured after the launch finished; (2) it is complete: exactly one event
 * each for the code bundle, configuration, runtime and key set; and (3)
 * replaying it from zeros gives exactly the quoted PCR value, so these
 * events, in this order, are everything that PCR has recorded since the
 * platform's reset.
 */
import { bytesEqual, fromHex } from "@veritee/core";
import { VerificationError } from "../errors.js";
import {
  DEFAULT_LAUNCH_PCR,
  type LaunchEvent,
  type LaunchEventData,
  type LaunchEventType,
  type LaunchLog,
  replayLaunchLog,
} from "./log.js";

/** Event types a launch log must hold exactly once. */
const REQUIRED_ONCE: readonly LaunchEventType[] = ["code-bundle", "configuration", "runtime", "key-set"];

type DataOf<T extends LaunchEventType> = LaunchEventData[T];

/** What a structurally sound log says, before any PCR is compared. */
export interface LaunchLogSummary {
  readonly codeBundle: DataOf<"code-bundle">;
  readonly configuration: DataOf<"configuration">;
  readonly runtime: DataOf<"runtime">;
  readonly engineBinaries: readonly DataOf<"engine-binary">[];
  readonly models: readonly DataOf<"model">[];
  /** The key-set digest the log records (32 bytes). */
  readonly keySetDigest: Uint8Array;
}

/**
 * Check that a log is sealed and complete (steps 1 and 2 of the module
 * comment) and summarize it. Says nothing about PCRs.
 *
 * @throws VerificationError `launch-log-unsealed` when the separator is
 *   missing, repeated or not last; `launch-log-incomplete` when a required
 *   event is missing or repeated.
 */
export function checkLaunchLogStructure(log: LaunchLog): LaunchLogSummary {
  const separators = log.events.filter((e) => e.type === "separator").length;
  if (separators === 0) throw new VerificationError("launch-log-unsealed", "the launch log has no separator");
  if (separators > 1) throw new VerificationError("launch-log-unsealed", "the launch log has more than one separator");
  if (log.events[log.events.length - 1]!.type !== "separator") {
    throw new VerificationError("launch-log-unsealed", "events follow the launch log's separator");
  }
  for (const type of REQUIRED_ONCE) {
    const n = log.events.filter((e) => e.type === type).length;
    if (n !== 1) {
      throw new VerificationError(
        "launch-log-incomplete",
        n === 0 ? `the launch log has no ${type} event` : `the launch log has ${n} ${type} events`,
      );
    }
  }
  const one = <T extends LaunchEventType>(type: T): DataOf<T> =>
    (log.events.find((e) => e.type === type) as Extract<LaunchEvent, { type: T }>).data as DataOf<T>;
  const all = <T extends LaunchEventType>(type: T): readonly DataOf<T>[] =>
    Object.freeze(
      log.events.filter((e): e is Extract<LaunchEvent, { type: T }> => e.type === type).map((e) => e.data as DataOf<T>),
    );
  return Object.freeze({
    codeBundle: one("code-bundle"),
    configuration: one("configuration"),
    runtime: one("runtime"),
    engineBinaries: all("engine-binary"),
    models: all("model"),
    keySetDigest: fromHex(one("key-set").digest),
  });
}

/** Options of {@link verifyLaunchLog}. */
export interface VerifyLaunchLogOptions {
  /** The application PCR the verifier expects the log to describe (default {@link DEFAULT_LAUNCH_PCR}). */
  readonly pcr?: number;
}

const TOKEN: unique symbol = Symbol("VerifiedLaunchLog");

/**
 * A launch log that is sealed, complete, and replays to the quoted value of
 * its PCR. Only {@link verifyLaunchLog} constructs one.
 *
 * What it vouches for: given that the quote was verified, the application PCR
 * recorded exactly these measurements, in this order, since the platform's
 * reset, and nothing after the separator. Whether the measured digests are
 * the published release's is for policy; whether only Veritee's server could
 * have extended that PCR rests on the boot measurements (docs/TRUST_MODEL.md).
 */
export class VerifiedLaunchLog {
  readonly #brand = true;
  /** The decoded log. */
  readonly log: LaunchLog;
  /** The application PCR. */
  readonly pcr: number;
  /** The quoted (and replayed) SHA-256 value of that PCR. */
  readonly pcrValue: Uint8Array;
  readonly codeBundle: DataOf<"code-bundle">;
  readonly configuration: DataOf<"configuration">;
  readonly runtime: DataOf<"runtime">;
  readonly engineBinaries: readonly DataOf<"engine-binary">[];
  readonly models: readonly DataOf<"model">[];
  /** The key-set digest the launch measured (32 bytes). */
  readonly keySetDigest: Uint8Array;

  /** Not for callers: use {@link verifyLaunchLog}. */
  constructor(token: typeof TOKEN, log: LaunchLog, pcrValue: Uint8Array, summary: LaunchLogSummary) {
    if (token !== TOKEN) throw new TypeError("VerifiedLaunchLog is made by verifyLaunchLog");
    this.log = log;
    this.pcr = log.pcr;
    this.pcrValue = pcrValue;
    this.codeBundle = summary.codeBundle;
    this.configuration = summary.configuration;
    this.runtime = summary.runtime;
    this.engineBinaries = summary.engineBinaries;
    this.models = summary.models;
    this.keySetDigest = summary.keySetDigest;
    Object.freeze(this);
  }

  /** True only for values made by {@link verifyLaunchLog}. */
  static is(value: unknown): value is VerifiedLaunchLog {
    return typeof value === "object" && value !== null && #brand in value;
  }
}

/**
 * Verify a decoded launch log against the SHA-256 value a verified quote
 * attested for the application PCR. Steps, each with its error:
 *
 * 1. the log describes the expected PCR (`launch-log-mismatch`);
 * 2. the separator is present exactly once and last (`launch-log-unsealed`);
 * 3. code-bundle, configuration, runtime and key-set events appear exactly
 *    once each (`launch-log-incomplete`);
 * 4. the replay from zeros equals `quotedPcrValue` (`launch-log-mismatch`):
 *    anything else that extended the PCR, before or after the launch, makes
 *    this fail, so the check fails closed.
 *
 * @example
 * const launch = verifyLaunchLog(decodeLaunchLog(bytes), quote.pcrValues!.get("sha256")!.get(15)!);
 * launch.codeBundle.digest; // compare with the release's reference value
 */
export function verifyLaunchLog(
  log: LaunchLog,
  quotedPcrValue: Uint8Array,
  options: VerifyLaunchLogOptions = {},
): VerifiedLaunchLog {
  const pcr = options.pcr ?? DEFAULT_LAUNCH_PCR;
  if (log.pcr !== pcr) {
    throw new VerificationError("launch-log-mismatch", `the launch log measures PCR ${log.pcr}, not PCR ${pcr}`);
  }
  const summary = checkLaunchLogStructure(log);
  if (quotedPcrValue.length !== 32 || !bytesEqual(replayLaunchLog(log), quotedPcrValue)) {
    throw new VerificationError("launch-log-mismatch", `the launch log does not replay to the quoted PCR ${pcr}`);
  }
  return new VerifiedLaunchLog(TOKEN, log, quotedPcrValue.slice(), summary);
}
