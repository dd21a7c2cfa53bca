/**
 * The attestation document and activation bodies: strict decoding, the
 * canonical encoding, and fast-check properties. (Verification of real
 * documents against a swtpm lives in the server package's attestation tests.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MalformedError, randomBytes, utf8 } from "@veritee/core";
import fc from "fast-check";
import {
  type AttestationDocument,
  activationRequestToJson,
  activationResponseToJson,
  attestationDocumentToJson,
  attestationExtraData,
  canonicalJson,
  decodeActivationRequest,
  decodeActivationResponse,
  decodeAttestationDocument,
  encodeAttestationDocument,
  type JsonValue,
} from "../../src/index.js";
import { arbitraryMutation, freshKeySet, launchEvents, logOf, mutate } from "./fixtures.js";

// biome-ignore lint/suspicious/noExplicitAny: the tests edit arbitrary paths of parsed JSON
type Edit = any;

const keySet = freshKeySet();

function sampleDocument(): AttestationDocument {
  return {
    version: 1,
    quote: { attest: randomBytes(145), signature: randomBytes(72) },
    pcrs: [0, 1, 15].map((index) => ({ bank: "sha256" as const, index, value: randomBytes(32) })),
    ak: { public: randomBytes(90), name: randomBytes(34) },
    ek: { public: randomBytes(314), certificate: randomBytes(900), intermediates: [randomBytes(700)] },
    bootEventLog: null,
    launchLog: logOf(launchEvents(keySet)),
    keySet,
    platform: [],
  };
}

const doc = sampleDocument();
const json = attestationDocumentToJson(doc) as unknown as JsonValue;

function malformed(code?: string) {
  return (e: unknown) => e instanceof MalformedError && (code === undefined || e.code === code);
}

describe("attestation document encoding", () => {
  test("decode(encode(doc)) equals doc, from bytes and from parsed JSON", () => {
    assert.deepEqual(decodeAttestationDocument(encodeAttestationDocument(doc)), doc);
    assert.deepEqual(decodeAttestationDocument(JSON.parse(JSON.stringify(json))), doc);
    const withLog = { ...doc, bootEventLog: randomBytes(1000), ek: { ...doc.ek, certificate: null } };
    assert.deepEqual(decodeAttestationDocument(encodeAttestationDocument(withLog)), withLog);
  });

  test("JSON.stringify of the JSON form is already canonical", () => {
    assert.equal(JSON.stringify(json), canonicalJson(json));
    assert.equal(JSON.stringify(json), new TextDecoder().decode(encodeAttestationDocument(doc)));
  });

  test("the binding is SHA-256(label || nonce || digest) and refuses short or long nonces", async () => {
    const { createHash } = await import("node:crypto");
    const nonce = randomBytes(16);
    const digest = randomBytes(32);
    const expected = createHash("sha256").update("veritee-attestation-v1").update(nonce).update(digest).digest();
    assert.deepEqual(attestationExtraData(nonce, digest), new Uint8Array(expected));
    assert.throws(() => attestationExtraData(randomBytes(15), digest), RangeError);
    assert.throws(() => attestationExtraData(randomBytes(65), digest), RangeError);
    assert.throws(() => attestationExtraData(nonce, randomBytes(31)), RangeError);
  });
});

describe("decodeAttestationDocument is strict", () => {
  const cases: [string, (j: Edit) => void, string][] = [
    ["another version", (j) => (j.version = 2), "unsupported"],
    ["an unknown member", (j) => (j.nonce = "00"), "bad-value"],
    ["a missing member", (j) => delete j.bootEventLog, "bad-value"],
    ["url-safe base64", (j) => (j.quote.attest = "ab-_"), "bad-value"],
    ["an oversized signature", (j) => (j.quote.signature = Buffer.alloc(1025).toString("base64")), "too-large"],
    ["a PCR listed twice", (j) => j.pcrs.push(j.pcrs[0]), "bad-value"],
    ["a PCR value of the wrong size", (j) => (j.pcrs[0].value = "00"), "bad-hex"],
    ["an unknown bank", (j) => (j.pcrs[0].bank = "sm3_256"), "unsupported"],
    ["PCR 24", (j) => (j.pcrs[0].index = 24), "bad-value"],
    ["an AK name in base64", (j) => (j.ak.name = "AAsA"), "bad-hex"],
    ["too many intermediates", (j) => (j.ek.intermediates = Array(9).fill(j.ek.intermediates[0])), "too-large"],
    ["a launch log given as a string", (j) => (j.launchLog = JSON.stringify(j.launchLog)), "bad-value"],
    ["a broken launch log", (j) => (j.launchLog.events[0].digest = "0".repeat(64)), "bad-value"],
    ["a broken key set", (j) => (j.keySet.hpke.kemId = 0x10), "bad-value"],
  ];
  for (const [name, change, code] of cases) {
    test(`refuses ${name}`, () => {
      const j = structuredClone(json) as Edit;
      change(j);
      assert.throws(() => decodeAttestationDocument(j), malformed(code));
    });
  }

  test("refuses non-canonical bytes (pretty-printed)", () => {
    assert.throws(() => decodeAttestationDocument(utf8(JSON.stringify(json, null, 1))), malformed("bad-value"));
  });

  test("mutated documents decode or fail with MalformedError only", () => {
    fc.assert(
      fc.property(arbitraryMutation, fc.boolean(), (m, asBytes) => {
        const mutated = mutate(json, m);
        try {
          decodeAttestationDocument(asBytes ? utf8(canonicalJson(mutated)) : mutated);
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 1500 },
    );
  });

  test("arbitrary JSON and bytes decode or fail with MalformedError only", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 200 })), (v) => {
        try {
          decodeAttestationDocument(v);
        } catch (e) {
          if (!(e instanceof MalformedError)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("activation bodies (protocol version 2)", () => {
  const request = () => ({
    nonce: randomBytes(32),
    credentialBlob: randomBytes(68),
    encryptedSecret: randomBytes(256),
  });
  const b64 = (n: number) => Buffer.alloc(n, 7).toString("base64");

  test("round trip", () => {
    const req = request();
    assert.deepEqual(decodeActivationRequest(activationRequestToJson(req)), req);
    const res = { serverNonce: randomBytes(32), proof: randomBytes(32) };
    assert.deepEqual(decodeActivationResponse(activationResponseToJson(res)), res);
  });

  test("fast-check: decode(encode(x)) = x for every size the protocol allows", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.uint8Array({ minLength: 1, maxLength: 132 }),
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        (nonce, credentialBlob, encryptedSecret) => {
          const req = { nonce, credentialBlob, encryptedSecret };
          assert.deepEqual(decodeActivationRequest(JSON.parse(JSON.stringify(activationRequestToJson(req)))), req);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("strict", () => {
    const good = activationRequestToJson(request());
    for (const bad of [
      { ...good, x: 1 },
      { credentialBlob: good.credentialBlob, version: 2 },
      { ...good, credentialBlob: "" },
      { ...good, encryptedSecret: b64(513) },
      { ...good, credentialBlob: 5 },
      { ...good, nonce: b64(15) },
      { ...good, nonce: b64(65) },
      { ...good, version: 1 },
      { ...good, version: 3 },
      { ...good, version: "2" },
      null,
      "x",
    ]) {
      assert.throws(() => decodeActivationRequest(bad), MalformedError, JSON.stringify(bad));
    }
    const res = activationResponseToJson({ serverNonce: randomBytes(32), proof: randomBytes(32) });
    for (const bad of [
      {},
      { ...res, proof: b64(31) },
      { ...res, proof: b64(33) },
      { ...res, serverNonce: b64(16) },
      { ...res, version: 1 },
      { ...res, x: 1 },
    ]) {
      assert.throws(() => decodeActivationResponse(bad), MalformedError, JSON.stringify(bad));
    }
  });

  test("version 1 bodies are refused as unsupported, naming the version; a v1 response (the secret) never decodes", () => {
    const v1 = { credentialBlob: b64(68), encryptedSecret: b64(256) };
    assert.throws(
      () => decodeActivationRequest(v1),
      (e: unknown) => e instanceof MalformedError && e.code === "unsupported" && e.what === "ActivationRequest.version",
    );
    assert.throws(
      () => decodeActivationResponse({ secret: b64(32) }),
      (e: unknown) => e instanceof MalformedError && e.code === "unsupported",
    );
  });

  test("arbitrary JSON decodes or fails with MalformedError only", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        for (const decode of [decodeActivationRequest, decodeActivationResponse]) {
          try {
            decode(v);
          } catch (e) {
            if (!(e instanceof MalformedError)) throw e;
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
