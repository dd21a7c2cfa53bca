/**
 * Verification of an event log against PCR values a TPM attested (in a quote
 * whose signature and PCR digest were already checked): the log is only
 * evidence once replaying it yields exactly the attested values.
 */
import { bytesEqual, type HashAlg } from "@veritee/core";
import { VerificationError } from "../errors.js";
import type { EventLog, TcgEvent } from "./decode.js";
import { checkEventData, type EventDataCheck, uefiVariableData } from "./event-data.js";
import { EV } from "./event-types.js";
import { pcrResetValue, type ReplayedPcrs, replayEventLog } from "./replay.js";
import { EventLogVerificationError } from "./verify-error.js";

export { EventLogVerificationError } from "./verify-error.js";

/** What every attested event carries, whatever its data check. */
interface AttestedEventHead {
  /** The record's position in the log (see `TcgEvent.index`). */
  readonly index: number;
  readonly pcrIndex: number;
  readonly eventType: number;
  readonly eventTypeName: string;
  /** The digests of the checked banks only: those the quote attests. */
  readonly digests: ReadonlyMap<HashAlg, Uint8Array>;
}

/**
 * A measuring event of an attested PCR, with its data split by what the
 * digests prove about it (`event-data.ts`): `data` exists only where the
 * digests are the hash of the whole data; everything else is
 * `unverifiedData`, so code that reads a field named `data` reads only
 * attested bytes.
 */
export type AttestedEvent =
  | (AttestedEventHead & {
      readonly dataCheck: "digest-matches";
      /** The event data, bound to the attested digests. */
      readonly data: Uint8Array;
    })
  | (AttestedEventHead & {
      readonly dataCheck: "variable-data-matches";
      /** The UEFI_VARIABLE_DATA's VariableData, bound to the attested digests. */
      readonly variableData: Uint8Array;
      /** The whole event data: its VariableName GUID and UnicodeName are not attested. */
      readonly unverifiedData: Uint8Array;
    })
  | (AttestedEventHead & {
      readonly dataCheck: "not-derivable";
      /** The event data: the digests are of something else (an image, a file), so it is not attested. */
      readonly unverifiedData: Uint8Array;
    });

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
 * bank's digests the log records for the PCR, and the data of each attested
 * event whose `dataCheck` is `"digest-matches"` (or, for
 * `"variable-data-matches"`, its VariableData). It does not vouch for other
 * event data (`unverifiedData`, listed in `unverifiedEvents`), for digests of
 * other banks, for EV_NO_ACTION records, or for the interleaving of events
 * across different PCRs, which PCR values cannot show. `log` is the decoded
 * input as it came, unverified parts included: read events from
 * `attestedEvents`.
 */
export class VerifiedEventLog {
  /** The decoded log as given (not itself vouched for: see `attestedEvents`), when a log and not a replay was verified. */
  readonly log: EventLog | undefined;
  /** The checked PCR values by bank, then PCR index (ascending): equal to the quoted ones. */
  readonly values: ReplayedPcrs;
  /**
   * The measuring events (EV_NO_ACTION excluded) of PCRs checked in at least
   * one bank, in log order, each with what its digests prove about its data;
   * empty when only a replay was verified.
   */
  readonly attestedEvents: readonly AttestedEvent[];
  /** The attested events whose data is not (wholly) bound to their digests: `dataCheck` other than `"digest-matches"`. */
  readonly unverifiedEvents: readonly AttestedEvent[];

  /** @internal */
  constructor(
    token: symbol,
    log: EventLog | undefined,
    values: ReplayedPcrs,
    attestedEvents: readonly AttestedEvent[],
  ) {
    if (token !== TOKEN) throw new TypeError("VerifiedEventLog is constructed by verifyEventLogAgainstPcrs only");
    this.log = log;
    this.values = values;
    this.attestedEvents = attestedEvents;
    this.unverifiedEvents = Object.freeze(attestedEvents.filter((e) => e.dataCheck !== "digest-matches"));
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
 * Checking nothing is an error, never a pass. Then each event of a checked
 * PCR has its data checked against its digests in the checked banks
 * (`checkEventData`, PFP §10.4.1): where the digest is defined as the hash of
 * the data it must be, and data that cannot be checked is exposed as
 * unverified ({@link AttestedEvent}).
 *
 * @throws EventLogVerificationError (a VerificationError) with code
 * `eventlog-bank-missing` when the log has no digests for a checked bank,
 * `pcr-values-missing` when a checked bank or PCR was not quoted (or nothing
 * is left to check), `eventlog-replay-mismatch` for the first PCR that
 * differs (banks in order, PCRs ascending), named in `bank` and `pcrIndex`,
 * and `eventlog-data-mismatch` for the first attested event whose data its
 * digest must be the hash of and is not, named in `eventIndex` (and `bank`,
 * `pcrIndex`).
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
    log === undefined
      ? []
      : log.events
          .filter((e) => e.eventType !== EV.NO_ACTION && checked.has(e.pcrIndex))
          .map((e) => attestedEvent(e, banks));
  return new VerifiedEventLog(TOKEN, log, values, Object.freeze(attestedEvents));
}

/** One event of a checked PCR, its data checked in `banks` and split by what the check proved. */
function attestedEvent(event: TcgEvent, banks: readonly HashAlg[]): AttestedEvent {
  const dataCheck: EventDataCheck = checkEventData(event, banks);
  const head: AttestedEventHead = {
    index: event.index,
    pcrIndex: event.pcrIndex,
    eventType: event.eventType,
    eventTypeName: event.eventTypeName,
    digests: new Map(banks.map((bank) => [bank, event.digests.get(bank)!])),
  };
  switch (dataCheck) {
    case "digest-matches":
      return Object.freeze({ ...head, dataCheck, data: event.data });
    case "variable-data-matches":
      return Object.freeze({
        ...head,
        dataCheck,
        variableData: uefiVariableData(event.data)!,
        unverifiedData: event.data,
      });
    case "not-derivable":
      return Object.freeze({ ...head, dataCheck, unverifiedData: event.data });
  }
}

function isEventLog(input: EventLog | ReplayedPcrs): input is EventLog {
  return !(input instanceof Map) && "events" in input;
}
