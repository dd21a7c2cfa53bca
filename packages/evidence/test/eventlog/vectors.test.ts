/**
 * Real-hardware event logs (../shared/vectors/tpm/eventlogs): they decode,
 * replay, and agree with tpm2-tools' tpm2_eventlog, an independent parser.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { hash, toHex } from "@veritee/core";
import { decodeEventLog, EV, type EventLog, replayEventLog, verifyEventLogAgainstPcrs } from "../../src/index.js";
import { HAVE_TPM2_EVENTLOG, loadVector, runTpm2Eventlog, VECTORS, vectorPath } from "./helpers.js";

const FORMATS: Readonly<Record<(typeof VECTORS)[number], { format: string; banks: string[]; events: number }>> = {
  "arch-linux-workstation.bin": { format: "crypto-agile", banks: ["sha1", "sha256"], events: 24 },
  "cos-85-amd-sev.bin": { format: "crypto-agile", banks: ["sha1", "sha256", "sha384"], events: 45 },
  "debian-10.bin": { format: "sha1", banks: ["sha1"], events: 25 },
  "rhel8-uefi.bin": { format: "crypto-agile", banks: ["sha1", "sha256", "sha384"], events: 82 },
  "ubuntu-2404-amd-sevsnp.bin": { format: "crypto-agile", banks: ["sha1", "sha256", "sha384"], events: 116 },
};

function decoded(name: (typeof VECTORS)[number]): EventLog {
  return decodeEventLog(loadVector(name));
}

for (const name of VECTORS) {
  test(`${name}: decodes with the expected format, banks and event count`, () => {
    const log = decoded(name);
    const want = FORMATS[name];
    assert.equal(log.format, want.format);
    assert.deepEqual(log.banks, want.banks);
    assert.equal(log.events.length, want.events);
    assert.equal(log.paddingLength, 0);
    assert.equal(log.startupLocality, undefined);
    // Indices count records; a crypto-agile log's record 0 is its Spec ID header.
    const first = log.format === "crypto-agile" ? 1 : 0;
    assert.deepEqual(
      log.events.map((e) => e.index),
      log.events.map((_, i) => first + i),
    );
    if (log.format === "crypto-agile") {
      assert.equal(log.specId?.specVersionMajor, 2);
      assert.equal(log.specId?.algorithms.length, want.banks.length);
    } else {
      assert.equal(log.specId, undefined);
    }
  });

  test(`${name}: every event carries one digest per bank, of the bank's size`, () => {
    const log = decoded(name);
    const sizes: Record<string, number> = { sha1: 20, sha256: 32, sha384: 48 };
    for (const e of log.events) {
      assert.deepEqual([...e.digests.keys()], log.banks);
      for (const [bank, d] of e.digests) assert.equal(d.length, sizes[bank]);
      assert.equal(e.otherDigests.size, 0);
    }
  });

  test(`${name}: a separator ends the pre-OS measurements of each of PCRs 0-7`, () => {
    // PFP §10.4.1 EV_SEPARATOR: the firmware measures a separator into PCRs
    // 0-7 before handing over to the OS loader; its data is the 4-byte value
    // 0 (or 1 on error), and its digest is the data's hash.
    const log = decoded(name);
    for (let pcr = 0; pcr <= 7; pcr++) {
      const separators = log.events.filter((e) => e.pcrIndex === pcr && e.eventType === EV.SEPARATOR);
      assert.equal(separators.length, 1, `PCR ${pcr}`);
      const sep = separators[0]!;
      assert.equal(sep.eventTypeName, "EV_SEPARATOR");
      assert.equal(sep.data.length, 4);
      for (const [bank, d] of sep.digests) assert.deepEqual(d, hash(bank, sep.data), `PCR ${pcr} ${bank}`);
    }
  });

  test(`${name}: replay extends only measuring events and verifies against itself`, () => {
    const log = decoded(name);
    const replayed = replayEventLog(log);
    assert.deepEqual([...replayed.keys()], log.banks);
    const touched = [...new Set(log.events.filter((e) => e.eventType !== EV.NO_ACTION).map((e) => e.pcrIndex))];
    for (const bank of replayed.values())
      assert.deepEqual(
        [...bank.keys()],
        touched.sort((a, b) => a - b),
      );
    const verified = verifyEventLogAgainstPcrs(log, replayed);
    assert.equal(verified.log, log);
    assert.equal(verified.attestedEvents.length, log.events.filter((e) => e.eventType !== EV.NO_ACTION).length);
  });

  test(`${name}: events and replayed PCRs equal tpm2_eventlog's`, {
    skip: !HAVE_TPM2_EVENTLOG && "no tpm2_eventlog",
  }, () => {
    const tool = runTpm2Eventlog(vectorPath(name));
    const log = decoded(name);
    assert.equal(log.events.length, tool.events.length);
    log.events.forEach((e, i) => {
      const t = tool.events[i]!;
      assert.equal(e.pcrIndex, t.pcrIndex, `record ${e.index}`);
      assert.equal(e.eventTypeName, t.eventType, `record ${e.index}`);
      assert.deepEqual(
        new Map([...e.digests].map(([bank, d]) => [bank, toHex(d)])),
        t.digests,
        `record ${e.index} digests`,
      );
    });
    const ours = replayEventLog(log);
    assert.deepEqual([...ours.keys()], [...tool.pcrs.keys()]);
    for (const [bank, pcrs] of tool.pcrs) {
      const mine = ours.get(bank as "sha1")!;
      assert.deepEqual(new Map([...mine].map(([pcr, v]) => [pcr, toHex(v)])), pcrs, `${bank} bank`);
    }
  });
}

test("the vectors hold the event types their platforms measure", () => {
  const names = new Set(VECTORS.flatMap((n) => decoded(n).events.map((e) => e.eventTypeName)));
  for (const expected of [
    "EV_SEPARATOR",
    "EV_EFI_BOOT_SERVICES_APPLICATION",
    "EV_IPL",
    "EV_EFI_VARIABLE_DRIVER_CONFIG",
    "EV_EFI_VARIABLE_AUTHORITY",
    "EV_EFI_VARIABLE_BOOT",
    "EV_EFI_ACTION",
    "EV_S_CRTM_VERSION",
    "EV_EFI_GPT_EVENT",
  ]) {
    assert.ok(names.has(expected), expected);
  }
  const ubuntu = decoded("ubuntu-2404-amd-sevsnp.bin");
  // PCR 4 holds the boot applications, each an EV_EFI_BOOT_SERVICES_APPLICATION (PFP §3.3.4).
  const apps = ubuntu.events.filter((e) => e.pcrIndex === 4 && e.eventType === EV.EFI_BOOT_SERVICES_APPLICATION);
  assert.ok(apps.length >= 2);
});
