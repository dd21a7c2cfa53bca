/**
 * Decoding and replay of synthetic logs: both formats, the PCR 0 locality
 * rules, and every structural rule of the decoder, one broken at a time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { concatBytes, type HashAlg, hash, TPM_ALG, utf8 } from "@veritee/core";
import {
  decodeEventLog,
  EV,
  type EventInput,
  type EventLogInput,
  encodeEventLog,
  encodeSpecIdEvent,
  eventTypeName,
  MAX_EVENT_DATA_SIZE,
  replayEventLog,
  type SpecIdInput,
  specIdForBanks,
  startupLocalityEventData,
} from "../../src/index.js";
import { loadVector, malformed, VECTORS } from "./helpers.js";

const BANKS: readonly HashAlg[] = ["sha1", "sha256"];

/** Digests of `text` in each bank, as a measuring event carries them. */
function digestsOf(text: string, banks: readonly HashAlg[] = BANKS): Map<HashAlg, Uint8Array> {
  return new Map(banks.map((b) => [b, hash(b, utf8(text))]));
}

function zeroDigests(banks: readonly HashAlg[] = BANKS): Map<HashAlg, Uint8Array> {
  return new Map(banks.map((b) => [b, new Uint8Array(hash(b).length)]));
}

function measure(pcrIndex: number, text: string, eventType: number = EV.IPL): EventInput {
  return { pcrIndex, eventType, digests: digestsOf(text), data: utf8(text) };
}

function noAction(pcrIndex: number, data: Uint8Array): EventInput {
  return { pcrIndex, eventType: EV.NO_ACTION, digests: zeroDigests(), data };
}

function agile(events: readonly EventInput[], specId: SpecIdInput = specIdForBanks(BANKS)): Uint8Array {
  return encodeEventLog({ format: "crypto-agile", specId, events });
}

/** PCR value after extending `texts`' digests in order from `start`. */
function chain(bank: HashAlg, texts: readonly string[], start?: Uint8Array): Uint8Array {
  let pcr: Uint8Array = start ?? new Uint8Array(hash(bank).length);
  for (const t of texts) pcr = hash(bank, pcr, hash(bank, utf8(t)));
  return pcr;
}

function withLocality(bank: HashAlg, locality: number): Uint8Array {
  const v = new Uint8Array(hash(bank).length);
  v[v.length - 1] = locality;
  return v;
}

test("a SHA-1 log (TCG_PCR_EVENT records only) decodes and replays", () => {
  const log: EventLogInput = {
    format: "sha1",
    events: [
      { ...measure(0, "crtm", EV.S_CRTM_VERSION), digests: digestsOf("crtm", ["sha1"]) },
      { ...measure(4, "app", EV.EFI_BOOT_SERVICES_APPLICATION), digests: digestsOf("app", ["sha1"]) },
      { ...measure(0, "sep", EV.SEPARATOR), digests: digestsOf("sep", ["sha1"]) },
      { pcrIndex: 5, eventType: EV.NO_ACTION, digests: digestsOf("ignored", ["sha1"]), data: utf8("x") },
      { ...measure(4, "app2", EV.EFI_BOOT_SERVICES_APPLICATION), digests: digestsOf("app2", ["sha1"]) },
    ],
  };
  const bytes = encodeEventLog(log);
  assert.equal(bytes.length, 5 * 32 + "crtmappsepxapp2".length);
  const decoded = decodeEventLog(bytes);
  assert.equal(decoded.format, "sha1");
  assert.deepEqual(decoded.banks, ["sha1"]);
  assert.equal(decoded.specId, undefined);
  assert.deepEqual(
    decoded.events.map((e) => [e.index, e.pcrIndex, e.eventTypeName]),
    [
      [0, 0, "EV_S_CRTM_VERSION"],
      [1, 4, "EV_EFI_BOOT_SERVICES_APPLICATION"],
      [2, 0, "EV_SEPARATOR"],
      [3, 5, "EV_NO_ACTION"],
      [4, 4, "EV_EFI_BOOT_SERVICES_APPLICATION"],
    ],
  );
  const replayed = replayEventLog(decoded);
  assert.deepEqual([...replayed.keys()], ["sha1"]);
  // The EV_NO_ACTION record touches nothing: PCR 5 is not in the replay.
  assert.deepEqual(
    replayed.get("sha1"),
    new Map([
      [0, chain("sha1", ["crtm", "sep"])],
      [4, chain("sha1", ["app", "app2"])],
    ]),
  );
  assert.deepEqual(replayEventLog(decoded, ["sha256"]), new Map(), "a SHA-1 log has no SHA-256 bank");
});

test("a crypto-agile log replays each bank independently and skips EV_NO_ACTION", () => {
  const bytes = agile([
    measure(0, "a"),
    noAction(0, utf8("informational")),
    noAction(0x01800402, utf8("an NV-extend record names no PCR")),
    measure(7, "b"),
    measure(0, "c"),
  ]);
  const log = decodeEventLog(bytes);
  assert.equal(log.format, "crypto-agile");
  assert.deepEqual(log.banks, BANKS);
  assert.deepEqual(
    log.events.map((e) => e.index),
    [1, 2, 3, 4, 5],
  );
  const replayed = replayEventLog(log);
  for (const bank of BANKS) {
    assert.deepEqual(
      replayed.get(bank),
      new Map([
        [0, chain(bank, ["a", "c"])],
        [7, chain(bank, ["b"])],
      ]),
    );
  }
  assert.deepEqual([...replayEventLog(log, ["sha256", "sha384", "sha256"]).keys()], ["sha256"]);
});

test("the encoder reproduces every vector byte for byte from its decoding", () => {
  for (const name of VECTORS) {
    const bytes = loadVector(name);
    assert.deepEqual(encodeEventLog(decodeEventLog(bytes)), bytes, name);
  }
});

test("a StartupLocality event sets PCR 0's reset value and is itself never extended", () => {
  const log = decodeEventLog(agile([noAction(0, startupLocalityEventData(3)), measure(0, "crtm"), measure(1, "x")]));
  assert.equal(log.startupLocality, 3);
  const replayed = replayEventLog(log);
  for (const bank of BANKS) {
    // PFP §10.4.5.3: PCR 0 starts at 0…03, then the CRTM measurement extends it.
    assert.deepEqual(replayed.get(bank)!.get(0), chain(bank, ["crtm"], withLocality(bank, 3)));
    assert.deepEqual(replayed.get(bank)!.get(1), chain(bank, ["x"]));
  }
  // With no PCR 0 measurement, PCR 0 is still touched: it holds the locality.
  const only = replayEventLog(decodeEventLog(agile([noAction(0, startupLocalityEventData(3))])));
  assert.deepEqual(only.get("sha256"), new Map([[0, withLocality("sha256", 3)]]));
  // Locality 0 is recorded too, and gives the ordinary zero start.
  const zero = decodeEventLog(agile([noAction(0, startupLocalityEventData(0)), measure(0, "crtm")]));
  assert.equal(zero.startupLocality, 0);
  assert.deepEqual(replayEventLog(zero).get("sha1")!.get(0), chain("sha1", ["crtm"]));
});

test("StartupLocality events that break PFP §10.4.5.3 are malformed", () => {
  const loc = startupLocalityEventData(3);
  const cases: [string, EventInput[], string][] = [
    ["outside PCR 0", [noAction(1, loc)], "bad-value"],
    ["too long", [noAction(0, concatBytes(loc, new Uint8Array(1)))], "bad-length"],
    ["no locality byte", [noAction(0, loc.subarray(0, 16))], "bad-length"],
    ["locality 5", [noAction(0, startupLocalityEventData(5))], "bad-value"],
    ["twice", [noAction(0, loc), noAction(0, loc)], "bad-value"],
    ["after a PCR 0 measurement", [measure(0, "crtm"), noAction(0, loc)], "bad-value"],
  ];
  for (const [what, events, code] of cases) {
    assert.throws(() => decodeEventLog(agile(events)), malformed(code as "bad-value"), what);
  }
  // A StartupLocality event after measurements of other PCRs is fine.
  assert.equal(decodeEventLog(agile([measure(1, "x"), noAction(0, loc)])).startupLocality, 3);
});

test("an H-CRTM event starts PCR 0 at locality 4 and must be PCR 0's first measurement", () => {
  const hcrtm = measure(0, "HCRTM", EV.EFI_HCRTM_EVENT);
  const log = decodeEventLog(agile([measure(1, "x"), hcrtm, measure(0, "crtm")]));
  assert.equal(log.startupLocality, 4);
  // TPM 2.0 Part 1 §34.3: the H-CRTM resets PCR 0 to 0…04, then extends its digest.
  assert.deepEqual(
    replayEventLog(log).get("sha256")!.get(0),
    chain("sha256", ["HCRTM", "crtm"], withLocality("sha256", 4)),
  );
  assert.equal(decodeEventLog(agile([noAction(0, startupLocalityEventData(4)), hcrtm])).startupLocality, 4);
  assert.throws(() => decodeEventLog(agile([measure(0, "crtm"), hcrtm])), malformed("bad-value"));
  assert.throws(() => decodeEventLog(agile([hcrtm, hcrtm])), malformed("bad-value"));
  assert.throws(() => decodeEventLog(agile([noAction(0, startupLocalityEventData(3)), hcrtm])), malformed("bad-value"));
});

test("format detection: only an EV_NO_ACTION record with the Spec ID Event03 signature makes a crypto-agile log", () => {
  // A TPM 1.2-era "Spec ID Event00" header is just a record of a SHA-1 log.
  const legacyHeader = concatBytes(utf8("Spec ID Event00\0"), new Uint8Array(8));
  const sha1Log = decodeEventLog(
    encodeEventLog({
      format: "sha1",
      events: [
        { pcrIndex: 0, eventType: EV.NO_ACTION, digests: zeroDigests(["sha1"]), data: legacyHeader },
        { ...measure(0, "a"), digests: digestsOf("a", ["sha1"]) },
      ],
    }),
  );
  assert.equal(sha1Log.format, "sha1");
  assert.equal(sha1Log.events.length, 2);
  // The Event03 signature in a record that is not EV_NO_ACTION does not make a header either.
  const specData = encodeSpecIdEvent(specIdForBanks(["sha1"]));
  const notHeader = decodeEventLog(
    encodeEventLog({
      format: "sha1",
      events: [{ pcrIndex: 0, eventType: EV.ACTION, digests: digestsOf("a", ["sha1"]), data: specData }],
    }),
  );
  assert.equal(notHeader.format, "sha1");
});

/** A log whose first record, an EV_NO_ACTION TCG_PCR_EVENT, is written by hand. */
function withHeader(pcrIndex: number, digest: Uint8Array, specData: Uint8Array): Uint8Array {
  const header: EventInput = {
    pcrIndex,
    eventType: EV.NO_ACTION,
    digests: new Map([["sha1", digest]]),
    data: specData,
  };
  return encodeEventLog({ format: "sha1", events: [header] });
}

test("Spec ID events that break PFP §10.4.5.1 are malformed", () => {
  const good = specIdForBanks(BANKS);
  const z = new Uint8Array(20);
  const sm3 = { algorithmId: TPM_ALG.SM3_256, digestSize: 32 };
  const cases: [string, Uint8Array, string][] = [
    ["header outside PCR 0", withHeader(1, z, encodeSpecIdEvent(good)), "bad-value"],
    [
      "non-zero header digest",
      withHeader(
        0,
        z.map((_, i) => (i === 19 ? 1 : 0)),
        encodeSpecIdEvent(good),
      ),
      "bad-value",
    ],
    ["version 1.0", withHeader(0, z, encodeSpecIdEvent({ ...good, specVersionMajor: 1 })), "unsupported"],
    ["version 2.1", withHeader(0, z, encodeSpecIdEvent({ ...good, specVersionMinor: 1 })), "unsupported"],
    ["uintnSize 3", withHeader(0, z, encodeSpecIdEvent({ ...good, uintnSize: 3 })), "bad-value"],
    ["no algorithms", withHeader(0, z, encodeSpecIdEvent({ algorithms: [] })), "bad-value"],
    [
      "nine algorithms",
      withHeader(
        0,
        z,
        encodeSpecIdEvent({
          algorithms: Array.from({ length: 9 }, (_, i) => ({ algorithmId: 0x100 + i, digestSize: 32 })),
        }),
      ),
      "too-large",
    ],
    ["an algorithm twice", withHeader(0, z, encodeSpecIdEvent(specIdForBanks(["sha1", "sha1"]))), "bad-value"],
    [
      "a SHA-256 digest size of 20",
      withHeader(0, z, encodeSpecIdEvent({ algorithms: [{ algorithmId: TPM_ALG.SHA256, digestSize: 20 }] })),
      "bad-length",
    ],
    [
      "a zero digest size",
      withHeader(0, z, encodeSpecIdEvent({ algorithms: [{ ...sm3, digestSize: 0 }] })),
      "bad-length",
    ],
    [
      "a 65-byte digest",
      withHeader(0, z, encodeSpecIdEvent({ algorithms: [{ ...sm3, digestSize: 65 }] })),
      "bad-length",
    ],
    [
      "bytes after vendorInfo",
      withHeader(0, z, concatBytes(encodeSpecIdEvent(good), new Uint8Array([7]))),
      "trailing-data",
    ],
    ["cut in the algorithm list", withHeader(0, z, encodeSpecIdEvent(good).subarray(0, 30)), "truncated"],
  ];
  for (const [what, bytes, code] of cases) {
    assert.throws(() => decodeEventLog(bytes), malformed(code as "bad-value"), what);
  }
});

test("a bank this project cannot hash (SM3_256) is decoded, kept aside and not replayed", () => {
  const specId: SpecIdInput = {
    algorithms: [
      { algorithmId: TPM_ALG.SM3_256, digestSize: 32 },
      { algorithmId: TPM_ALG.SHA256, digestSize: 32 },
    ],
    vendorInfo: utf8("vendor"),
  };
  const sm3Digest = new Uint8Array(32).fill(0x33);
  const event: EventInput = {
    pcrIndex: 2,
    eventType: EV.EFI_BOOT_SERVICES_DRIVER,
    digests: digestsOf("drv", ["sha256"]),
    otherDigests: new Map([[TPM_ALG.SM3_256, sm3Digest]]),
    data: utf8("drv"),
  };
  const log = decodeEventLog(agile([event], specId));
  assert.deepEqual(log.banks, ["sha256"]);
  assert.deepEqual(log.specId?.vendorInfo, utf8("vendor"));
  assert.deepEqual(log.events[0]!.otherDigests, new Map([[TPM_ALG.SM3_256, sm3Digest]]));
  assert.deepEqual(replayEventLog(log).get("sha256"), new Map([[2, chain("sha256", ["drv"])]]));
});

test("TCG_PCR_EVENT2 records that break PFP §10.2.2 are malformed", () => {
  const ok = measure(3, "x");
  const cases: [string, EventInput, string][] = [
    ["one digest short", { ...ok, digests: digestsOf("x", ["sha256"]) }, "bad-value"],
    ["one digest too many", { ...ok, otherDigests: new Map([[TPM_ALG.SHA384, new Uint8Array(48)]]) }, "bad-value"],
    [
      "an algorithm the Spec ID event lacks",
      { ...ok, digests: digestsOf("x", ["sha1"]), otherDigests: new Map([[TPM_ALG.SHA384, new Uint8Array(48)]]) },
      "bad-value",
    ],
    [
      "an algorithm twice",
      { ...ok, digests: digestsOf("x", ["sha1"]), otherDigests: new Map([[TPM_ALG.SHA1, new Uint8Array(20)]]) },
      "bad-value",
    ],
    ["PCR 24", { ...ok, pcrIndex: 24 }, "bad-value"],
    ["PCR 0xffffffff", { ...ok, pcrIndex: 0xffffffff }, "bad-value"],
  ];
  for (const [what, event, code] of cases) {
    assert.throws(() => decodeEventLog(agile([measure(0, "first"), event])), malformed(code as "bad-value"), what);
  }
  // EV_NO_ACTION records are never extended, so any PCR index is accepted there.
  assert.equal(decodeEventLog(agile([noAction(0xffffffff, utf8("x"))])).events[0]!.pcrIndex, 0xffffffff);
});

test("an event larger than 16 MiB, or larger than what is left, is malformed", () => {
  const bytes = agile([measure(0, "a"), measure(1, "bb")]);
  const sizeAt = bytes.length - 2 - 4; // the last record's eventSize
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  view.setUint32(sizeAt, MAX_EVENT_DATA_SIZE + 1, true);
  assert.throws(() => decodeEventLog(bytes), malformed("too-large"));
  view.setUint32(sizeAt, 3, true);
  assert.throws(() => decodeEventLog(bytes), malformed("truncated"));
  view.setUint32(sizeAt, 0xffffffff, true);
  assert.throws(() => decodeEventLog(bytes), malformed("too-large"));
  view.setUint32(sizeAt, 2, true);
  assert.equal(decodeEventLog(bytes).events.length, 2);
});

test("truncated logs are malformed (truncated), naming the record", () => {
  for (const name of VECTORS) {
    const bytes = loadVector(name);
    const log = decodeEventLog(bytes);
    const lastStart =
      bytes.length - encodeEventLog({ ...log, events: log.events.slice(-1) }).length + headerLength(log);
    // Cut inside the last record's header, digests, size field and data.
    for (const cut of [lastStart + 3, lastStart + 13, lastStart + 30, bytes.length - 1]) {
      assert.throws(
        () => decodeEventLog(bytes.subarray(0, cut)),
        (e: unknown) =>
          malformed("truncated")(e) && (e as Error).message.includes(`record ${log.events.at(-1)!.index}`),
        `${name} cut at ${cut}`,
      );
    }
  }
  assert.throws(() => decodeEventLog(new Uint8Array(0)), malformed("truncated"));
  assert.throws(() => decodeEventLog(loadVector("rhel8-uefi.bin").subarray(0, 40)), malformed("truncated"));
});

/** Length of the Spec ID header record that encodeEventLog writes for `log` (0 for a SHA-1 log). */
function headerLength(log: EventLogInput): number {
  return log.format === "crypto-agile" ? encodeEventLog({ ...log, events: [] }).length : 0;
}

test("padding after the last record: rejected by default, skipped with allowPadding", () => {
  const bytes = agile([measure(0, "a")]);
  for (const fill of [0x00, 0xff]) {
    const padded = concatBytes(bytes, new Uint8Array(100).fill(fill));
    assert.throws(() => decodeEventLog(padded), malformed("trailing-data"));
    const log = decodeEventLog(padded, { allowPadding: true });
    assert.equal(log.paddingLength, 100);
    assert.equal(log.events.length, 1);
    assert.deepEqual(replayEventLog(log), replayEventLog(decodeEventLog(bytes)));
  }
  // A SHA-1 log gets the same treatment, although 32 zero bytes would parse as a record.
  const sha1 = encodeEventLog({ format: "sha1", events: [{ ...measure(0, "a"), digests: digestsOf("a", ["sha1"]) }] });
  assert.throws(() => decodeEventLog(concatBytes(sha1, new Uint8Array(64))), malformed("trailing-data"));
  assert.equal(decodeEventLog(concatBytes(sha1, new Uint8Array(64)), { allowPadding: true }).events.length, 1);
  // Padding is one byte value throughout; anything else after the last record is a record, and fails as one.
  const mixed = concatBytes(bytes, new Uint8Array(50), new Uint8Array(50).fill(0xff));
  assert.throws(() => decodeEventLog(mixed, { allowPadding: true }), malformed());
  // A buffer of padding alone is no log.
  assert.throws(() => decodeEventLog(new Uint8Array(64), { allowPadding: true }), malformed("bad-value"));
  assert.throws(() => decodeEventLog(new Uint8Array(64).fill(0xff)), malformed("bad-value"));
});

test("decoded events are frozen copies that do not alias the input", () => {
  const bytes = agile([measure(4, "app")]);
  const log = decodeEventLog(bytes);
  const event = log.events[0]!;
  assert.ok(Object.isFrozen(log) && Object.isFrozen(log.events) && Object.isFrozen(event));
  bytes.fill(0);
  assert.deepEqual(event.data, utf8("app"));
  assert.deepEqual(event.digests.get("sha256"), hash("sha256", utf8("app")));
});

test("event type names follow PFP §10.4.1; unknown types are named by value", () => {
  assert.equal(eventTypeName(EV.EFI_VARIABLE_DRIVER_CONFIG), "EV_EFI_VARIABLE_DRIVER_CONFIG");
  assert.equal(eventTypeName(0x0d), "EV_IPL");
  assert.equal(eventTypeName(0x800000e0), "EV_EFI_VARIABLE_AUTHORITY");
  assert.equal(eventTypeName(0x10000001), "0x10000001");
  assert.equal(eventTypeName(0x14), "0x00000014");
  assert.equal(new Set(Object.values(EV)).size, Object.keys(EV).length, "no value named twice");
});
