/**
 * Event data against event digests (event-data.ts, PFP §10.4.1): the real
 * logs verify with the split the PFP predicts; data a digest must hash is
 * rejected when changed, per type; everything else comes out unverified.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { concatBytes, type HashAlg, hash, utf8 } from "@veritee/core";
import fc from "fast-check";
import {
  checkEventData,
  decodeEventLog,
  digestIsOfEventData,
  EV,
  type EventInput,
  EventLogVerificationError,
  encodeEventLog,
  replayEventLog,
  specIdForBanks,
  type TcgEvent,
  uefiVariableData,
  verifyEventLogAgainstPcrs,
} from "../../src/index.js";
import { gceVectorEventLogAndPcrs, loadVector, VECTORS } from "./helpers.js";

const BANKS: HashAlg[] = ["sha1", "sha256"];

/** A UEFI_VARIABLE_DATA (PFP §10.3.3) for `name` with `value`. */
function variable(name: string, value: Uint8Array): Uint8Array {
  const header = new Uint8Array(32);
  header.fill(0xab, 0, 16);
  const view = new DataView(header.buffer);
  view.setBigUint64(16, BigInt(name.length), true);
  view.setBigUint64(24, BigInt(value.length), true);
  const ucs2 = new Uint8Array(2 * name.length);
  for (let i = 0; i < name.length; i++) ucs2[2 * i] = name.charCodeAt(i);
  return concatBytes(header, ucs2, value);
}

/** An event whose digests hash `hashed` (by default its data). */
function event(pcrIndex: number, eventType: number, data: Uint8Array, hashed: Uint8Array = data): EventInput {
  return { pcrIndex, eventType, data, digests: new Map(BANKS.map((b) => [b, hash(b, hashed)])) };
}

const BOOT_ORDER = variable("BootOrder", Uint8Array.of(1, 0, 0, 0));
const BOOT0001 = variable("Boot0001", utf8("a device path"));
const EVENTS: EventInput[] = [
  event(0, EV.S_CRTM_VERSION, utf8("firmware v1\0")),
  event(1, EV.EFI_VARIABLE_BOOT, BOOT_ORDER),
  // The OVMF deviation: only the VariableData is hashed.
  event(1, EV.EFI_VARIABLE_BOOT2, BOOT0001, uefiVariableData(BOOT0001)!),
  event(4, EV.EFI_ACTION, utf8("Calling EFI Application from Boot Option")),
  event(4, EV.EFI_BOOT_SERVICES_APPLICATION, utf8("a device path"), utf8("the PE image")),
  event(5, EV.EFI_GPT_EVENT, new Uint8Array(92).fill(7)),
  event(7, EV.EFI_VARIABLE_DRIVER_CONFIG, variable("SecureBoot", Uint8Array.of(1))),
  event(7, EV.SEPARATOR, new Uint8Array(4)),
  event(8, EV.IPL, utf8("grub_cmd: linux /vmlinuz\0"), utf8("linux /vmlinuz")),
];
const LOG = decodeEventLog(encodeEventLog({ format: "crypto-agile", specId: specIdForBanks(BANKS), events: EVENTS }));
const QUOTED = replayEventLog(LOG);

/** LOG with record `position`'s data changed by `change`, digests kept (so the replay is unchanged). */
function withData(position: number, change: (data: Uint8Array) => Uint8Array): TcgEvent[] {
  const events = [...LOG.events];
  events[position] = { ...events[position]!, data: change(events[position]!.data.slice()) };
  return events;
}

function flipLast(data: Uint8Array): Uint8Array {
  data[data.length - 1]! ^= 0x01;
  return data;
}

test("each event gets the check its type and digests allow", () => {
  const verified = verifyEventLogAgainstPcrs(LOG, QUOTED);
  assert.deepEqual(
    verified.attestedEvents.map((e) => [e.eventTypeName, e.dataCheck]),
    [
      ["EV_S_CRTM_VERSION", "digest-matches"],
      ["EV_EFI_VARIABLE_BOOT", "digest-matches"],
      ["EV_EFI_VARIABLE_BOOT2", "variable-data-matches"],
      ["EV_EFI_ACTION", "digest-matches"],
      ["EV_EFI_BOOT_SERVICES_APPLICATION", "not-derivable"],
      ["EV_EFI_GPT_EVENT", "digest-matches"],
      ["EV_EFI_VARIABLE_DRIVER_CONFIG", "digest-matches"],
      ["EV_SEPARATOR", "digest-matches"],
      ["EV_IPL", "not-derivable"],
    ],
  );
  // Unverified data is never under the name `data`.
  assert.deepEqual(
    verified.unverifiedEvents.map((e) => e.eventTypeName),
    ["EV_EFI_VARIABLE_BOOT2", "EV_EFI_BOOT_SERVICES_APPLICATION", "EV_IPL"],
  );
  for (const e of verified.unverifiedEvents) assert.ok(!("data" in e) && "unverifiedData" in e);
  const boot2 = verified.attestedEvents[2]!;
  assert.ok(boot2.dataCheck === "variable-data-matches");
  assert.deepEqual(boot2.variableData, utf8("a device path"));
});

test("changed data whose digest the PFP defines as its hash is rejected, naming record, type and bank", () => {
  for (const [position, type] of [
    [0, "EV_S_CRTM_VERSION"],
    [1, "EV_EFI_VARIABLE_BOOT"],
    [2, "EV_EFI_VARIABLE_BOOT2"],
    [3, "EV_EFI_ACTION"],
    [5, "EV_EFI_GPT_EVENT"],
    [6, "EV_EFI_VARIABLE_DRIVER_CONFIG"],
    [7, "EV_SEPARATOR"],
  ] as const) {
    const forged = decodeEventLog(encodeEventLog({ ...LOG, events: withData(position, flipLast) }));
    assert.throws(
      () => verifyEventLogAgainstPcrs(forged, QUOTED),
      (e: unknown) =>
        e instanceof EventLogVerificationError &&
        e.code === "eventlog-data-mismatch" &&
        e.eventIndex === LOG.events[position]!.index &&
        e.bank === "sha1" &&
        e.message.includes(type),
      type,
    );
  }
});

test("truncated, extended or replaced data is rejected too; a separator's error value needs its own digest", () => {
  const cases: ((d: Uint8Array) => Uint8Array)[] = [
    (d) => d.subarray(0, d.length - 1),
    (d) => concatBytes(d, Uint8Array.of(0)),
    () => new Uint8Array(0),
    () => Uint8Array.of(0xff, 0xff, 0xff, 0xff),
  ];
  for (const change of cases) {
    const forged = decodeEventLog(encodeEventLog({ ...LOG, events: withData(7, change) }));
    assert.throws(() => verifyEventLogAgainstPcrs(forged, QUOTED), { code: "eventlog-data-mismatch" });
  }
  // 0xFFFFFFFF (PFP §10.4.4: an error separator) verifies when it is what was hashed.
  const error = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
  assert.equal(
    checkEventData({ ...LOG.events[7]!, data: error, digests: event(7, EV.SEPARATOR, error).digests }, BANKS),
    "digest-matches",
  );
});

test("a boot variable hashed by VariableData only: its name and GUID are unverified, its VariableData bound", () => {
  // The name changed: still the hashed VariableData, so accepted, and flagged.
  const renamed = decodeEventLog(
    encodeEventLog({
      ...LOG,
      events: withData(2, (d) => {
        d[0]! ^= 0x01;
        return d;
      }),
    }),
  );
  const verified = verifyEventLogAgainstPcrs(renamed, QUOTED);
  assert.equal(verified.attestedEvents[2]!.dataCheck, "variable-data-matches");
  // A UEFI_VARIABLE_DATA whose lengths do not add up is not one: only the whole-data hash could match.
  const badLength = withData(2, (d) => {
    d[24]! ^= 0x01;
    return d;
  });
  assert.throws(
    () => verifyEventLogAgainstPcrs(decodeEventLog(encodeEventLog({ ...LOG, events: badLength })), QUOTED),
    {
      code: "eventlog-data-mismatch",
    },
  );
});

test("data that no digest covers is accepted only as unverified", () => {
  for (const position of [4, 8]) {
    const forged = decodeEventLog(encodeEventLog({ ...LOG, events: withData(position, flipLast) }));
    const verified = verifyEventLogAgainstPcrs(forged, QUOTED);
    const e = verified.attestedEvents[position]!;
    assert.equal(e.dataCheck, "not-derivable");
    assert.ok(verified.unverifiedEvents.includes(e));
  }
  // Relabelling an image measurement as a type whose digest must hash its data fails.
  const events = [...LOG.events];
  events[4] = { ...events[4]!, eventType: EV.EFI_ACTION };
  assert.throws(() => verifyEventLogAgainstPcrs(decodeEventLog(encodeEventLog({ ...LOG, events })), QUOTED), {
    code: "eventlog-data-mismatch",
  });
});

test("only the checked banks are checked, and attested events carry only their digests", () => {
  // A sha256 digest that is not the data's hash, in a log checked in sha1 only.
  const events = [...LOG.events];
  events[7] = {
    ...events[7]!,
    digests: new Map([
      ["sha1", events[7]!.digests.get("sha1")!],
      ["sha256", new Uint8Array(32)],
    ]),
  };
  const log = decodeEventLog(encodeEventLog({ ...LOG, events }));
  const verified = verifyEventLogAgainstPcrs(log, QUOTED, { banks: ["sha1"] });
  assert.equal(verified.attestedEvents[7]!.dataCheck, "digest-matches");
  assert.deepEqual([...verified.attestedEvents[7]!.digests.keys()], ["sha1"]);
});

test("every real log and the GCE attestation's log verify, with no checked type left unverified", () => {
  const logs = VECTORS.map((name) => decodeEventLog(loadVector(name)));
  const { eventLog, quoted } = gceVectorEventLogAndPcrs();
  const gce = decodeEventLog(eventLog);
  const gceVerified = verifyEventLogAgainstPcrs(gce, quoted as ReadonlyMap<HashAlg, ReadonlyMap<number, Uint8Array>>, {
    pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  });
  const all = [...logs.map((log) => verifyEventLogAgainstPcrs(log, replayEventLog(log))), gceVerified];
  for (const verified of all) {
    assert.ok(verified.attestedEvents.some((e) => e.dataCheck === "digest-matches"));
    for (const e of verified.unverifiedEvents) {
      if (e.dataCheck === "variable-data-matches")
        assert.ok(e.eventType === EV.EFI_VARIABLE_BOOT || e.eventType === EV.EFI_VARIABLE_BOOT2);
      else assert.ok(!digestIsOfEventData(e.eventType), e.eventTypeName);
    }
  }
  // GCE (OVMF) hashes boot variables by VariableData; shim's grub commands are unverifiable.
  const kinds = new Set(gceVerified.unverifiedEvents.map((e) => `${e.eventTypeName}:${e.dataCheck}`));
  assert.ok(kinds.has("EV_EFI_VARIABLE_BOOT:variable-data-matches"));
  assert.ok(kinds.has("EV_IPL:not-derivable"));
  assert.ok(kinds.has("EV_EFI_BOOT_SERVICES_APPLICATION:not-derivable"));
});

test("property: uefiVariableData and checkEventData return only their union or a typed error", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 96 }),
      fc.constantFrom(...Object.values(EV)),
      fc.boolean(),
      (data, eventType, hashed) => {
        const variableData = uefiVariableData(data);
        if (variableData !== undefined) assert.ok(variableData.length <= data.length - 32);
        const e: TcgEvent = {
          index: 1,
          pcrIndex: 7,
          eventType,
          eventTypeName: "x",
          otherDigests: new Map(),
          data,
          digests: new Map(BANKS.map((b) => [b, hashed ? hash(b, data) : new Uint8Array(b === "sha1" ? 20 : 32)])),
        };
        try {
          const check = checkEventData(e, BANKS);
          assert.ok(["digest-matches", "variable-data-matches", "not-derivable"].includes(check));
          if (hashed) assert.equal(check, "digest-matches");
        } catch (error) {
          assert.ok(error instanceof EventLogVerificationError && error.code === "eventlog-data-mismatch");
          assert.ok(digestIsOfEventData(eventType) && !hashed);
        }
      },
    ),
  );
  // uefiVariableData round trip on well-formed input.
  fc.assert(
    fc.property(fc.string({ maxLength: 16 }), fc.uint8Array({ maxLength: 64 }), (name, value) => {
      const ascii = name.replace(/[^\x20-\x7e]/g, "a");
      assert.deepEqual(uefiVariableData(variable(ascii, value)), value);
    }),
  );
});
