/**
 * The attestation protocol end to end against real swtpms: a measured
 * launch, the attester, the framework-agnostic handlers, and the verifier
 * in @veritee/evidence — then one attack test per rule, each rejected with a
 * typed error that names what failed.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { MalformedError, randomBytes, toHex, utf8 } from "@veritee/core";
import {
  type AttestationDocument,
  activationRequestToJson,
  base64Encode,
  challengeAk,
  confirmAkResidency,
  createLaunchEvent,
  credentialProtectorFromPublic,
  decodeActivationResponse,
  decodeAttestationDocument,
  EV,
  encodeAttestationDocument,
  encodeEventLog,
  keySetDigest,
  LAUNCH_SEPARATOR,
  type LaunchLog,
  makeCredential,
  specIdForBanks,
  VerificationError,
  VerifiedAttestation,
  verifyAttestationDocument,
} from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import {
  AttestationError,
  type Attester,
  createAttester,
  extendLaunchLog,
  generateServerKeys,
  handleActivateRequest,
  handleAttestationRequest,
  measureLaunch,
  runMeasuredLaunch,
  type ServerKeys,
  SYSTEM_BOOT_EVENT_LOG,
} from "../../src/index.js";
import { writeTree } from "../launch/code-tree.js";
import { type DevTpm, startDevTpm } from "../launch/dev-tpm.js";
import { SAMPLE_CONFIG } from "../launch/sample-config.js";

// biome-ignore lint/suspicious/noExplicitAny: the tests edit arbitrary paths of parsed JSON
type Edit = any;

let dir: string;
/** The server's TPM. */
let a: DevTpm;
/** Another TPM, certified by another CA. */
let b: DevTpm;
let launchLog: LaunchLog;
let keys: ServerKeys;
let attester: Attester;
/** Added to the main attester's activation clock, to age its challenges. */
let clockSkewMs = 0;
/** How many TPM2_ActivateCredential commands the main attester sent to TPM A. */
let tpmActivations = 0;

/** TPM A as the main attester sees it, counting its ActivateCredential commands. */
function countingActivations(tpm: DevTpm["tpm"]): DevTpm["tpm"] {
  return new Proxy(tpm, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      if (name === "activateCredential") {
        return (...args: unknown[]) => {
          tpmActivations++;
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
}
/** An attester on TPM B that replays A's launch log and key set (an attacker's copy). */
let copycat: Attester;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-attest-"));
  await writeTree(path.join(dir, "release"));
  const measurements = await measureLaunch({
    codeRoot: path.join(dir, "release"),
    config: SAMPLE_CONFIG,
    models: [{ id: "stories260K", path: sharedPath("models", "stories260K.gguf") }],
    engineBinaries: [],
  });
  [a, b] = await Promise.all([startDevTpm(dir, "a"), startDevTpm(dir, "b")]);
  ({ launchLog, keys } = await runMeasuredLaunch({ tpm: a.tpm, measurements }));
  attester = await createAttester({
    tpm: countingActivations(a.tpm),
    keySet: keys.keySet,
    launchLog,
    ekIntermediates: [a.intermediate],
    bootEventLog: "none",
    activation: { now: () => Date.now() + clockSkewMs },
  });
  await extendLaunchLog(b.tpm, launchLog);
  copycat = await createAttester({
    tpm: b.tpm,
    keySet: keys.keySet,
    launchLog,
    ekIntermediates: [b.intermediate],
    bootEventLog: "none",
  });
});

after(async () => {
  await attester?.close();
  await copycat?.close();
  await a?.stop();
  await b?.stop();
  await rm(dir, { recursive: true, force: true });
});

const verifyA = (doc: unknown, nonce: Uint8Array, extra: object = {}) =>
  verifyAttestationDocument(doc, { nonce, at: new Date(), ekRoots: [a.root], ...extra });

/** An activation answer made up without the secret. */
const guessedAnswer = () => ({ serverNonce: randomBytes(32), proof: randomBytes(32) });

function verification(code: string) {
  return (e: unknown) => e instanceof VerificationError && e.code === code;
}

/** A JSON copy of a document, for editing. */
function editable(doc: AttestationDocument): Edit {
  return JSON.parse(new TextDecoder().decode(encodeAttestationDocument(doc)));
}

describe("attest → verify", () => {
  test("a fresh-nonce document verifies, bound to the key set and the launch log", async () => {
    const nonce = randomBytes(32);
    const doc = await attester.attest(nonce);
    const v = await verifyA(encodeAttestationDocument(doc), nonce);
    assert.ok(VerifiedAttestation.is(v));
    assert.equal(v.akResidency, "unproven");
    assert.deepEqual(v.keySetDigest, keys.keySetDigest);
    assert.deepEqual(v.keySet, keys.keySet);
    assert.deepEqual(v.akName, attester.akName);
    assert.equal(v.appPcr, 15);
    assert.equal(v.launch.models[0]!.id, "stories260K");
    assert.deepEqual([...v.bootPcrs.keys()], [0, 1, 2, 3, 4, 5, 6, 7]);
    // swtpm has no measured boot: its boot PCRs are zero, and it has no boot event log.
    for (const value of v.bootPcrs.values()) assert.equal(toHex(value), "00".repeat(32));
    assert.equal(v.bootEventLog, undefined);
    assert.equal(doc.ek.certificate !== null, true);
    assert.throws(() => new (VerifiedAttestation as Edit)(Symbol("x"), {}, "unproven"), TypeError);
  });

  test("credential activation over the handlers proves the AK resident with the certified EK", async () => {
    const nonce = randomBytes(16);
    const res = await handleAttestationRequest(attester, new URLSearchParams({ nonce: toHex(nonce) }));
    assert.equal(res.status, 200);
    assert.equal(res.headers["cache-control"], "no-store");
    const verified = await verifyA(decodeAttestationDocument(utf8(res.body)), nonce);
    const challenge = await challengeAk(verified);
    const answer = await handleActivateRequest(attester, JSON.parse(JSON.stringify(challenge)));
    assert.equal(answer.status, 200);
    const proven = confirmAkResidency(verified, challenge, decodeActivationResponse(JSON.parse(answer.body)));
    assert.equal(proven.akResidency, "credential-activation");
    assert.deepEqual(proven.keySetDigest, verified.keySetDigest);
    // The challenge body carries no secret, and the answer is a proof, not the secret.
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(challenge))).sort(), [
      "credentialBlob",
      "encryptedSecret",
      "nonce",
      "version",
    ]);
    assert.deepEqual(Object.keys(JSON.parse(answer.body)).sort(), ["proof", "serverNonce", "version"]);
  });

  test("many concurrent attestations all verify", async () => {
    const nonces = Array.from({ length: 12 }, () => randomBytes(24));
    const docs = await Promise.all(nonces.map((n) => attester.attest(n)));
    const verified = await Promise.all(docs.map((d, i) => verifyA(d, nonces[i]!)));
    assert.equal(verified.length, 12);
  });

  test("the handler's body is the canonical document; the nonce's hex case does not matter", async () => {
    const nonce = randomBytes(20);
    const res = await handleAttestationRequest(attester, new URLSearchParams({ nonce: toHex(nonce).toUpperCase() }));
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/json");
    await verifyA(utf8(res.body), nonce);
  });
});

describe("handlers refuse bad requests with OpenAI-style errors", () => {
  const nonceCases: [string, string][] = [
    ["missing", ""],
    ["repeated", `nonce=${"ab".repeat(16)}&nonce=${"ab".repeat(16)}`],
    ["odd length", `nonce=${"a".repeat(33)}`],
    ["not hex", `nonce=${"zz".repeat(16)}`],
    ["15 bytes", `nonce=${"ab".repeat(15)}`],
    ["65 bytes", `nonce=${"ab".repeat(65)}`],
    ["0x-prefixed", `nonce=0x${"ab".repeat(16)}`],
    ["empty", "nonce="],
  ];
  for (const [name, query] of nonceCases) {
    test(`nonce ${name}: 400 invalid_nonce`, async () => {
      const res = await handleAttestationRequest(attester, new URLSearchParams(query));
      assert.equal(res.status, 400);
      const body = JSON.parse(res.body);
      assert.deepEqual(Object.keys(body), ["error"]);
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(body.error.param, "nonce");
      assert.equal(body.error.code, "invalid_nonce");
      assert.equal(typeof body.error.message, "string");
    });
  }

  test("attest() itself refuses nonces outside 16–64 bytes", async () => {
    for (const n of [randomBytes(15), randomBytes(65), new Uint8Array(0)]) {
      await assert.rejects(attester.attest(n), (e: unknown) => e instanceof AttestationError && e.code === "bad-nonce");
    }
  });

  test("a malformed activation body, or a version 1 body: 400 invalid_activation_request", async () => {
    for (const body of [
      null,
      {},
      { credentialBlob: "AA==" },
      { credentialBlob: "!", encryptedSecret: "AA==" },
      { credentialBlob: "AA==", encryptedSecret: "AA==" },
      { credentialBlob: "AA==", encryptedSecret: "AA==", nonce: base64Encode(randomBytes(8)), version: 2 },
      "x",
    ]) {
      const res = await handleActivateRequest(attester, body);
      assert.equal(res.status, 400);
      assert.equal(JSON.parse(res.body).error.code, "invalid_activation_request");
    }
  });
});

/** Attest `nonce` on the main attester over the handler and verify the document. */
async function attestedFor(nonce: Uint8Array): Promise<VerifiedAttestation> {
  const res = await handleAttestationRequest(attester, new URLSearchParams({ nonce: toHex(nonce) }));
  assert.equal(res.status, 200);
  return verifyA(utf8(res.body), nonce);
}

/** POST an activation body; the status and the error code (or the parsed answer). */
async function activate(server: Attester, body: unknown) {
  const res = await handleActivateRequest(server, JSON.parse(JSON.stringify(body)));
  const parsed = JSON.parse(res.body);
  return { status: res.status, code: parsed.error?.code as string | undefined, body: parsed, raw: res };
}

describe("activation is bound to an outstanding attestation (no decryption oracle)", () => {
  test("activation without an attestation first: 400 activation_challenge_unknown", async () => {
    const verified = await attestedFor(randomBytes(32));
    // A genuine credential for this EK and AK, but for a nonce this server never attested.
    const made = await makeCredential({
      ekPublic: credentialProtectorFromPublic(verified.ekPublic),
      objectName: verified.akName,
      credential: randomBytes(32),
    });
    const before = tpmActivations;
    const r = await activate(attester, activationRequestToJson({ ...made, nonce: randomBytes(32) }));
    assert.equal(r.status, 400);
    assert.equal(r.code, "activation_challenge_unknown");
    assert.equal(r.body.error.param, "nonce");
    assert.equal(tpmActivations, before, "the credential never reached the TPM");
  });

  test("a replayed activation (the same challenge twice): the second is activation_challenge_unknown", async () => {
    const verified = await attestedFor(randomBytes(32));
    const challenge = await challengeAk(verified);
    const first = await activate(attester, challenge);
    assert.equal(first.status, 200);
    confirmAkResidency(verified, challenge, decodeActivationResponse(first.body));
    const before = tpmActivations;
    const second = await activate(attester, challenge);
    assert.equal(second.status, 400);
    assert.equal(second.code, "activation_challenge_unknown");
    assert.equal(tpmActivations, before, "a replay never reaches the TPM");
    // A refused credential consumes its challenge too: one attestation buys one TPM2_ActivateCredential.
    const again = await attestedFor(randomBytes(32));
    const wrong = await makeCredential({
      ekPublic: credentialProtectorFromPublic(again.ekPublic),
      objectName: new Uint8Array([0x00, 0x0b, ...randomBytes(32)]),
      credential: randomBytes(32),
    });
    const body = activationRequestToJson({ ...wrong, nonce: again.nonce });
    assert.equal((await activate(attester, body)).code, "credential_rejected");
    assert.equal((await activate(attester, body)).code, "activation_challenge_unknown");
  });

  test("an expired challenge (clock past the TTL, or gone backwards): 400 activation_challenge_expired", async () => {
    try {
      const verified = await attestedFor(randomBytes(32));
      const challenge = await challengeAk(verified);
      clockSkewMs = 60_001;
      const before = tpmActivations;
      const r = await activate(attester, challenge);
      assert.equal(r.status, 400);
      assert.equal(r.code, "activation_challenge_expired");
      assert.equal(tpmActivations, before, "an expired challenge never reaches the TPM");
      // Expired is also used up.
      clockSkewMs = 0;
      assert.equal((await activate(attester, challenge)).code, "activation_challenge_unknown");
      // Just inside the TTL still works.
      const fresh = await attestedFor(randomBytes(32));
      const inTime = await challengeAk(fresh);
      clockSkewMs = 59_000;
      assert.equal((await activate(attester, inTime)).status, 200);
      const back = await attestedFor(randomBytes(32));
      const backChallenge = await challengeAk(back);
      clockSkewMs = -1;
      assert.equal((await activate(attester, backChallenge)).code, "activation_challenge_expired");
    } finally {
      clockSkewMs = 0;
    }
  });

  test("a credential for another object than the AK: credential_rejected by the TPM", async () => {
    const verified = await attestedFor(randomBytes(32));
    // Bound to another Name (a SHA-256 Name that is no loaded object): the TPM's integrity check fails.
    const made = await makeCredential({
      ekPublic: credentialProtectorFromPublic(verified.ekPublic),
      objectName: new Uint8Array([0x00, 0x0b, ...randomBytes(32)]),
      credential: randomBytes(32),
    });
    const r = await activate(attester, activationRequestToJson({ ...made, nonce: verified.nonce }));
    assert.equal(r.status, 400);
    assert.equal(r.code, "credential_rejected");
  });

  test("someone else's credential for this AK is never decrypted for the caller", async () => {
    const verified = await attestedFor(randomBytes(32));
    const ekPublic = credentialProtectorFromPublic(verified.ekPublic);
    // A 32-byte secret (a Veritee-sized one): the answer is a MAC over a server nonce, not the secret.
    const secret = randomBytes(32);
    const made = await makeCredential({ ekPublic, objectName: verified.akName, credential: secret });
    const r = await activate(attester, activationRequestToJson({ ...made, nonce: verified.nonce }));
    assert.equal(r.status, 200);
    assert.ok(!r.raw.body.includes(base64Encode(secret)) && !r.raw.body.includes(toHex(secret)));
    assert.notDeepEqual(decodeActivationResponse(r.body).proof, secret);
    // Any other size is another protocol's credential: no answer at all.
    const other = await attestedFor(randomBytes(32));
    const small = await makeCredential({ ekPublic, objectName: other.akName, credential: randomBytes(16) });
    const refused = await activate(attester, activationRequestToJson({ ...small, nonce: other.nonce }));
    assert.equal(refused.code, "credential_rejected");
  });

  test("too many activations at once: 429 activation_busy with Retry-After, and the challenge survives", async () => {
    const verified = await Promise.all(Array.from({ length: 6 }, () => attestedFor(randomBytes(32))));
    const challenges = await Promise.all(verified.map((v) => challengeAk(v)));
    const results = await Promise.all(challenges.map((c) => activate(attester, c)));
    const busy = results.filter((r) => r.status === 429);
    assert.equal(busy.length, 2, "4 in flight at most");
    for (const r of busy) {
      assert.equal(r.code, "activation_busy");
      assert.equal(r.raw.headers["retry-after"], "1");
    }
    for (const [i, r] of results.entries()) {
      const answer = r.status === 200 ? r : await activate(attester, challenges[i]!);
      assert.equal(answer.status, 200);
      confirmAkResidency(verified[i]!, challenges[i]!, decodeActivationResponse(answer.body));
    }
  });
});

describe("attacks", () => {
  test("wrong nonce: nonce-mismatch", async () => {
    const doc = await attester.attest(randomBytes(32));
    await assert.rejects(verifyA(doc, randomBytes(32)), verification("nonce-mismatch"));
  });

  test("a replayed document for an old nonce: nonce-mismatch", async () => {
    const oldNonce = randomBytes(32);
    const old = encodeAttestationDocument(await attester.attest(oldNonce));
    await verifyA(old, oldNonce);
    const freshNonce = randomBytes(32);
    await assert.rejects(verifyA(old, freshNonce), verification("nonce-mismatch"));
  });

  test("another key set (HPKE key swapped) with the genuine quote: key-set-mismatch", async () => {
    const nonce = randomBytes(32);
    const doc = await attester.attest(nonce);
    const evilKeys = generateServerKeys();
    const swapped = { ...doc, keySet: { ...doc.keySet, hpke: evilKeys.keySet.hpke } };
    await assert.rejects(verifyA(swapped, nonce), verification("key-set-mismatch"));
  });

  test("another key set with a launch log rewritten to match it: the quote binding fails (nonce-mismatch)", async () => {
    const nonce = randomBytes(32);
    const doc = await attester.attest(nonce);
    const evil = generateServerKeys().keySet;
    const events = doc.launchLog.events.map((e) =>
      e.type === "key-set" ? createLaunchEvent(15, "key-set", { digest: toHex(keySetDigest(evil)) }) : e,
    );
    const rewritten = { ...doc, keySet: evil, launchLog: { ...doc.launchLog, events } };
    await assert.rejects(verifyA(rewritten, nonce), verification("nonce-mismatch"));
  });

  test("a modified launch event (another model digest) with the genuine quote: launch-log-mismatch", async () => {
    const nonce = randomBytes(32);
    const doc = await attester.attest(nonce);
    const events = doc.launchLog.events.map((e) =>
      e.type === "model" ? createLaunchEvent(15, "model", { ...e.data, digest: "e".repeat(64) }) : e,
    );
    await assert.rejects(
      verifyA({ ...doc, launchLog: { ...doc.launchLog, events } }, nonce),
      verification("launch-log-mismatch"),
    );
    // Editing the JSON without re-computing the digest does not even decode.
    const j = editable(doc);
    j.launchLog.events[3].data.digest = "e".repeat(64);
    await assert.rejects(verifyA(j, nonce), MalformedError);
  });

  test("an event appended after the separator: launch-log-unsealed", async () => {
    const nonce = randomBytes(32);
    const doc = await attester.attest(nonce);
    const extra = createLaunchEvent(15, "model", { id: "evil", digest: "e".repeat(64), size: 1 });
    const events = [...doc.launchLog.events, extra];
    await assert.rejects(
      verifyA({ ...doc, launchLog: { ...doc.launchLog, events } }, nonce),
      verification("launch-log-unsealed"),
    );
  });

  test("a missing separator: launch-log-unsealed", async () => {
    const nonce = randomBytes(32);
    const doc = await attester.attest(nonce);
    const events = doc.launchLog.events.filter((e) => e.type !== "separator");
    await assert.rejects(
      verifyA({ ...doc, launchLog: { ...doc.launchLog, events } }, nonce),
      verification("launch-log-unsealed"),
    );
    const twice = [...doc.launchLog.events, createLaunchEvent(15, "separator", { separator: LAUNCH_SEPARATOR })];
    await assert.rejects(
      verifyA({ ...doc, launchLog: { ...doc.launchLog, events: twice } }, nonce),
      verification("launch-log-unsealed"),
    );
  });

  test("a quote from another TPM under this TPM's AK: signature-invalid", async () => {
    const nonce = randomBytes(32);
    const genuine = await attester.attest(nonce);
    const other = await copycat.attest(nonce);
    await assert.rejects(verifyA({ ...genuine, quote: other.quote }, nonce), verification("signature-invalid"));
  });

  test("another TPM's AK and quote beside this TPM's EK certificate: only credential activation catches it", async () => {
    const nonce = randomBytes(32);
    const genuine = await attester.attest(nonce);
    const other = await copycat.attest(nonce);
    // TPM B replays A's launch log into its own PCR 15 and quotes with its own AK; the attacker ships A's EK.
    const hybrid = { ...other, ek: genuine.ek };
    const verified = await verifyA(hybrid, nonce);
    assert.equal(verified.akResidency, "unproven", "without activation the AK is not tied to the EK");
    const challenge = await challengeAk(verified);
    const body = JSON.parse(JSON.stringify(challenge));
    // TPM A holds the EK but not that AK; TPM B holds the AK but not the EK: both refuse.
    for (const server of [attester, copycat]) {
      const res = await handleActivateRequest(server, body);
      assert.equal(res.status, 400);
      assert.equal(JSON.parse(res.body).error.code, "credential_rejected");
    }
    assert.throws(() => confirmAkResidency(verified, challenge, guessedAnswer()), verification("credential-mismatch"));
  });

  test("an EK certificate from another CA: cert-untrusted-root; another TPM's EK certificate: key-mismatch", async () => {
    const nonce = randomBytes(32);
    const doc = await attester.attest(nonce);
    await assert.rejects(
      verifyAttestationDocument(doc, { nonce, at: new Date(), ekRoots: [b.root] }),
      verification("cert-untrusted-root"),
    );
    const otherCert = (await copycat.attest(nonce)).ek;
    const mixed = {
      ...doc,
      ek: { ...doc.ek, certificate: otherCert.certificate, intermediates: otherCert.intermediates },
    };
    await assert.rejects(
      verifyAttestationDocument(mixed, { nonce, at: new Date(), ekRoots: [a.root, b.root] }),
      verification("key-mismatch"),
    );
    await assert.rejects(
      verifyA({ ...doc, ek: { ...doc.ek, certificate: null } }, nonce),
      verification("ek-certificate-missing"),
    );
  });

  test("a credential challenge answered by another TPM: refused, and a guessed answer fails credential-mismatch", async () => {
    const nonce = randomBytes(32);
    const verified = await verifyA(await attester.attest(nonce), nonce);
    const challenge = await challengeAk(verified);
    // The other TPM attested the same nonce, so its refusal comes from its TPM, not from its challenge table.
    await copycat.attest(nonce);
    const res = await handleActivateRequest(copycat, JSON.parse(JSON.stringify(challenge)));
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.body).error.code, "credential_rejected");
    assert.throws(() => confirmAkResidency(verified, challenge, guessedAnswer()), verification("credential-mismatch"));
    // A genuine answer to a challenge for another attestation does not count either.
    const otherNonce = randomBytes(32);
    const otherVerified = await verifyA(await attester.attest(otherNonce), otherNonce);
    const answer = await attester.activateCredential(challenge);
    assert.throws(() => confirmAkResidency(otherVerified, challenge, answer), verification("credential-mismatch"));
    assert.equal(confirmAkResidency(verified, challenge, answer).akResidency, "credential-activation");
  });

  test("edited PCR values, AK Name, or a quote missing required PCRs are refused", async () => {
    const nonce = randomBytes(32);
    const doc = await attester.attest(nonce);
    const j = editable(doc);
    j.pcrs[0].value = "11".repeat(32);
    await assert.rejects(verifyA(j, nonce), verification("pcr-digest-mismatch"));
    const k = editable(doc);
    k.ak.name = `000b${"00".repeat(32)}`;
    await assert.rejects(verifyA(k, nonce), verification("name-mismatch"));
    const l = editable(doc);
    l.pcrs.pop();
    await assert.rejects(verifyA(l, nonce), verification("pcr-values-missing"));
    await assert.rejects(
      verifyA(doc, nonce, { bootPcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8] }),
      verification("pcr-values-missing"),
    );
    await assert.rejects(verifyA(doc, nonce, { appPcr: 14 }), verification("pcr-values-missing"));
  });

  test("inconsistent inputs are refused at creation; a closed attester answers 503", async () => {
    const notOurs = (code: string) => (e: unknown) => e instanceof AttestationError && e.code === code;
    // A key set the launch log did not measure.
    await assert.rejects(
      createAttester({ tpm: a.tpm, keySet: generateServerKeys().keySet, launchLog, bootEventLog: "none" }),
      notOurs("bad-argument"),
    );
    // A PCR that does not hold the log's replay (TPM B after a reboot): every quote would fail, so refuse to serve.
    await copycat.close();
    await b.reboot();
    await assert.rejects(
      createAttester({ tpm: b.tpm, keySet: keys.keySet, launchLog, bootEventLog: "none" }),
      notOurs("pcr-mismatch"),
    );
    // Shutting down: the attester flushes its EK and AK; requests then get 503.
    await attester.close();
    const res = await handleAttestationRequest(attester, new URLSearchParams({ nonce: toHex(randomBytes(16)) }));
    assert.equal(res.status, 503);
    assert.equal(JSON.parse(res.body).error.code, "attestation_unavailable");
    const act = await handleActivateRequest(attester, {
      credentialBlob: "AAAA",
      encryptedSecret: "AAAA",
      nonce: base64Encode(randomBytes(16)),
      version: 2,
    });
    assert.equal(act.status, 503);
    await assert.rejects(
      attester.attest(randomBytes(16)),
      (e: unknown) => e instanceof AttestationError && e.code === "closed",
    );
    // Its TPM objects are gone: the TPM has room for a new attester.
    const again = await createAttester({ tpm: a.tpm, keySet: keys.keySet, launchLog, bootEventLog: "none" });
    await again.close();
  });

  test("a boot event log is shipped when given, and checked against the quoted boot PCRs", async () => {
    // Runs after the main attester was closed: swtpm holds only three transient objects (EK + AK per attester).
    const header = encodeEventLog({ format: "crypto-agile", specId: specIdForBanks(["sha256"]), events: [] });
    const withLog = await createAttester({ tpm: a.tpm, keySet: keys.keySet, launchLog, bootEventLog: header });
    try {
      const nonce = randomBytes(16);
      const doc = await withLog.attest(nonce);
      assert.deepEqual(doc.bootEventLog, header);
      // This attester ships no CA certificates: the verifier brings the intermediate itself.
      assert.equal(doc.ek.intermediates.length, 0);
      await assert.rejects(verifyA(doc, nonce), verification("cert-untrusted-root"));
      const v = await verifyA(doc, nonce, { ekIntermediates: [a.intermediate] });
      assert.ok(v.bootEventLog !== undefined, "an empty log replays to the zero boot PCRs of swtpm");
      // A log claiming a firmware measurement that the TPM's PCR 0 never received.
      const lying = encodeEventLog({
        format: "crypto-agile",
        specId: specIdForBanks(["sha256"]),
        events: [
          { pcrIndex: 0, eventType: EV.POST_CODE, digests: new Map([["sha256", randomBytes(32)]]), data: utf8("BIOS") },
        ],
      });
      await assert.rejects(
        verifyA({ ...doc, bootEventLog: lying }, nonce, { ekIntermediates: [a.intermediate] }),
        verification("eventlog-replay-mismatch"),
      );
    } finally {
      await withLog.close();
    }
    // "system" reads securityfs when present; this machine's log belongs to its own TPM, not to swtpm.
    const system = await createAttester({ tpm: a.tpm, keySet: keys.keySet, launchLog, bootEventLog: "system" });
    try {
      const doc = await system.attest(randomBytes(16));
      const expected = await readFile(SYSTEM_BOOT_EVENT_LOG).then(
        (b) => new Uint8Array(b),
        () => null,
      );
      assert.deepEqual(doc.bootEventLog, expected);
    } finally {
      await system.close();
    }
  });
});
