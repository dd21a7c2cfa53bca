/**
 * The launch log: strict decoding, encoding, replay, and verification
 * against a quoted PCR value, with an attack test for each rule and
 * fast-check properties for the decoder.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { MalformedError, toHex, utf8 } from "@veritee/core";
import fc from "fast-check";
import {
  canonicalJson,
  createLaunchEvent,
  decodeLaunchLog,
  encodeLaunchLog,
  type JsonValue,
  LAUNCH_SEPARATOR,
  type LaunchLog,
  launchEventDigest,
  launchLogToJson,
  replayLaunchLog,
  VerificationError,
  VerifiedLaunchLog,
  verifyLaunchLog,
} from "../../src/index.js";
import {
  arbitraryLaunchLog,
  arbitraryMutation,
  configurationData,
  freshKeySet,
  HEX_A,
  launchEvents,
  logOf,
  mutate,
} from "./fixtures.js";

// biome-ignore lint/suspicious/noExplicitAny: the tests edit arbitrary paths of parsed JSON
type Edit = any;

const keySet = freshKeySet();
const events = launchEvents(keySet);
const log = logOf(events);
const json = launchLogToJson(log) as unknown as JsonValue;

function malformed(code?: string) {
  return (e: unknown) => e instanceof MalformedError && (code === undefined || e.code === code);
}
function verification(code: string) {
  return (e: unknown) => e instanceof VerificationError && e.code === code;
}

/** An independent replay with node:crypto. */
function replayIndependently(digests: readonly Uint8Array[]): Uint8Array {
  let pcr = Buffer.alloc(32);
  for (const d of digests) pcr = createHash("sha256").update(pcr).update(d).digest();
  return new Uint8Array(pcr);
}

describe("launch log encoding", () => {
  test("event digest = SHA-256 of the canonical data; the separator digest is fixed", () => {
    const sep = createLaunchEvent(15, "separator", { separator: LAUNCH_SEPARATOR });
    const expected = createHash("sha256").update('{"separator":"veritee-launch-separator-v1"}').digest("hex");
    assert.equal(toHex(sep.digest), expected);
    for (const e of events) assert.deepEqual(e.digest, launchEventDigest(e.data));
  });

  test("the serialized log is canonical JSON with the documented members", () => {
    const text = new TextDecoder().decode(encodeLaunchLog(log));
    assert.equal(text, canonicalJson(JSON.parse(text)));
    const parsed = JSON.parse(text);
    assert.deepEqual(Object.keys(parsed), ["events", "hashAlg", "version"]);
    assert.deepEqual(Object.keys(parsed.events[0]), ["data", "digest", "pcr", "type"]);
    assert.equal(parsed.version, 1);
    assert.equal(parsed.hashAlg, "sha256");
  });

  test("decode(encode(log)) equals the log, from bytes and from parsed JSON", () => {
    assert.deepEqual(decodeLaunchLog(encodeLaunchLog(log)), log);
    assert.deepEqual(decodeLaunchLog(JSON.parse(JSON.stringify(json))), log);
  });

  test("replay = SHA-256 chain from zeros over the event digests", () => {
    assert.deepEqual(replayLaunchLog(log), replayIndependently(events.map((e) => e.digest)));
  });

  test("createLaunchEvent refuses data outside the schema and PCRs outside 8–15", () => {
    assert.throws(() => createLaunchEvent(16, "key-set", { digest: HEX_A }), malformed());
    assert.throws(() => createLaunchEvent(23, "key-set", { digest: HEX_A }), malformed());
    assert.throws(() => createLaunchEvent(7, "key-set", { digest: HEX_A }), malformed());
    assert.throws(() => createLaunchEvent(15, "key-set", { digest: HEX_A.toUpperCase() }), malformed("bad-hex"));
    assert.throws(() => createLaunchEvent(15, "model", { id: "a\nb", digest: HEX_A, size: 1 }), malformed("bad-value"));
    assert.throws(
      () => createLaunchEvent(15, "configuration", { digest: HEX_A, config: { a: 1 } }),
      malformed("bad-value"),
    );
  });
});

describe("decodeLaunchLog is strict", () => {
  const cases: [string, (j: Edit) => void, string][] = [
    ["another version", (j) => (j.version = 2), "unsupported"],
    ["another hash", (j) => (j.hashAlg = "sha1"), "unsupported"],
    ["an unknown top-level member", (j) => (j.extra = 1), "bad-value"],
    ["no events", (j) => (j.events = []), "bad-length"],
    ["an unknown event type", (j) => (j.events[0].type = "kernel"), "unsupported"],
    ["an unknown event member", (j) => (j.events[0].note = "x"), "bad-value"],
    ["a missing data member", (j) => delete j.events[0].data.files, "bad-value"],
    ["an extra data member", (j) => (j.events[0].data.path = "/x"), "bad-value"],
    ["a digest of the wrong length", (j) => (j.events[0].digest = "ab"), "bad-hex"],
    ["an upper-case digest", (j) => (j.events[0].digest = j.events[0].digest.toUpperCase()), "bad-hex"],
    ["a digest that is not H(data)", (j) => (j.events[0].digest = "0".repeat(64)), "bad-value"],
    ["data changed under its digest", (j) => (j.events[4].data.digest = "c".repeat(64)), "bad-value"],
    ["a configuration whose digest is not H(config)", (j) => (j.events[1].data.config.port = 1), "bad-value"],
    ["events on different PCRs", (j) => (j.events[1].pcr = 14), "bad-value"],
    [
      "a resettable PCR",
      (j) => {
        for (const e of j.events) e.pcr = 23;
      },
      "bad-value",
    ],
    ["a negative size", (j) => (j.events[4].data.size = -1), "bad-value"],
    ["a fractional size", (j) => (j.events[4].data.size = 1.5), "bad-value"],
    ["a wrong separator", (j) => (j.events[6].data.separator = "end"), "bad-value"],
    ["relabelled type (model data as engine-binary)", (j) => (j.events[4].type = "engine-binary"), "bad-value"],
  ];
  for (const [name, change, code] of cases) {
    test(`refuses ${name}`, () => {
      const j = structuredClone(json) as Edit;
      change(j);
      assert.throws(() => decodeLaunchLog(j), malformed(code));
    });
  }

  test("refuses bytes that are not the canonical serialization", () => {
    const pretty = utf8(JSON.stringify(json, null, 2));
    assert.throws(() => decodeLaunchLog(pretty), malformed("bad-value"));
    const text = new TextDecoder().decode(encodeLaunchLog(log));
    // The same member twice: JSON.parse would keep the last; canonical form refuses it.
    const dup = text.replace('{"events":', '{"version":1,"events":');
    assert.throws(() => decodeLaunchLog(utf8(dup)), malformed("bad-value"));
  });

  test("refuses too many events and oversized input", () => {
    const many = logOf(Array(65).fill(events[0]!));
    assert.throws(() => decodeLaunchLog(launchLogToJson(many)), malformed("too-large"));
    assert.throws(() => decodeLaunchLog(new Uint8Array(256 * 1024 + 1)), malformed("too-large"));
  });

  test("arbitrary JSON values decode or fail with MalformedError only", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          decodeLaunchLog(v);
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });

  test("arbitrary bytes decode or fail with MalformedError only", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeLaunchLog(bytes);
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });

  test("mutated logs (as JSON and as bytes) decode or fail with MalformedError only", () => {
    fc.assert(
      fc.property(arbitraryMutation, fc.boolean(), (m, asBytes) => {
        const mutated = mutate(json, m);
        try {
          const decoded = decodeLaunchLog(asBytes ? utf8(canonicalJson(mutated)) : mutated);
          // Whatever decodes is self-consistent: each digest is its data's.
          for (const e of decoded.events) assert.deepEqual(e.digest, launchEventDigest(e.data));
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("flipped bytes of a serialized log decode or fail with MalformedError only", () => {
    const bytes = encodeLaunchLog(log);
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const copy = bytes.slice();
        copy[at]! ^= xor;
        try {
          decodeLaunchLog(copy);
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("round trip for arbitrary logs", () => {
    fc.assert(
      fc.property(arbitraryLaunchLog, (l) => {
        assert.deepEqual(decodeLaunchLog(encodeLaunchLog(l)), l);
        assert.deepEqual(decodeLaunchLog(launchLogToJson(l)), l);
      }),
      { numRuns: 300 },
    );
  });
});

describe("verifyLaunchLog", () => {
  const pcrValue = replayLaunchLog(log);

  test("a sealed, complete log that replays to the quoted PCR verifies", () => {
    const v = verifyLaunchLog(log, pcrValue);
    assert.ok(VerifiedLaunchLog.is(v));
    assert.equal(v.pcr, 15);
    assert.equal(v.codeBundle.digest, HEX_A);
    assert.equal(v.models[0]!.id, "stories260K");
    assert.equal(v.engineBinaries.length, 1);
    assert.equal(v.runtime.version, "v20.20.2");
    assert.deepEqual(v.configuration.config, { host: "127.0.0.1", port: 8443 });
    assert.equal(toHex(v.keySetDigest), (events[5]!.data as { digest: string }).digest);
    assert.throws(() => new (VerifiedLaunchLog as Edit)(Symbol("x"), log, pcrValue, {}), TypeError);
  });

  test("a modified event with a re-computed digest no longer replays: launch-log-mismatch", () => {
    const evil = [...events];
    evil[4] = createLaunchEvent(15, "model", { id: "stories260K", digest: "e".repeat(64), size: 1185376 });
    assert.throws(() => verifyLaunchLog(logOf(evil), pcrValue), verification("launch-log-mismatch"));
  });

  test("an event appended after the separator: launch-log-unsealed", () => {
    const appended = [...events, createLaunchEvent(15, "model", { id: "x", digest: HEX_A, size: 1 })];
    // Even when the PCR was really extended with it.
    const value = replayLaunchLog(logOf(appended));
    assert.throws(() => verifyLaunchLog(logOf(appended), value), verification("launch-log-unsealed"));
  });

  test("a missing separator or a second one: launch-log-unsealed", () => {
    const unsealed = events.slice(0, -1);
    assert.throws(
      () => verifyLaunchLog(logOf(unsealed), replayLaunchLog(logOf(unsealed))),
      verification("launch-log-unsealed"),
    );
    const twice = [...events.slice(0, 2), events[6]!, ...events.slice(2)];
    assert.throws(
      () => verifyLaunchLog(logOf(twice), replayLaunchLog(logOf(twice))),
      verification("launch-log-unsealed"),
    );
  });

  test("a missing or repeated required event: launch-log-incomplete", () => {
    for (const drop of [0, 1, 2, 5]) {
      const partial = events.filter((_, i) => i !== drop);
      assert.throws(
        () => verifyLaunchLog(logOf(partial), replayLaunchLog(logOf(partial))),
        verification("launch-log-incomplete"),
        `without event ${drop}`,
      );
    }
    const twoKeySets = [...events.slice(0, 6), createLaunchEvent(15, "key-set", { digest: HEX_A }), events[6]!];
    assert.throws(
      () => verifyLaunchLog(logOf(twoKeySets), replayLaunchLog(logOf(twoKeySets))),
      verification("launch-log-incomplete"),
    );
  });

  test("models and engine binaries are optional (an upstream engine has none)", () => {
    const upstream = events.filter((e) => e.type !== "model" && e.type !== "engine-binary");
    const v = verifyLaunchLog(logOf(upstream), replayLaunchLog(logOf(upstream)));
    assert.equal(v.models.length, 0);
  });

  test("the quoted value of another PCR, or of another size: launch-log-mismatch", () => {
    assert.throws(() => verifyLaunchLog(log, pcrValue, { pcr: 14 }), verification("launch-log-mismatch"));
    assert.throws(() => verifyLaunchLog(log, new Uint8Array(32)), verification("launch-log-mismatch"));
    assert.throws(() => verifyLaunchLog(log, pcrValue.subarray(0, 20)), verification("launch-log-mismatch"));
    const reordered = [events[1]!, events[0]!, ...events.slice(2)];
    assert.throws(() => verifyLaunchLog(logOf(reordered), pcrValue), verification("launch-log-mismatch"));
  });

  test("arbitrary decoded logs verify or fail with VerificationError only", () => {
    fc.assert(
      fc.property(arbitraryLaunchLog, fc.boolean(), (l: LaunchLog, honest) => {
        const value = honest ? replayLaunchLog(l) : new Uint8Array(32).fill(1);
        try {
          verifyLaunchLog(l, value, { pcr: l.pcr });
        } catch (e) {
          if (!(e instanceof VerificationError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });

  test("configuration data keeps non-ASCII and nested members canonical", () => {
    const data = configurationData({ é: { z: [1, 2], a: null }, b: true });
    const e = createLaunchEvent(15, "configuration", data);
    assert.deepEqual(Object.keys(e.data.config as object), ["b", "é"]);
  });
});
