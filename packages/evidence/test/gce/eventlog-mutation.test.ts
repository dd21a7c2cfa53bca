/**
 * The mutation sweep over the GCE attestation's event log: every single-byte
 * flip of the event-log field either is rejected with a typed error or lies
 * where nothing is attested: in the data of an event whose digest is not
 * derivable from its data (flagged unverified), in an EV_NO_ACTION record
 * (never extended), in a record of a PCR the firmware log is not checked
 * for, or in an event type (which no PCR covers). Before event data was checked against digests, 18,710 flips inside
 * attested events' data verified.
 *
 * The sweep runs the steps of `verifyGceAttestation` that read the event log
 * (decode, then `verifyEventLogAgainstPcrs` against the quotes' verified PCR
 * values); the quotes and certificates do not cover the log, and a sample of
 * flips goes through `verifyGceAttestation` itself.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedError } from "@veritee/core";
import { VerificationError } from "../../src/errors.js";
import { decodeEventLog, type TcgEvent } from "../../src/eventlog/decode.js";
import { encodeEventLog } from "../../src/eventlog/encode.js";
import { EV } from "../../src/eventlog/event-types.js";
import {
  EventLogVerificationError,
  type VerifiedEventLog,
  verifyEventLogAgainstPcrs,
} from "../../src/eventlog/verify.js";
import { decodeGceAttestation } from "../../src/gce/attestation-pb.js";
import { GCE_EVENT_LOG_PCRS, verifyGceAttestation } from "../../src/gce/verify.js";
import { GCE_AT, GCE_INTERMEDIATE_2, GCE_ROOT, gceVector } from "../x509/vectors.js";

const PB = gceVector("gce-cos-85-nonce9009.pb");
const NONCE = Uint8Array.of(0x90, 0x09);
const base = { attestation: PB, nonce: NONCE, roots: [GCE_ROOT], intermediates: [GCE_INTERMEDIATE_2], at: GCE_AT };
const LOG_BYTES = decodeGceAttestation(PB).eventLog;
const LOG = decodeEventLog(LOG_BYTES);

/** Where each record lies in the log bytes: [start, end) of the record and of its data; index -1 is the Spec ID header. */
interface RecordSpan {
  readonly event: TcgEvent | undefined;
  readonly start: number;
  readonly dataStart: number;
  readonly end: number;
}

function recordSpans(): RecordSpan[] {
  const ends: number[] = [];
  for (let i = 0; i <= LOG.events.length; i++)
    ends.push(encodeEventLog({ ...LOG, events: LOG.events.slice(0, i) }).length);
  assert.deepEqual(encodeEventLog(LOG), LOG_BYTES, "the genuine log re-encodes byte for byte");
  const spans: RecordSpan[] = [{ event: undefined, start: 0, dataStart: 0, end: ends[0]! }];
  LOG.events.forEach((event, i) => {
    spans.push({ event, start: ends[i]!, dataStart: ends[i + 1]! - event.data.length, end: ends[i + 1]! });
  });
  return spans;
}

describe("single-byte flips of the GCE attestation's event log", () => {
  it("are rejected with a typed error, or lie where nothing is attested", async () => {
    const verified = await verifyGceAttestation(base);
    const pcrs = verified.pcrValues;
    const options = { banks: verified.eventLogBanks, pcrs: GCE_EVENT_LOG_PCRS };
    const byIndex = new Map(verified.eventLog.attestedEvents.map((e) => [e.index, e]));
    const spans = recordSpans();

    let rejected = 0;
    let acceptedUnverified = 0;
    let acceptedUnattested = 0;
    let acceptedEventType = 0;
    /** Flips in data whose digest happened to hash it (types the PFP leaves open): the event becomes unverified. */
    let nowUnverified = 0;
    const mutated = LOG_BYTES.slice();
    for (let at = 0; at < LOG_BYTES.length; at++) {
      mutated[at]! ^= 0xff;
      let accepted: VerifiedEventLog | undefined;
      try {
        accepted = verifyEventLogAgainstPcrs(decodeEventLog(mutated), pcrs, options);
      } catch (e) {
        if (!(e instanceof MalformedError || e instanceof VerificationError)) throw e;
        rejected++;
      }
      mutated[at]! ^= 0xff;
      if (accepted === undefined) continue;

      const span = spans.find((s) => at >= s.start && at < s.end)!;
      const event = span.event;
      // Not attested at all: the Spec ID header, EV_NO_ACTION records, PCRs the log is not checked for.
      if (event === undefined || event.eventType === EV.NO_ACTION || !GCE_EVENT_LOG_PCRS.includes(event.pcrIndex)) {
        acceptedUnattested++;
        continue;
      }
      // The event type is not extended into any PCR (PFP §10.2.2: only the
      // digests are), so no verifier can attest it: a relabelled event with
      // matching data keeps data exactly as measured, and a relabelling onto a
      // type whose digest must hash the data fails the data check.
      if (at >= span.start + 4 && at < span.start + 8) {
        acceptedEventType++;
        continue;
      }
      // Inside an attested event, an accepted flip can only be in data its digests do not bind.
      assert.ok(at >= span.dataStart, `flip at ${at} in the header or digests of attested record ${event.index}`);
      // What the accepted log says of that event: its data, flipped byte included, is flagged unverified.
      const attested = accepted.attestedEvents.find((e) => e.index === event.index)!;
      assert.notEqual(attested.dataCheck, "digest-matches", `flip at ${at} in verified data of record ${event.index}`);
      assert.ok(accepted.unverifiedEvents.includes(attested));
      assert.ok(!("data" in attested));
      if (byIndex.get(event.index)!.dataCheck === "digest-matches") nowUnverified++;
      if (attested.dataCheck === "variable-data-matches") {
        const variableData = attested.variableData;
        const variableDataStart = span.end - variableData.length;
        assert.ok(at < variableDataStart, `flip at ${at} in the attested VariableData of record ${event.index}`);
      }
      acceptedUnverified++;
    }
    assert.equal(rejected + acceptedUnverified + acceptedUnattested + acceptedEventType, LOG_BYTES.length);
    // The issue counted 18,710 accepted flips inside attested event data before data was checked.
    assert.ok(rejected > LOG_BYTES.length - 18_710, `${rejected} rejected`);
    console.log(
      `# ${LOG_BYTES.length} flips: ${rejected} rejected, ${acceptedUnverified} in unverified event data (${nowUnverified} of them made it unverified), ${acceptedUnattested} in unattested records, ${acceptedEventType} in event types`,
    );
  });

  it("inside data a digest must hash are rejected by verifyGceAttestation itself, naming the record", async () => {
    const spans = recordSpans().filter((s) => s.event?.eventType === EV.EFI_VARIABLE_DRIVER_CONFIG);
    assert.ok(spans.length > 0);
    const eventLog = decodeGceAttestation(PB).eventLog;
    const at = PB.length - eventLog.length - indexOfTail(PB, eventLog);
    for (const span of spans) {
      const forged = PB.slice();
      forged[at + span.end - 1]! ^= 0xff;
      await assert.rejects(
        verifyGceAttestation({ ...base, attestation: forged }),
        (e: unknown) =>
          e instanceof EventLogVerificationError &&
          e.code === "eventlog-data-mismatch" &&
          e.eventIndex === span.event!.index,
      );
    }
  });
});

/** How many bytes of `haystack` follow the one occurrence of `needle`. */
function indexOfTail(haystack: Uint8Array, needle: Uint8Array): number {
  const at = Buffer.from(haystack).indexOf(Buffer.from(needle));
  assert.ok(at >= 0 && Buffer.from(haystack).indexOf(Buffer.from(needle), at + 1) < 0, "the event log occurs once");
  return haystack.length - at - needle.length;
}
