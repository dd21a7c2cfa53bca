/**
 * Verification of an event log against PCR values a TPM attested (in a quote
 * whose signature and PCR digest were already checked): the log is only
 * evidence once replaying it yields exactly the attested values.
 */
import { bytesEqual, type HashAlg } from "@veritee/core";
import { VerificationError } from "../errors.js";
import type { EventLog, TcgEvent } from "./decode.js";
import { EV } from "./event-types.js";
import { pcrResetValue, type ReplayedPcrs, replayEventLog } from "./replay.js";

/** A {@link VerificationError} about one bank (and PCR) of an event-log check. */
export class EventLogVerificationError extends VerificationError {
  /** The bank that failed. */
  readonly bank: HashAlg;
  /** The PCR that failed, when the failure is about one PCR. */
  readonly pcrIndex: number | undefined;

  constructor(
    code: "eventlog-replay-mismatch" | "eventlog-bank-missing" | "pcr-values-missing",
    message: string,
    bank: HashAlg,
    pcrIndex?: number,
  ) {
    super(code, message);
    this.bank = bank;
    this.pcrIndex = pcrIndex;
  }
}

/** Options of {@link verifyEventLogAgainstPcrs}. */
export interface VerifyEventLogOptions {
  /** The PCRs to check in every bank. Default: each bank's quoted PCRs. */
  readonly pcrs?: readonly number[];
  /** The banks to check, each of which the log must carry. Default: the quoted banks. */
  readonly banks?: readonly HashAlg[];
}

const TOKEN: unique symbol = Symbol("VerifiedEventLog");

/**
 * An event log whose replay matched attested PCR values. Only
 * {@link verifyEventLogAgainstPcrs} constructs one.
 *
 * What it vouches for: for each bank and PCR in `values`, the sequence of that
 * bank's digests the log records for the PCR. It does not vouch for event
 * data (bind it by re-hashing it against an attested digest), for digests of
 * other banks, or for the interleaving of events across different PCRs, which
 * PCR values cannot show.
 */
export class VerifiedEventLog {
  /** The log, when the log (not only its replay) was verified. */
  readonly log: EventLog | undefined;
  /** The checked PCR values by bank, then PCR index (ascending): equal to the quoted ones. */
  readonly values: ReplayedPcrs;
  /**
   * The measuring events (EV_NO_ACTION excluded) of PCRs checked in at least
   * one bank, in log order; empty when only a replay was verified.
   */
  readonly attestedEvents: readonly TcgEvent[];

  /** @internal */
  constructor(token: symbol, log: EventLog | undefined, values: ReplayedPcrs, attestedEvents: readonly TcgEvent[]) {
    if (token !== TOKEN) throw new TypeError("VerifiedEventLog is constructed by verifyEventLogAgainstPcrs only");
    this.log = log;
    this.values = values;
    this.attestedEvents = attestedEvents;
    Object.freeze(this);
  }
}

/**
 * Check that replaying an event log gives the attested PCR values.
 *
 * `input` is a decoded log, which is replayed here, or the output of
 * `replayEventLog`. For each bank (`options.banks`, default the quoted banks,
 * in that order) and each PCR (`options.pcrs`, default that bank's quoted
 * PCRs, ascending):
 * - a PCR the log touches must equal its replayed value;
 * - a PCR the log never touches must still hold its reset value (zeros;
 *   all ones for the D-RTM PCRs 17–22, see `pcrResetValue`), since any
 *   extend would have been logged;
 * - a PCR the log touches but that is not checked is ignored: nothing
 *   attests it, and {@link VerifiedEventLog.attestedEvents} leaves its events out.
 * Checking nothing is an error, never a pass.
 *
 * @throws EventLogVerificationError (a VerificationError) with code
 * `eventlog-bank-missing` when the log has no digests for a checked bank,
 * `pcr-values-missing` when a checked bank or PCR was not quoted (or nothing
 * is left to check), and `eventlog-replay-mismatch` for the first PCR that
 * differs (banks in order, PCRs ascending), named in `bank` and `pcrIndex`.
 * @example
 * const verified = verifyEventLogAgainstPcrs(decodeEventLog(bytes), quote.pcrValues, { banks: ["sha256"] });
 * for (const e of verified.attestedEvents) evaluate(e);
 */
export function verifyEventLogAgainstPcrs(
  input: EventLog | ReplayedPcrs,
  quotedPcrValues: ReadonlyMap<HashAlg, ReadonlyMap<number, Uint8Array>>,
  options: VerifyEventLogOptions = {},
): VerifiedEventLog {
  const banks = [...new Set(options.banks ?? quotedPcrValues.keys())];
  if (banks.length === 0) throw new VerificationError("pcr-values-missing", "no PCR bank to check");
  const log = isEventLog(input) ? input : undefined;
  const replayed = log !== undefined ? replayEventLog(log, banks) : (input as ReplayedPcrs);

  for (const bank of banks) {
    if (!replayed.has(bank)) {
      throw new EventLogVerificationError("eventlog-bank-missing", `the event log has no ${bank} bank`, bank);
    }
  }
  const values = new Map<HashAlg, ReadonlyMap<number, Uint8Array>>();
  const checked = new Set<number>();
  for (const bank of banks) {
    const quoted = quotedPcrValues.get(bank);
    if (quoted === undefined) {
      throw new EventLogVerificationError("pcr-values-missing", `no quoted ${bank} PCR values`, bank);
    }
    const pcrs = [...new Set(options.pcrs ?? quoted.keys())].sort((a, b) => a - b);
    if (pcrs.length === 0) {
      throw new EventLogVerificationError("pcr-values-missing", `no ${bank} PCR to check`, bank);
    }
    const replayedBank = replayed.get(bank)!;
    const bankValues = new Map<number, Uint8Array>();
    for (const pcr of pcrs) {
      const value = quoted.get(pcr);
      if (value === undefined) {
        throw new EventLogVerificationError(
          "pcr-values-missing",
          `PCR ${pcr} of the ${bank} bank was not quoted`,
          bank,
          pcr,
        );
      }
      const expected = replayedBank.get(pcr) ?? pcrResetValue(bank, pcr);
      if (!bytesEqual(value, expected)) {
        const what = replayedBank.has(pcr) ? "the event log's replay" : "its reset value (the log never extends it)";
        throw new EventLogVerificationError(
          "eventlog-replay-mismatch",
          `PCR ${pcr} of the ${bank} bank differs from ${what}`,
          bank,
          pcr,
        );
      }
      bankValues.set(pcr, value.slice());
      checked.add(pcr);
    }
    values.set(bank, bankValues);
  }
  const attestedEvents =
    log === undefined ? [] : log.events.filter((e) => e.eventType !== EV.NO_ACTION && checked.has(e.pcrIndex));
  return new VerifiedEventLog(TOKEN, log, values, Object.freeze(attestedEvents));
}

function isEventLog(input: EventLog | ReplayedPcrs): input is EventLog {
  return !(input instanceof Map) && "events" in input;
}
