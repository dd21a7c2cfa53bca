/**
 * verifyEventLogAgainstPcrs: a log is evidence only when its replay equals
 * the attested PCR values. The "quote" here is the replay of the untouched
 * vector, i.e. what the machine's TPM held; each attack changes the log.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { concatBytes, type HashAlg, hash, utf8 } from "@veritee/core";
import { VerificationError } from "../../src/errors.js";
import {
  decodeEventLog,
  EV,
  type EventLog,
  EventLogVerificationError,
  encodeEventLog,
  type ReplayedPcrs,
  replayEventLog,
  specIdForBanks,
  type TcgEvent,
  VerifiedEventLog,
  verifyEventLogAgainstPcrs,
} from "../../src/index.js";
import { gceVectorEventLogAndPcrs, loadVector, logVerificationError, malformed } from "./helpers.js";

const VECTOR = "ubuntu-2404-amd-sevsnp.bin";
const BYTES = loadVector(VECTOR);
const LOG = decodeEventLog(BYTES);
/** What the TPM attested: the replay of the genuine log. */
const QUOTED = replayEventLog(LOG);

/** Byte offset of each record of `log` as encoded (index 0: the first event after any header). */
function recordOffsets(log: EventLog): number[] {
  const offsets: number[] = [];
  for (let i = 0; i <= log.events.length; i++) {
    offsets.push(encodeEventLog({ ...log, events: log.events.slice(0, i) }).length);
  }
  return offsets;
}

const OFFSETS = recordOffsets(LOG);

/** The position in LOG.events of the `n`th measuring event of `pcr`. */
function nth(pcr: number, n = 0, eventType?: number): number {
  const found = LOG.events
    .map((e, i) => [e, i] as const)
    .filter(([e]) => e.pcrIndex === pcr && e.eventType !== EV.NO_ACTION && (eventType ?? e.eventType) === e.eventType);
  return found[n]![1];
}

/** Quoted values with one PCR replaced. */
function quotedWith(bank: HashAlg, pcr: number, value: Uint8Array): ReplayedPcrs {
  const out = new Map(QUOTED);
  out.set(bank, new Map(QUOTED.get(bank)!).set(pcr, value));
  return out;
}

test("the genuine log verifies, in full and bank by bank", () => {
  const verified = verifyEventLogAgainstPcrs(LOG, QUOTED);
  assert.ok(verified instanceof VerifiedEventLog);
  assert.deepEqual([...verified.values.keys()], ["sha1", "sha256", "sha384"]);
  assert.deepEqual(verified.values, QUOTED);
  for (const bank of ["sha1", "sha256", "sha384"] as const) {
    assert.deepEqual([...verifyEventLogAgainstPcrs(LOG, QUOTED, { banks: [bank] }).values.keys()], [bank]);
  }
  // The replay can be verified in place of the log; nothing about events is then attested.
  const fromReplay = verifyEventLogAgainstPcrs(replayEventLog(LOG), QUOTED);
  assert.equal(fromReplay.log, undefined);
  assert.deepEqual(fromReplay.attestedEvents, []);
});

test("a real GCE attestation: the log matches PCRs a vTPM quoted, in three banks", () => {
  const { eventLog, quoted } = gceVectorEventLogAndPcrs();
  const pcrValues = quoted as ReadonlyMap<HashAlg, ReadonlyMap<number, Uint8Array>>;
  const log = decodeEventLog(eventLog);
  assert.deepEqual([...quoted.keys()].sort(), ["sha1", "sha256", "sha384"]);
  assert.equal(quoted.get("sha256")!.size, 24);
  // PCR 10 holds the OS's IMA measurements, which are not in the firmware log:
  // checking every quoted PCR therefore fails, naming it.
  assert.throws(
    () => verifyEventLogAgainstPcrs(log, pcrValues),
    logVerificationError("eventlog-replay-mismatch", "sha1", 10),
  );
  // Every other PCR matches: those the log extends, and the untouched ones
  // at their reset values (zeros; all ones for 17-22).
  const pcrs = Array.from({ length: 24 }, (_, i) => i).filter((i) => i !== 10);
  const verified = verifyEventLogAgainstPcrs(log, pcrValues, { pcrs });
  for (const bank of verified.values.values()) assert.equal(bank.size, 23);
  assert.equal(verified.attestedEvents.length, log.events.filter((e) => e.eventType !== EV.NO_ACTION).length);
  // A flipped digest bit in the log is caught against the real quote.
  // The last record is "Exit Boot Services Returned with Success" (40 bytes) with SHA-1, SHA-256, SHA-384 digests.
  assert.equal(new TextDecoder().decode(eventLog.subarray(-40)), "Exit Boot Services Returned with Success");
  const forged = eventLog.slice();
  const at = forged.length - 40 - 4 - 48 - 2 - 32 + 4; // last record's sha256 digest, 4 bytes in
  forged[at]! ^= 1;
  assert.throws(
    () => verifyEventLogAgainstPcrs(decodeEventLog(forged), pcrValues, { pcrs }),
    logVerificationError("eventlog-replay-mismatch", "sha256", log.events.at(-1)!.pcrIndex),
  );
});

test("a mutated digest is a replay mismatch naming its PCR and bank", () => {
  const i = nth(4, 1, EV.EFI_BOOT_SERVICES_APPLICATION);
  const event = LOG.events[i]!;
  // TCG_PCR_EVENT2: pcrIndex, eventType, count (12 bytes), then sha1 id (2) + 20, sha256 id (2) + 32, ...
  const sha256At = OFFSETS[i]! + 12 + 2 + 20 + 2;
  const forged = BYTES.slice();
  assert.deepEqual(forged.subarray(sha256At, sha256At + 32), event.digests.get("sha256"));
  forged[sha256At + 5]! ^= 0x01;
  const log = decodeEventLog(forged);
  assert.throws(
    () => verifyEventLogAgainstPcrs(log, QUOTED),
    logVerificationError("eventlog-replay-mismatch", "sha256", 4),
  );
  // The SHA-1 bank is untouched by this forgery, and alone still verifies.
  verifyEventLogAgainstPcrs(log, QUOTED, { banks: ["sha1"] });
  // The same forgery in the SHA-1 digest fails in the first bank checked.
  const forged1 = BYTES.slice();
  forged1[OFFSETS[i]! + 12 + 2]! ^= 0x80;
  assert.throws(
    () => verifyEventLogAgainstPcrs(decodeEventLog(forged1), QUOTED),
    logVerificationError("eventlog-replay-mismatch", "sha1", 4),
  );
});

test("a removed event is a replay mismatch naming its PCR", () => {
  for (const pcr of [0, 4, 7, 9, 14]) {
    const i = nth(pcr, 0);
    const forged = concatBytes(BYTES.subarray(0, OFFSETS[i]!), BYTES.subarray(OFFSETS[i + 1]!));
    assert.throws(
      () => verifyEventLogAgainstPcrs(decodeEventLog(forged), QUOTED),
      logVerificationError("eventlog-replay-mismatch", "sha1", pcr),
      `PCR ${pcr}`,
    );
  }
});

test("an added event is a replay mismatch", () => {
  const extra: TcgEvent = { ...LOG.events[nth(8)]!, index: 0 };
  const forged = decodeEventLog(encodeEventLog({ ...LOG, events: [...LOG.events, extra] }));
  assert.throws(
    () => verifyEventLogAgainstPcrs(forged, QUOTED),
    logVerificationError("eventlog-replay-mismatch", "sha1", 8),
  );
});

test("two events of one PCR swapped is a replay mismatch", () => {
  const a = nth(7, 0);
  const b = nth(7, 1);
  const events = [...LOG.events];
  [events[a], events[b]] = [events[b]!, events[a]!];
  const forged = decodeEventLog(encodeEventLog({ ...LOG, events }));
  assert.throws(
    () => verifyEventLogAgainstPcrs(forged, QUOTED),
    logVerificationError("eventlog-replay-mismatch", "sha1", 7),
  );
});

test("limits of what PCRs attest: cross-PCR order is not bound", () => {
  // Adjacent events of different PCRs swapped: each PCR's own sequence is
  // unchanged, so the replay still matches. Policy must not rely on that order.
  const a = LOG.events.findIndex(
    (e, i) => i + 1 < LOG.events.length && e.eventType !== EV.NO_ACTION && e.pcrIndex !== LOG.events[i + 1]!.pcrIndex,
  );
  const events = [...LOG.events];
  [events[a], events[a + 1]] = [events[a + 1]!, events[a]!];
  verifyEventLogAgainstPcrs(decodeEventLog(encodeEventLog({ ...LOG, events })), QUOTED);
});

test("event data is bound: a changed UEFI variable replays but is rejected, naming the record", () => {
  // Event data is not extended, only digests, so the replay still matches;
  // EV_EFI_VARIABLE_DRIVER_CONFIG's digest must be the hash of its data (PFP §10.4.1).
  const i = nth(7, 0, EV.EFI_VARIABLE_DRIVER_CONFIG);
  const original = LOG.events[i]!;
  assert.deepEqual(hash("sha256", original.data), original.digests.get("sha256"));
  const data = original.data.slice();
  data[data.length - 1]! ^= 0x01;
  const changed = [...LOG.events];
  changed[i] = { ...original, data };
  const forged = decodeEventLog(encodeEventLog({ ...LOG, events: changed }));
  assert.deepEqual(replayEventLog(forged), QUOTED);
  assert.throws(
    () => verifyEventLogAgainstPcrs(forged, QUOTED),
    (e: unknown) =>
      e instanceof EventLogVerificationError &&
      e.code === "eventlog-data-mismatch" &&
      e.eventIndex === original.index &&
      e.pcrIndex === 7 &&
      e.bank === "sha1" &&
      e.message.includes("EV_EFI_VARIABLE_DRIVER_CONFIG") &&
      e.message.includes(`record ${original.index}`),
  );
});

test("the first mismatch is reported: banks in order, then PCRs ascending", () => {
  const bad = new Uint8Array(32).fill(1);
  const quoted = quotedWith("sha256", 9, bad);
  const both = new Map(quoted).set("sha256", new Map(quoted.get("sha256")!).set(2, bad));
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, both),
    logVerificationError("eventlog-replay-mismatch", "sha256", 2),
  );
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, both, { banks: ["sha384", "sha256"] }),
    logVerificationError("eventlog-replay-mismatch", "sha256", 2),
  );
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, both, { pcrs: [14, 9, 0] }),
    logVerificationError("eventlog-replay-mismatch", "sha256", 9),
  );
  // A mismatch is a VerificationError: callers that switch on the base class see it.
  assert.throws(() => verifyEventLogAgainstPcrs(LOG, both), VerificationError);
});

test("a required bank the log lacks is eventlog-bank-missing", () => {
  const arch = decodeEventLog(loadVector("arch-linux-workstation.bin")); // SHA-1 and SHA-256 only
  const quoted = new Map(replayEventLog(arch)).set("sha384", new Map([[0, new Uint8Array(48)]]));
  assert.throws(() => verifyEventLogAgainstPcrs(arch, quoted), logVerificationError("eventlog-bank-missing", "sha384"));
  assert.throws(
    () => verifyEventLogAgainstPcrs(arch, QUOTED, { banks: ["sha256", "sha512"] }),
    logVerificationError("eventlog-bank-missing", "sha512"),
  );
  // The same through a replay: the replay has no SHA-384 bank either.
  assert.throws(
    () => verifyEventLogAgainstPcrs(replayEventLog(arch), quoted),
    logVerificationError("eventlog-bank-missing", "sha384"),
  );
  // Checking only the banks the log has passes.
  verifyEventLogAgainstPcrs(arch, quoted, { banks: ["sha1", "sha256"] });
});

test("a checked bank or PCR that was not quoted is pcr-values-missing; nothing to check fails", () => {
  const sha1Only: ReplayedPcrs = new Map([["sha1", QUOTED.get("sha1")!]]);
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, sha1Only, { banks: ["sha1", "sha256"] }),
    logVerificationError("pcr-values-missing", "sha256"),
  );
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, QUOTED, { pcrs: [0, 15] }),
    logVerificationError("pcr-values-missing", "sha1", 15),
  );
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, new Map()),
    (e: unknown) => e instanceof VerificationError && e.code === "pcr-values-missing",
  );
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, QUOTED, { pcrs: [] }),
    logVerificationError("pcr-values-missing", "sha1"),
  );
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, new Map([["sha1", new Map()]])),
    logVerificationError("pcr-values-missing", "sha1"),
  );
});

test("quoted PCRs the log never touches must hold their reset value", () => {
  const zeros = new Uint8Array(20);
  const ones = new Uint8Array(20).fill(0xff);
  // PCRs 10 and 23 reset to zeros; 17-22 (D-RTM) to all ones, until a D-RTM launch.
  const quoted = new Map(QUOTED).set("sha1", new Map(QUOTED.get("sha1")!).set(10, zeros).set(17, ones).set(23, zeros));
  const verified = verifyEventLogAgainstPcrs(LOG, quoted, { banks: ["sha1"] });
  assert.deepEqual(verified.values.get("sha1")!.get(17), ones);
  const extended = hash("sha1", zeros, hash("sha1", utf8("not in the log")));
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, quotedWith("sha1", 10, extended)),
    (e: unknown) => logVerificationError("eventlog-replay-mismatch", "sha1", 10)(e) && /reset value/.test(String(e)),
  );
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, quotedWith("sha1", 18, zeros)),
    logVerificationError("eventlog-replay-mismatch", "sha1", 18),
  );
  // A value of the wrong length never matches.
  assert.throws(
    () => verifyEventLogAgainstPcrs(LOG, quotedWith("sha256", 4, QUOTED.get("sha256")!.get(4)!.subarray(0, 20))),
    logVerificationError("eventlog-replay-mismatch", "sha256", 4),
  );
});

test("PCRs the log touches but that are not checked are ignored, and their events not attested", () => {
  const without = new Map(
    [...QUOTED].map(([bank, pcrs]) => [bank, new Map([...pcrs].filter(([pcr]) => pcr !== 8 && pcr !== 9))]),
  );
  const verified = verifyEventLogAgainstPcrs(LOG, without);
  assert.ok(![...verified.values.values()].some((pcrs) => pcrs.has(8) || pcrs.has(9)));
  assert.ok(verified.attestedEvents.length > 0);
  assert.ok(verified.attestedEvents.every((e) => e.pcrIndex !== 8 && e.pcrIndex !== 9 && e.eventType !== EV.NO_ACTION));
  // A forged PCR 8 event is then not detected, and not attested either.
  const i = nth(8, 0);
  const forged = BYTES.slice();
  forged[OFFSETS[i]! + 12 + 2]! ^= 1;
  const v2 = verifyEventLogAgainstPcrs(decodeEventLog(forged), without);
  assert.ok(!v2.attestedEvents.some((e) => e.pcrIndex === 8));
  // Restricting to PCRs 0-7 attests exactly the firmware's events.
  const firmware = verifyEventLogAgainstPcrs(LOG, QUOTED, { pcrs: [0, 1, 2, 3, 4, 5, 6, 7] });
  assert.deepEqual(
    firmware.attestedEvents.map((e) => e.index),
    LOG.events.filter((e) => e.pcrIndex <= 7 && e.eventType !== EV.NO_ACTION).map((e) => e.index),
  );
});

test("a StartupLocality log verifies against a PCR 0 that started at its locality", () => {
  const banks: HashAlg[] = ["sha256"];
  const crtm = hash("sha256", utf8("crtm"));
  const bytes = encodeEventLog({
    format: "crypto-agile",
    specId: specIdForBanks(banks),
    events: [
      {
        pcrIndex: 0,
        eventType: EV.NO_ACTION,
        digests: new Map([["sha256", new Uint8Array(32)]]),
        data: concatBytes(utf8("StartupLocality\0"), new Uint8Array([3])),
      },
      { pcrIndex: 0, eventType: EV.S_CRTM_VERSION, digests: new Map([["sha256", crtm]]), data: utf8("crtm") },
    ],
  });
  const start = new Uint8Array(32);
  start[31] = 3;
  const tpm: ReplayedPcrs = new Map([["sha256", new Map([[0, hash("sha256", start, crtm)]])]]);
  verifyEventLogAgainstPcrs(decodeEventLog(bytes), tpm);
  // The same measurement from a zero start (no StartupLocality event) does not match.
  const zeroStart: ReplayedPcrs = new Map([["sha256", new Map([[0, hash("sha256", new Uint8Array(32), crtm)]])]]);
  assert.throws(
    () => verifyEventLogAgainstPcrs(decodeEventLog(bytes), zeroStart),
    logVerificationError("eventlog-replay-mismatch", "sha256", 0),
  );
});

test("a truncated or structurally forged log fails to decode before any verification", () => {
  assert.throws(() => decodeEventLog(BYTES.subarray(0, BYTES.length - 7)), malformed("truncated"));
  // An algorithm ID the Spec ID event does not declare (SHA-1's 0x0004 turned into 0x0005).
  const forged = BYTES.slice();
  const i = nth(4, 0);
  assert.equal(forged[OFFSETS[i]! + 12], 0x04);
  forged[OFFSETS[i]! + 12] = 0x05;
  assert.throws(() => decodeEventLog(forged), malformed("bad-value"));
});

test("VerifiedEventLog is constructed by the verifier only, and is immutable", () => {
  const Ctor = VerifiedEventLog as unknown as new (...args: unknown[]) => VerifiedEventLog;
  assert.throws(() => new Ctor(Symbol("VerifiedEventLog"), LOG, QUOTED, []), TypeError);
  const verified = verifyEventLogAgainstPcrs(LOG, QUOTED);
  assert.ok(Object.isFrozen(verified) && Object.isFrozen(verified.attestedEvents));
  // Values are copies: changing the quote afterwards does not change what was verified.
  const quoted = new Map([...QUOTED].map(([b, pcrs]) => [b, new Map([...pcrs].map(([p, v]) => [p, v.slice()]))]));
  const v = verifyEventLogAgainstPcrs(LOG, quoted);
  quoted.get("sha1")!.get(0)!.fill(0);
  assert.deepEqual(v.values.get("sha1")!.get(0), QUOTED.get("sha1")!.get(0));
});
