/**
 * Property tests of the event-log decoder: random and mutated bytes yield a
 * log or a MalformedError, nothing else; encode/decode round-trips in both
 * formats; a decoded log always replays.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type HashAlg, MalformedError, TPM_ALG } from "@veritee/core";
import fc from "fast-check";
import {
  decodeEventLog,
  EV,
  type EventInput,
  type EventLog,
  type EventLogInput,
  encodeEventLog,
  replayEventLog,
  type SpecIdInput,
  specIdForBanks,
} from "../../src/index.js";
import { loadVector, VECTORS } from "./helpers.js";

/** Decode and replay; only MalformedError may escape. */
function decodeOrMalformed(bytes: Uint8Array, allowPadding: boolean): EventLog | undefined {
  try {
    const log = decodeEventLog(bytes, { allowPadding });
    replayEventLog(log);
    return log;
  } catch (e) {
    if (e instanceof MalformedError) return undefined;
    throw e;
  }
}

const vectors = VECTORS.map(loadVector);

test("arbitrary bytes decode to a log or a MalformedError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, allowPadding) => {
      decodeOrMalformed(bytes, allowPadding);
    }),
    { numRuns: 2000 },
  );
});

test("bytes behind a valid header decode to a log or a MalformedError", () => {
  // A valid Spec ID header gets random bytes past the format detection.
  const header = encodeEventLog({ format: "crypto-agile", specId: specIdForBanks(["sha1", "sha256"]), events: [] });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
      const bytes = new Uint8Array(header.length + tail.length);
      bytes.set(header);
      bytes.set(tail, header.length);
      decodeOrMalformed(bytes, false);
    }),
    { numRuns: 1000 },
  );
});

type MutationValue =
  | { kind: "set"; at: number; values: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "insert"; at: number; values: Uint8Array }
  | { kind: "cut"; at: number };

/** A mutation of a vector: overwritten bytes, a deletion, an insertion, or a cut. */
const mutation: fc.Arbitrary<MutationValue> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), values: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    values: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
);

function mutate(bytes: Uint8Array, m: MutationValue): Uint8Array {
  const at = m.at % (bytes.length + 1);
  switch (m.kind) {
    case "set": {
      const out = bytes.slice();
      out.set(m.values.subarray(0, Math.max(0, out.length - at)), at);
      return out;
    }
    case "delete":
      return new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)]);
    case "insert":
      return new Uint8Array([...bytes.subarray(0, at), ...m.values, ...bytes.subarray(at)]);
    case "cut":
      return bytes.subarray(0, at);
  }
}

test("mutated vectors decode to a log or a MalformedError", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: vectors.length - 1 }),
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      (which, mutations, allowPadding) => {
        let bytes = vectors[which]!;
        for (const m of mutations) bytes = mutate(bytes, m);
        decodeOrMalformed(bytes, allowPadding);
      },
    ),
    { numRuns: 300 },
  );
});

const BANK_SIZES: Readonly<Record<HashAlg, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** Spec ID events: 1-4 banks from the hashes we replay and two we do not (SM3_256, SHA3_256). */
const specIdArb: fc.Arbitrary<SpecIdInput> = fc
  .uniqueArray(
    fc.constantFrom(
      ...(["sha1", "sha256", "sha384", "sha512"] as const).map((h) => ({
        algorithmId: { sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384, sha512: TPM_ALG.SHA512 }[h],
        digestSize: BANK_SIZES[h],
        hash: h as HashAlg | undefined,
      })),
      { algorithmId: TPM_ALG.SM3_256, digestSize: 32, hash: undefined },
      { algorithmId: 0x0027, digestSize: 32, hash: undefined },
    ),
    { minLength: 1, maxLength: 4, selector: (a) => a.algorithmId },
  )
  .chain((algs) =>
    fc.record({
      platformClass: fc.constantFrom(0, 1),
      specVersionMinor: fc.constant(0),
      specVersionMajor: fc.constant(2),
      specErrata: fc.nat(255),
      uintnSize: fc.constantFrom(1, 2),
      algorithms: fc.constant(algs.map(({ algorithmId, digestSize }) => ({ algorithmId, digestSize }))),
      vendorInfo: fc.uint8Array({ maxLength: 8 }),
    }),
  );

/**
 * Event types without a rule that ties them to their position: any value but
 * EV_EFI_HCRTM_EVENT (PCR 0's first measurement only) and EV_NO_ACTION
 * (generated separately, with data that is not a StartupLocality event).
 */
const eventTypeArb = fc.oneof(
  fc.constantFrom(...Object.values(EV).filter((t) => t !== EV.NO_ACTION && t !== EV.EFI_HCRTM_EVENT)),
  fc.nat().filter((t) => t !== EV.NO_ACTION && t !== EV.EFI_HCRTM_EVENT),
);

function eventArb(banks: readonly { algorithmId: number; digestSize: number }[]): fc.Arbitrary<EventInput> {
  const digestsArb = fc.tuple(...banks.map((b) => fc.uint8Array({ minLength: b.digestSize, maxLength: b.digestSize })));
  const measuring = fc.record({
    pcrIndex: fc.integer({ min: 0, max: 23 }),
    eventType: eventTypeArb,
  });
  const informational = fc.record({ pcrIndex: fc.nat(), eventType: fc.constant<number>(EV.NO_ACTION) });
  return fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: measuring }, { weight: 1, arbitrary: informational }),
      digestsArb,
      fc.uint8Array({ maxLength: 40 }),
    )
    .map(([head, digests, data]) => {
      const known = new Map<HashAlg, Uint8Array>();
      const other = new Map<number, Uint8Array>();
      banks.forEach((b, i) => {
        const h = ({ 4: "sha1", 11: "sha256", 12: "sha384", 13: "sha512" } as Record<number, HashAlg>)[b.algorithmId];
        if (h !== undefined) known.set(h, digests[i]!);
        else other.set(b.algorithmId, digests[i]!);
      });
      // Random data never starts with "StartupLocality\0" in practice; make sure.
      if (head.eventType === EV.NO_ACTION && data.length >= 16 && data[0] === 0x53) data[0] = 0;
      return { ...head, digests: known, otherDigests: other, data };
    });
}

const agileLogArb: fc.Arbitrary<EventLogInput> = specIdArb.chain((specId) =>
  fc.record({
    format: fc.constant("crypto-agile" as const),
    specId: fc.constant(specId),
    events: fc.array(eventArb(specId.algorithms), { maxLength: 12 }),
  }),
);

const sha1LogArb: fc.Arbitrary<EventLogInput> = fc
  .array(eventArb([{ algorithmId: TPM_ALG.SHA1, digestSize: 20 }]), { minLength: 1, maxLength: 12 })
  .filter((events) => {
    // An all-zero last record reads as padding (see decodeEventLog); and a
    // first record must not look like a Spec ID header (it has no such data here).
    const last = events.at(-1)!;
    return !(
      last.pcrIndex === 0 &&
      last.eventType === 0 &&
      last.data.length === 0 &&
      last.digests.get("sha1")!.every((b) => b === 0)
    );
  })
  .map((events) => ({ format: "sha1" as const, events }));

/** The part of a log that encoding carries, for comparison. */
function shape(log: EventLogInput): unknown {
  return {
    format: log.format,
    specId:
      log.format === "crypto-agile"
        ? {
            ...log.specId,
            algorithms: log.specId!.algorithms.map(({ algorithmId, digestSize }) => ({ algorithmId, digestSize })),
          }
        : undefined,
    events: log.events.map((e) => ({
      pcrIndex: e.pcrIndex,
      eventType: e.eventType,
      digests: e.digests,
      otherDigests: e.otherDigests ?? new Map(),
      data: e.data,
    })),
  };
}

test("decode(encode(log)) equals log, and re-encodes to the same bytes, in both formats", () => {
  fc.assert(
    fc.property(fc.oneof(agileLogArb, sha1LogArb), (input) => {
      const bytes = encodeEventLog(input);
      const log = decodeEventLog(bytes);
      assert.deepEqual(shape(log), shape(input));
      assert.deepEqual(encodeEventLog(log), bytes);
      // Every bank the log can hash replays, and only measuring events touch PCRs.
      const replayed = replayEventLog(log);
      const touched = new Set(log.events.filter((e) => e.eventType !== EV.NO_ACTION).map((e) => e.pcrIndex));
      for (const bank of log.banks) assert.deepEqual(new Set(replayed.get(bank)!.keys()), touched);
    }),
    { numRuns: 300 },
  );
});
