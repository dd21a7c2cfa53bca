import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { MalformedError, toHex } from "@veritee/core";
import { sharedPath } from "@veritee/testkit";
import { makeRoot } from "@veritee/testkit/x509";
import fc from "fast-check";
import { VerificationError } from "../../src/errors.js";
import { decodeEventLog } from "../../src/eventlog/decode.js";
import { decodeGceAttestation, type GceAttestation } from "../../src/gce/attestation-pb.js";
import { GCE_EVENT_LOG_PCRS, VerifiedGceAttestation, verifyGceAttestation } from "../../src/gce/verify.js";
import { decodeTpmtPublic, encodeTpmtPublic, type RsaTpmtPublic } from "../../src/tpm/public.js";
import { TCG_KP_EK_CERTIFICATE } from "../../src/x509/certificate.js";
import { GCE_AK_CERT, GCE_AT, GCE_INTERMEDIATE_2, GCE_INTERMEDIATE_3, GCE_ROOT, gceVector } from "../x509/vectors.js";
import { encodeGceAttestation } from "./pb-encoder.js";

const PB = gceVector("gce-cos-85-nonce9009.pb");
const NONCE = Uint8Array.of(0x90, 0x09);
const base = { attestation: PB, nonce: NONCE, roots: [GCE_ROOT], intermediates: [GCE_INTERMEDIATE_2], at: GCE_AT };

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VerificationError, `expected VerificationError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at]! ^= 0x01;
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const at = Buffer.from(haystack).indexOf(Buffer.from(needle));
  assert.ok(at >= 0, "pattern not found");
  return at;
}

/** The vector with one field changed, re-encoded. */
function forge(change: (att: GceAttestation) => GceAttestation): Uint8Array {
  return encodeGceAttestation(change(decodeGceAttestation(PB)));
}

describe("decodeGceAttestation on the GCE vector", () => {
  it("decodes every field the vector has", () => {
    const att = decodeGceAttestation(PB);
    assert.equal(att.quotes.length, 3);
    assert.deepEqual(
      att.quotes.map((q) => q.pcrs?.hash),
      ["sha1", "sha256", "sha384"],
    );
    for (const q of att.quotes) assert.deepEqual([...q.pcrs!.values.keys()], [...Array(24).keys()]);
    // ak_pub is a TPMT_PUBLIC (no TPM2B size prefix): an RSA-2048 key.
    const ak = decodeTpmtPublic(att.akPub);
    assert.equal(ak.type, "rsa");
    assert.deepEqual(att.akCert, GCE_AK_CERT);
    assert.equal(att.intermediateCerts.length, 0);
    assert.equal(att.instanceInfo, undefined);
    assert.equal(att.teeAttestation, undefined);
    assert.equal(att.eventLog.length, 23970);
  });

  it("round-trips through the test encoder", () => {
    const att = decodeGceAttestation(PB);
    assert.deepEqual(decodeGceAttestation(encodeGceAttestation(att)), att);
    const withInfo: GceAttestation = {
      ...att,
      instanceInfo: {
        zone: "us-central1-a",
        projectId: "p",
        projectNumber: 2n ** 60n,
        instanceName: "vm",
        instanceId: 7n,
      },
      intermediateCerts: [GCE_INTERMEDIATE_2],
      canonicalEventLog: Uint8Array.of(1, 2, 3),
      teeAttestation: { kind: "tdx", message: Uint8Array.of(9) },
    };
    assert.deepEqual(decodeGceAttestation(encodeGceAttestation(withInfo)), withInfo);
  });
});

describe("verifyGceAttestation on the GCE vector", () => {
  it("verifies with nonce 0x9009 at the pinned time", async () => {
    const v = await verifyGceAttestation({ ...base, requiredEku: TCG_KP_EK_CERTIFICATE });
    assert.ok(v instanceof VerifiedGceAttestation);
    assert.equal(v.quotes.length, 3);
    assert.deepEqual(v.eventLogBanks, ["sha1", "sha256", "sha384"]);
    assert.deepEqual([...v.eventLog.values.get("sha256")!.keys()], GCE_EVENT_LOG_PCRS);
    assert.equal(v.certificateChain.path.length, 3);
    assert.deepEqual(v.akName, v.quotes[0]!.akName);
    const att = decodeGceAttestation(PB);
    assert.equal(toHex(v.pcrValues.get("sha256")!.get(0)!), toHex(att.quotes[1]!.pcrs!.values.get(0)!));
    for (const q of v.quotes) assert.equal(toHex(q.extraData), "9009");
    assert.ok(v.eventLog.attestedEvents.length > 0);
    assert.ok(Object.isFrozen(v));
  });

  it("finds the intermediate in the attestation itself, or fails without one", async () => {
    await verifyGceAttestation({
      ...base,
      attestation: forge((a) => ({ ...a, intermediateCerts: [GCE_INTERMEDIATE_2] })),
      intermediates: [],
    });
    await rejects(verifyGceAttestation({ ...base, intermediates: [] }), "cert-untrusted-root");
    await rejects(verifyGceAttestation({ ...base, intermediates: [GCE_INTERMEDIATE_3] }), "cert-untrusted-root");
  });

  it("rejects another nonce", async () => {
    for (const nonce of [
      Uint8Array.of(0x90, 0x08),
      Uint8Array.of(0x90),
      Uint8Array.of(0x90, 0x09, 0x00),
      new Uint8Array(0),
    ]) {
      await rejects(verifyGceAttestation({ ...base, nonce }), "nonce-mismatch");
    }
  });

  it("rejects roots from elsewhere", async () => {
    const other = makeRoot("Not Google");
    await rejects(verifyGceAttestation({ ...base, roots: [other.cert] }), "cert-untrusted-root");
    await rejects(verifyGceAttestation({ ...base, roots: [] }), "cert-untrusted-root");
  });

  it("checks the certificates at the pinned time", async () => {
    await rejects(verifyGceAttestation({ ...base, at: new Date("2051-08-25T00:00:00Z") }), "cert-expired");
    await rejects(verifyGceAttestation({ ...base, at: new Date("2021-08-01T00:00:00Z") }), "cert-not-yet-valid");
    await rejects(verifyGceAttestation({ ...base, requiredEku: "1.3.6.1.5.5.7.3.2" }), "cert-eku-missing");
  });

  it("rejects an attestation without an AK certificate", async () => {
    await rejects(
      verifyGceAttestation({ ...base, attestation: forge((a) => ({ ...a, akCert: undefined })) }),
      "cert-untrusted-root",
    );
  });

  it("rejects an AK other than the certified one", async () => {
    const attestation = forge((a) => {
      const ak = decodeTpmtPublic(a.akPub) as RsaTpmtPublic;
      const other = nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
      return { ...a, akPub: encodeTpmtPublic({ ...ak, modulus: new Uint8Array(Buffer.from(other.n!, "base64url")) }) };
    });
    await rejects(verifyGceAttestation({ ...base, attestation }), "key-mismatch");
  });

  it("rejects a PCR value that differs from the quoted digest", async () => {
    const att = decodeGceAttestation(PB);
    // The SHA-256 bank's PCR 0 value, in place in the message bytes.
    const at = indexOf(PB, att.quotes[1]!.pcrs!.values.get(0)!);
    await rejects(verifyGceAttestation({ ...base, attestation: flip(PB, at + 5) }), "pcr-digest-mismatch");
    // PCR 10 (IMA) is quoted but not in the firmware log: still bound by the quote.
    const ima = indexOf(PB, att.quotes[0]!.pcrs!.values.get(10)!);
    await rejects(verifyGceAttestation({ ...base, attestation: flip(PB, ima) }), "pcr-digest-mismatch");
  });

  it("rejects a tampered quote or signature", async () => {
    const att = decodeGceAttestation(PB);
    const q = indexOf(PB, att.quotes[2]!.quote);
    await rejects(verifyGceAttestation({ ...base, attestation: flip(PB, q + 40) }), "signature-invalid");
    const s = indexOf(PB, att.quotes[0]!.rawSig);
    await rejects(verifyGceAttestation({ ...base, attestation: flip(PB, s + 100) }), "signature-invalid");
  });

  it("rejects quotes without PCR values, or with another bank's values", async () => {
    await rejects(
      verifyGceAttestation({
        ...base,
        attestation: forge((a) => ({ ...a, quotes: a.quotes.map((q) => ({ ...q, pcrs: undefined })) })),
      }),
      "pcr-values-missing",
    );
    await rejects(
      verifyGceAttestation({
        ...base,
        attestation: forge((a) => ({ ...a, quotes: [{ ...a.quotes[0]!, pcrs: a.quotes[1]!.pcrs }] })),
      }),
      "pcr-values-missing",
    );
  });

  it("accepts a repeated quote of one bank, and verifies the log with fewer quotes", async () => {
    const v = await verifyGceAttestation({
      ...base,
      attestation: forge((a) => ({ ...a, quotes: [a.quotes[1]!, a.quotes[1]!] })),
    });
    assert.deepEqual(v.eventLogBanks, ["sha256"]);
  });

  it("rejects a tampered event log", async () => {
    const att = decodeGceAttestation(PB);
    const logAt = indexOf(PB, att.eventLog.subarray(0, 64));
    // A SHA-256 digest of a PCR 4 event (the boot loader): its replay no longer matches the quote.
    const log = decodeEventLog(att.eventLog);
    const event = log.events.find((e) => e.pcrIndex === 4)!;
    const digestAt = indexOf(att.eventLog, event.digests.get("sha256")!);
    await rejects(
      verifyGceAttestation({ ...base, attestation: flip(PB, logAt + digestAt) }),
      "eventlog-replay-mismatch",
    );
    // Dropping the log's last event.
    const truncated = forge((a) => ({ ...a, eventLog: a.eventLog.subarray(0, a.eventLog.length - 1) }));
    await assert.rejects(verifyGceAttestation({ ...base, attestation: truncated }), MalformedError);
    // A log from another machine.
    const otherLog = new Uint8Array(readFileSync(sharedPath("vectors", "tpm", "eventlogs", "cos-85-amd-sev.bin")));
    await rejects(
      verifyGceAttestation({ ...base, attestation: forge((a) => ({ ...a, eventLog: otherLog })) }),
      "eventlog-replay-mismatch",
    );
    // Requiring a bank the log does not carry.
    await rejects(verifyGceAttestation({ ...base, eventLogBanks: ["sha512"] }), "eventlog-bank-missing");
  });
});

describe("attest.Attestation decoding is strict", () => {
  const malformed = (bytes: Uint8Array, code: string) =>
    assert.throws(
      () => decodeGceAttestation(bytes),
      (e: unknown) => e instanceof MalformedError && e.code === code,
    );
  const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

  it("rejects unknown fields, wrong wire types and repeated singular fields", () => {
    malformed(cat(PB, Uint8Array.of((10 << 3) | 2, 1, 0)), "unsupported"); // field 10
    malformed(cat(PB, Uint8Array.of((1 << 3) | 0, 1)), "bad-value"); // ak_pub as a varint
    malformed(cat(PB, Uint8Array.of((1 << 3) | 2, 1, 0)), "bad-value"); // ak_pub twice
    malformed(cat(PB, Uint8Array.of((6 << 3) | 5, 1, 2, 3, 4)), "bad-value"); // ak_cert as fixed32
    malformed(cat(PB, Uint8Array.of((8 << 3) | 2, 0, (9 << 3) | 2, 0)), "bad-value"); // both TEE reports
  });

  it("rejects truncation, a missing AK or event log, and unknown hashes", () => {
    malformed(PB.subarray(0, PB.length - 1), "truncated");
    malformed(new Uint8Array(0), "bad-length");
    malformed(
      forge((a) => ({ ...a, eventLog: new Uint8Array(0) })),
      "bad-length",
    );
    malformed(
      forge((a) => ({ ...a, quotes: [] })),
      "bad-length",
    );
    const att = decodeGceAttestation(PB);
    // The SHA-1 PCRs message's hash field is "08 04"; make it SHA3-256 (0x27).
    const pcrsAt = indexOf(PB, Uint8Array.of(0x08, 0x04, 0x12, 0x18));
    const badHash = PB.slice();
    badHash[pcrsAt + 1] = 0x27;
    malformed(badHash, "unsupported");
    // A PCR value of the wrong length for its bank.
    const shortPcr = forge((a) => ({
      ...a,
      quotes: [{ ...a.quotes[0]!, pcrs: { hash: "sha1", values: new Map([[0, new Uint8Array(19)]]) } }],
    }));
    malformed(shortPcr, "bad-length");
    assert.ok(att.quotes.length > 0);
  });

  it("random bytes yield only MalformedError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeGceAttestation(bytes);
        } catch (e) {
          assert.ok(e instanceof MalformedError, String(e));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("mutated messages yield only MalformedError, or VerificationError when verified", async () => {
    // Mutations land anywhere: in tags and lengths (decode errors), in the AK, quotes, PCRs,
    // event log or certificate (verification errors), or in unsigned event data (still verifies).
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: PB.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 3,
        }),
        async (edits) => {
          const bytes = PB.slice();
          for (const { at, value } of edits) bytes[at] = value;
          try {
            await verifyGceAttestation({ ...base, attestation: bytes });
          } catch (e) {
            assert.ok(e instanceof MalformedError || e instanceof VerificationError, String(e));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("mutated header regions yield only MalformedError from the decoder", () => {
    // The first bytes hold tags and lengths of ak_pub and the first quote.
    fc.assert(
      fc.property(
        fc.nat({ max: 40 }),
        fc.integer({ min: 0, max: 255 }),
        fc.nat({ max: PB.length }),
        (at, value, cut) => {
          const bytes = PB.slice(0, Math.max(cut, at + 1));
          bytes[at] = value;
          try {
            decodeGceAttestation(bytes);
          } catch (e) {
            assert.ok(e instanceof MalformedError, String(e));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("structured random messages round-trip", () => {
    const bytes = fc.uint8Array({ minLength: 1, maxLength: 40 });
    const hashArb = fc.constantFrom("sha1" as const, "sha256" as const);
    const pcrsArb = hashArb.chain((hash) =>
      fc.uniqueArray(fc.nat({ max: 31 }), { maxLength: 5 }).chain((idx) =>
        fc
          .tuple(
            ...idx.map(() =>
              fc.uint8Array({ minLength: hash === "sha1" ? 20 : 32, maxLength: hash === "sha1" ? 20 : 32 }),
            ),
          )
          .map((vals) => ({
            hash,
            values: new Map(idx.map((i, k) => [i, vals[k]!] as [number, Uint8Array]).sort((a, b) => a[0] - b[0])),
          })),
      ),
    );
    const attArb = fc.record({
      akPub: bytes,
      quotes: fc.array(fc.record({ quote: bytes, rawSig: bytes, pcrs: fc.option(pcrsArb, { nil: undefined }) }), {
        minLength: 1,
        maxLength: 3,
      }),
      eventLog: bytes,
      instanceInfo: fc.option(
        fc.record({
          zone: fc.string(),
          projectId: fc.string(),
          projectNumber: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          instanceName: fc.string(),
          instanceId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        }),
        { nil: undefined },
      ),
      canonicalEventLog: fc.option(bytes, { nil: undefined }),
      akCert: fc.option(bytes, { nil: undefined }),
      intermediateCerts: fc.array(bytes, { maxLength: 2 }),
      teeAttestation: fc.option(
        fc.record({ kind: fc.constantFrom("sev-snp" as const, "tdx" as const), message: bytes }),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(attArb, (generated) => {
        // fast-check's records have a null prototype; compare plain objects.
        const att = structuredClone(generated) as GceAttestation;
        assert.deepEqual(decodeGceAttestation(encodeGceAttestation(att)), att);
      }),
      { numRuns: 300 },
    );
  });
});
