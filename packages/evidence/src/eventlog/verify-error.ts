/** The error of event-log verification (`verify.ts`, `event-data.ts`). */
import type { HashAlg } from "@veritee/core";
import { VerificationError } from "../errors.js";

/** A {@link VerificationError} about one bank (and PCR, or event) of an event-log check. */
export class EventLogVerificationError extends VerificationError {
  /** The bank that failed. */
  readonly bank: HashAlg;
  /** The PCR that failed, when the failure is about one PCR. */
  readonly pcrIndex: number | undefined;
  /** The record (its `TcgEvent.index`) that failed, when the failure is about one event's data. */
  readonly eventIndex: number | undefined;

  constructor(
    code: "eventlog-replay-mismatch" | "eventlog-bank-missing" | "pcr-values-missing" | "eventlog-data-mismatch",
    message: string,
    bank: HashAlg,
    pcrIndex?: number,
    eventIndex?: number,
  ) {
    super(code, message);
    this.bank = bank;
    this.pcrIndex = pcrIndex;
    this.eventIndex = eventIndex;
  }
}
