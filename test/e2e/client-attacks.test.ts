/**
 * The client refuses every attack of issue 4 and sends no user data: each
 * test plants a unique canary in the prompt the user would send, lets an
 * attacker on 127.0.0.1 stand between the client and two real development
 * servers (A and B, each with its own TPM), and shows that the client
 * refuses with a typed error while the canary never crosses the attacker.
 *
 * Attacks: a MITM presenting its own TLS certificate; a proxy that forwards
 * the genuine attestation with its own key set; a relay that flips, drops,
 * reorders, replays or cuts sealed frames, or answers in the clear; a server
 * built from modified code (a code-bundle digest the policy does not name); a
 * replayed attestation answering an old nonce; a quote from another TPM; a
 * development-TPM server presented to a production policy. Also what must
 * keep working: sealed bodies through a relay and a TLS-terminating proxy,
 * and re-attestation when the server's key set changes or the freshness
 * limit passes.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ChannelError, SEALED_PATH } from "@veritee/channel";
import { createAttestedCertificate, createPinnedFetch } from "@veritee/channel/node";
import { ClientError, connect, type Session } from "@veritee/client/node";
import { MalformedError } from "@veritee/core";
import {
  createLaunchEvent,
  decodeAttestationDocument,
  encodeAttestationDocument,
  HPKE_AEAD_AES_128_GCM,
  HPKE_KDF_HKDF_SHA256,
  HPKE_KEM_X25519_SHA256,
  type KeySet,
  keySetDigest,
  parseJsonBytes,
  VerificationError,
} from "@veritee/evidence";
import {
  encodePemCertificate,
  type Policy,
  PolicyError,
  parsePolicy,
  policyFromReferenceValues,
} from "@veritee/policy";
import type { RunningVeriteeServer } from "@veritee/server";
import { sharedPath } from "@veritee/testkit";
import OpenAI from "openai";
import { startDevServer } from "./support/dev-server.js";
import { Relay, type RelayHooks, type RelayRequest, type RelayResponse } from "./support/relay.js";

let a: RunningVeriteeServer;
let b: RunningVeriteeServer;
let policyA: Policy;
const relays: Relay[] = [];

before(async () => {
  [a, b] = await Promise.all([startDevServer(), startDevServer()]);
  policyA = policyFromReferenceValues(a.referenceValues);
});

after(async () => {
  await Promise.all(relays.map((r) => r.close()));
  await Promise.all([a?.close(), b?.close()]);
});

async function relay(target: string, hooks: RelayHooks = {}, tls?: { key: string; cert: string }): Promise<Relay> {
  const r = await Relay.start(target, hooks, tls);
  relays.push(r);
  return r;
}

function canary(): string {
  return `CANARY-${randomBytes(12).toString("hex")}`;
}

/** What a user does: connect, then ask with the canary in the prompt (streamed). Returns the reply. */
async function userChats(
  baseURL: string,
  policy: Policy | object,
  secret: string,
  session?: Session,
  fetchFn?: typeof fetch,
): Promise<string> {
  const s = session ?? (await connect({ baseURL, policy, ...(fetchFn ? { fetch: fetchFn } : {}) }));
  try {
    const openai = new OpenAI({ baseURL: s.baseURL, apiKey: "unused", fetch: s.fetch, maxRetries: 0 });
    const stream = await openai.chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: `${secret} Once upon a time` }],
      max_tokens: 12,
      temperature: 0,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return text;
  } finally {
    if (session === undefined) await s.close();
  }
}

/** Only the attestation protocol crossed the attacker: no other path was requested. */
function assertOnlyAttestation(r: Relay): void {
  for (const req of r.requests)
    assert.match(req.path, /^\/v1\/attestation(\/activate)?(\?|$)/, `${req.method} ${req.path}`);
}

/** A policy document as JSON with some members replaced. */
function policyWith(base: Policy, change: (doc: Record<string, unknown>) => void): Policy {
  const doc = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  change(doc);
  return parsePolicy(doc);
}

/** The attestation document in a relay response, decoded. */
function documentOf(body: Buffer) {
  return decodeAttestationDocument(parseJsonBytes(new Uint8Array(body), "doc", { maxBytes: 4 << 20 }));
}

function documentResponse(response: RelayResponse, doc: ReturnType<typeof documentOf>): RelayResponse {
  return { ...response, body: Buffer.from(encodeAttestationDocument(doc)) };
}

/** An attacker's own key set: a fresh P-256 TLS key and X25519 HPKE key. */
function attackerKeySet(): KeySet {
  const tls = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const hpke = generateKeyPairSync("x25519");
  const raw = (hpke.publicKey.export({ format: "jwk" }) as { x: string }).x;
  return {
    tlsSpki: new Uint8Array(tls.publicKey.export({ format: "der", type: "spki" })),
    hpke: {
      keyId: 0,
      kemId: HPKE_KEM_X25519_SHA256,
      publicKey: new Uint8Array(Buffer.from(raw, "base64url")),
      cipherSuites: [{ kdfId: HPKE_KDF_HKDF_SHA256, aeadId: HPKE_AEAD_AES_128_GCM }],
    },
  };
}

/** The attacker's own TLS certificate (a fresh P-256 key, self-signed). */
function attackerCertificate(): { key: string; cert: string; spki: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  const cert = createAttestedCertificate({ privateKey, spki, commonName: "attacker" });
  return { key: privateKey.export({ format: "pem", type: "pkcs8" }) as string, cert: cert.pem, spki };
}

const isAttestation = (req: RelayRequest) => req.method === "GET" && req.path.startsWith("/v1/attestation?");

describe("attacks the client refuses without sending user data", () => {
  test("a man in the middle presenting its own TLS certificate: pin-mismatch before the first request byte", async () => {
    const secret = canary();
    const mitm = await relay(a.tlsUrl!, {}, attackerCertificate());
    await assert.rejects(
      userChats(mitm.url, policyA, secret),
      (e: unknown) => e instanceof ChannelError && e.code === "pin-mismatch",
    );
    assert.ok(!mitm.saw(secret));
    // The document came through (it proves itself); credential activation already needed the pinned key.
    assert.equal(mitm.requests.filter(isAttestation).length, 1);
    assert.equal(mitm.requestsTo("/v1/attestation/activate").length, 0);
    assertOnlyAttestation(mitm);
  });

  test("a proxy forwarding the genuine attestation with its own key set: key-set-mismatch / nonce-mismatch", async () => {
    const secret = canary();
    // 1. Only the key set swapped: the launch log measured another key set.
    const swap = await relay(a.url, {
      rewrite: (req, res) => {
        if (!isAttestation(req)) return undefined;
        return documentResponse(res, { ...documentOf(res.body), keySet: attackerKeySet() });
      },
    });
    await assert.rejects(
      userChats(swap.url, policyA, secret),
      (e: unknown) => e instanceof VerificationError && e.code === "key-set-mismatch",
    );
    // 2. The key set and the launch log's key-set event swapped: the quote binds the genuine key set.
    const both = await relay(a.url, {
      rewrite: (req, res) => {
        if (!isAttestation(req)) return undefined;
        const doc = documentOf(res.body);
        const keySet = attackerKeySet();
        const events = doc.launchLog.events.map((e) =>
          e.type === "key-set"
            ? createLaunchEvent(doc.launchLog.pcr, "key-set", {
                digest: Buffer.from(keySetDigest(keySet)).toString("hex"),
              })
            : e,
        );
        return documentResponse(res, { ...doc, keySet, launchLog: { ...doc.launchLog, events } });
      },
    });
    await assert.rejects(
      userChats(both.url, policyA, secret),
      (e: unknown) => e instanceof VerificationError && e.code === "nonce-mismatch",
    );
    for (const r of [swap, both]) {
      assert.ok(!r.saw(secret));
      assertOnlyAttestation(r);
    }
  });

  test("a server built from modified code: the policy error names the code bundle, expected and actual", async () => {
    const secret = canary();
    const published = "ab".repeat(32);
    const policy = policyWith(policyA, (doc) => {
      (doc.launch as Record<string, unknown>).codeBundle = published;
    });
    const r = await relay(a.url);
    let error: unknown;
    await assert.rejects(userChats(r.url, policy, secret), (e: unknown) => {
      error = e;
      return e instanceof PolicyError && e.code === "measurement-mismatch" && e.kind === "policy";
    });
    const e = error as PolicyError;
    const actual = a.referenceValues.launch.codeBundle;
    assert.equal(e.claim?.path, "launch.codeBundle");
    assert.equal(e.claim?.expected, published);
    assert.equal(e.claim?.actual, actual);
    assert.match(e.message, /code bundle/);
    assert.ok(e.message.includes(published) && e.message.includes(actual), e.message);
    assert.equal(e.appraisal?.verdict, "fail");
    assert.ok(!r.saw(secret));
    assertOnlyAttestation(r);
  });

  test("a replayed attestation answering an old nonce: nonce-mismatch, at connect and at re-attestation", async () => {
    const secret = canary();
    let cached: RelayResponse | undefined;
    const r = await relay(a.url, {
      rewrite: (req, res) => {
        if (!isAttestation(req)) return undefined;
        cached ??= res;
        return cached;
      },
    });
    // The first document is genuine: a session opens. Later attestations get the same document back.
    let clock = Date.now();
    const session = await connect({ baseURL: r.url, policy: policyA, now: () => new Date(clock) });
    await assert.rejects(
      connect({ baseURL: r.url, policy: policyA }),
      (e: unknown) => e instanceof VerificationError && e.code === "nonce-mismatch",
    );
    // Past the freshness limit the session attests again before sending — and refuses the replay.
    clock += (policyA.freshness.maxAgeSeconds + 1) * 1000;
    await assert.rejects(
      userChats(r.url, policyA, secret, session),
      (e: unknown) =>
        (e instanceof VerificationError && e.code === "nonce-mismatch") ||
        (e instanceof OpenAI.APIConnectionError &&
          e.cause instanceof VerificationError &&
          e.cause.code === "nonce-mismatch"),
    );
    await session.close();
    assert.ok(!r.saw(secret));
    assertOnlyAttestation(r);
  });

  test("a quote from another TPM beside the genuine EK certificate: refused by credential activation", async () => {
    const secret = canary();
    const genuine = documentOf(
      Buffer.from(await (await fetch(`${a.url}/v1/attestation?nonce=${"00".repeat(32)}`)).arrayBuffer()),
    );
    // B's TPM quotes the client's nonce over B's key set; the attacker ships it with A's EK and certificate.
    for (const activateAt of [a.url, b.url]) {
      const r = await relay(a.url, {
        answer: async (req) => {
          if (isAttestation(req)) {
            const res = await fetch(`${b.url}${req.path}`);
            const doc = documentOf(Buffer.from(await res.arrayBuffer()));
            // A activates only for a nonce it attested: the attacker has it attest the client's nonce too, so that
            // the credential does reach A's TPM (which holds the EK but not B's AK, and refuses it).
            await (await fetch(`${a.url}${req.path}`)).arrayBuffer();
            return {
              status: 200,
              headers: { "content-type": "application/json" },
              body: Buffer.from(encodeAttestationDocument({ ...doc, ek: genuine.ek })),
            };
          }
          if (req.path === "/v1/attestation/activate") {
            const res = await fetch(`${activateAt}${req.path}`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: req.body,
            });
            return {
              status: res.status,
              headers: { "content-type": "application/json" },
              body: Buffer.from(await res.arrayBuffer()),
            };
          }
          return undefined;
        },
      });
      await assert.rejects(
        userChats(r.url, policyA, secret),
        (e: unknown) => e instanceof VerificationError && e.code === "credential-mismatch",
      );
      assert.equal(r.requestsTo("/v1/attestation/activate").length, 1, "verification passed; activation refused");
      assert.ok(!r.saw(secret));
      assertOnlyAttestation(r);
    }
    // B's document as it is: its EK chains to B's own local CA, which A's policy does not trust.
    const whole = await relay(b.url);
    await assert.rejects(
      userChats(whole.url, policyA, secret),
      (e: unknown) => e instanceof VerificationError && e.code === "cert-untrusted-root",
    );
    assert.ok(!whole.saw(secret));
    assertOnlyAttestation(whole);
  });

  test("a development-TPM server presented to a production policy", async () => {
    const secret = canary();
    const r = await relay(a.url);
    // A production policy cannot even name the swtpm local CA: refused before any network use.
    assert.throws(
      () =>
        policyWith(policyA, (doc) => {
          doc.development = false;
          (doc.boot as Record<string, unknown>).sha256 = "any";
        }),
      (e: unknown) => e instanceof PolicyError && e.code === "invalid-policy" && e.path === "trust.ekRoots[0].pem",
    );
    // A production policy trusting a real TPM vendor's root (Google's vTPM EK CA): the swtpm EK does not chain.
    const gceRoot = encodePemCertificate(
      new Uint8Array(readFileSync(sharedPath("vectors", "tpm", "gce", "ca", "tpm_ek_root_1.cer"))),
    );
    const production = policyWith(policyA, (doc) => {
      doc.development = false;
      doc.description = "production";
      doc.trust = {
        ekRoots: [{ name: "Google EK root", pem: gceRoot }],
        ekIntermediates: [],
        akProof: "credential-activation",
      };
      (doc.boot as Record<string, unknown>).sha256 = "any";
    });
    await assert.rejects(
      userChats(r.url, production, secret),
      (e: unknown) => e instanceof VerificationError && e.code === "cert-untrusted-root",
    );
    assert.ok(!r.saw(secret));
    assertOnlyAttestation(r);
  });
});

describe("a relay tampering with sealed traffic", () => {
  /** Nr, the response nonce size, for the AEAD the sealed request names (hdr: key_id u8, kem u16, kdf u16, aead u16). */
  function responseNonceSize(sealedRequest: Buffer): number {
    return sealedRequest.readUInt16BE(5) === HPKE_AEAD_AES_128_GCM ? 16 : 32;
  }

  /** Split a sealed response into its nonce and frames (flags u8, seq u32, length u32, ciphertext). */
  function frames(body: Buffer, nonceSize: number): { nonce: Buffer; frames: Buffer[] } {
    const out: Buffer[] = [];
    let at = nonceSize;
    while (at < body.length) {
      const length = body.readUInt32BE(at + 5);
      out.push(body.subarray(at, at + 9 + length));
      at += 9 + length;
    }
    return { nonce: body.subarray(0, nonceSize), frames: out };
  }

  /** A relay that rewrites sealed chat responses with `mutate`. */
  async function tamperingRelay(mutate: (f: Buffer[]) => Buffer[]): Promise<Relay> {
    return relay(a.url, {
      rewrite: (req, res) => {
        if (req.path !== SEALED_PATH || res.status !== 200) return undefined;
        const split = frames(res.body, responseNonceSize(req.body));
        return { ...res, body: Buffer.concat([split.nonce, ...mutate(split.frames.map((f) => Buffer.from(f)))]) };
      },
    });
  }

  async function readAll(session: Session, secret: string): Promise<string> {
    const response = await session.fetch(`${session.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "stories260K",
        messages: [{ role: "user", content: `${secret} Once upon a time` }],
        max_tokens: 16,
        temperature: 0,
        stream: true,
      }),
    });
    return response.text();
  }

  /** The frames with one bit of frame `index`, byte `at`, flipped. */
  const flip = (index: number, at: number, bit: number) => (f: Buffer[]) => {
    f[index]![at]! ^= bit;
    return f;
  };
  const cases: [string, (f: Buffer[]) => Buffer[], string][] = [
    ["flips a bit in the head frame", flip(0, 20, 1), "tampered"],
    ["flips a bit in a body frame", flip(2, 12, 0x80), "tampered"],
    ["drops a frame", (f) => [f[0]!, f[1]!, ...f.slice(3)], "frame-out-of-order"],
    ["reorders two frames", (f) => [f[0]!, f[2]!, f[1]!, ...f.slice(3)], "frame-out-of-order"],
    ["replays a frame", (f) => [f[0]!, f[1]!, f[1]!, ...f.slice(2)], "frame-out-of-order"],
    ["cuts the final frame", (f) => f.slice(0, -1), "truncated"],
  ];
  for (const [what, mutate, code] of cases) {
    test(`a relay that ${what}: ChannelError ${code}`, async () => {
      const secret = canary();
      const r = await tamperingRelay(mutate);
      const session = await connect({ baseURL: r.url, policy: policyA });
      await assert.rejects(readAll(session, secret), (e: unknown) => e instanceof ChannelError && e.code === code);
      await session.close();
      assert.ok(!r.saw(secret));
    });
  }

  test("through the openai package, a dropped frame ends the stream with the ChannelError as the cause", async () => {
    const secret = canary();
    const r = await tamperingRelay((f) => [f[0]!, f[1]!, ...f.slice(3)]);
    await assert.rejects(
      userChats(r.url, policyA, secret),
      (e: unknown) =>
        e instanceof OpenAI.APIConnectionError &&
        e.cause instanceof ChannelError &&
        e.cause.code === "frame-out-of-order",
    );
    assert.ok(!r.saw(secret));
  });

  test("a response replayed from another request, a tampered request, an answer in the clear: all refused", async () => {
    const secret = canary();
    let first: RelayResponse | undefined;
    const replay = await relay(a.url, {
      rewrite: (req, res) => {
        if (req.path !== SEALED_PATH) return undefined;
        first ??= res;
        return first;
      },
    });
    const s1 = await connect({ baseURL: replay.url, policy: policyA });
    await readAll(s1, canary());
    await assert.rejects(readAll(s1, secret), (e: unknown) => e instanceof ChannelError && e.code === "tampered");
    await s1.close();

    // A flipped request byte: the server cannot open it and says so in the clear, which the client refuses.
    const flipper = await relay(a.url, {
      answer: async (req) => {
        if (req.path !== SEALED_PATH) return undefined;
        const body = Buffer.from(req.body);
        body[body.length - 1]! ^= 1;
        const res = await fetch(`${a.url}${req.path}`, {
          method: "POST",
          headers: req.headers as Record<string, string>,
          body,
        });
        return {
          status: res.status,
          headers: { "content-type": res.headers.get("content-type") ?? "" },
          body: Buffer.from(await res.arrayBuffer()),
        };
      },
    });
    const s2 = await connect({ baseURL: flipper.url, policy: policyA });
    await assert.rejects(readAll(s2, secret), (e: unknown) => e instanceof ChannelError && e.code === "not-sealed");
    await s2.close();

    // A forged answer in the clear: never handed to the application.
    const forger = await relay(a.url, {
      answer: (req) =>
        req.path === SEALED_PATH
          ? {
              status: 200,
              headers: { "content-type": "text/event-stream" },
              body: Buffer.from('data: {"choices":[]}\n\n'),
            }
          : undefined,
    });
    const s3 = await connect({ baseURL: forger.url, policy: policyA });
    await assert.rejects(readAll(s3, secret), (e: unknown) => e instanceof ChannelError && e.code === "not-sealed");
    await s3.close();
    for (const r of [replay, flipper, forger]) assert.ok(!r.saw(secret));
  });
});

describe("what keeps working with an attacker in between", () => {
  test("through a plain relay and through a TLS-terminating proxy, sealed bodies hide the prompt", async () => {
    const secret = canary();
    const plain = await relay(a.url);
    const text = await userChats(plain.url, policyA, secret);
    assert.ok(text.length > 0);
    // A proxy terminating TLS with its own certificate: allowed only by a sealed-only policy, and it sees nothing.
    const sealedOnly = policyWith(policyA, (doc) => {
      doc.channel = { modes: ["sealed"] };
    });
    const certificate = attackerCertificate();
    const terminator = await relay(a.tlsUrl!, {}, certificate);
    // The platform trusts the proxy's certificate, as it would a load balancer's with a public CA.
    const platformTls = createPinnedFetch({ origin: terminator.url, spki: certificate.spki });
    assert.equal(await userChats(terminator.url, sealedOnly, secret, undefined, platformTls), text);
    for (const r of [plain, terminator]) {
      // The relay does see the traffic (the control), just nothing of the prompt.
      assert.ok(r.saw("application/veritee-sealed-request") && r.saw("veritee-key-set"));
      assert.ok(!r.saw(secret));
      assert.ok(!r.saw("Once upon a time"));
      // Version 2: one fixed outer path; the real one (and every request header) is inside the seal.
      assert.ok(r.requestsTo(SEALED_PATH).length === 1);
      assert.ok(!r.saw("/v1/chat/completions"));
    }
    // Without sealing, a TLS-terminating proxy leaves no allowed channel for a policy that only pins.
    const pinOnly = policyWith(policyA, (doc) => {
      doc.channel = { modes: ["attested-tls"] };
    });
    await assert.rejects(
      userChats(terminator.url, pinOnly, secret),
      (e: unknown) => e instanceof ChannelError && e.code === "pin-mismatch",
    );
    await assert.rejects(
      connect({ baseURL: plain.url, policy: pinOnly }),
      (e: unknown) => e instanceof PolicyError && e.code === "channel-mode-not-allowed",
    );
    assert.ok(!terminator.saw(secret));
  });

  test("the server's key set changes (another replica): the session attests again and resends, sealed", async () => {
    const secret = canary();
    // A policy accepting either replica: both roots, both sets of measurements.
    const rvB = b.referenceValues;
    const either = (x: string, y: string) => (x === y ? x : [x, y]);
    const policy = policyWith(policyA, (doc) => {
      const trust = doc.trust as { ekRoots: { name: string; pem: string }[] };
      trust.ekRoots.push({ name: "replica B root", pem: rvB.ekRootsPem[0]! });
      const launch = doc.launch as Record<string, unknown>;
      launch.configuration = either(a.referenceValues.launch.configuration, rvB.launch.configuration);
    });
    const lb = await relay(a.url);
    const session = await connect({ baseURL: lb.url, policy });
    const before = Buffer.from(session.attestation.keySetDigest).toString("hex");
    await userChats(lb.url, policy, secret, session);
    lb.target = b.url; // the balancer now sends everything to replica B
    const text = await userChats(lb.url, policy, secret, session);
    assert.ok(text.length > 0);
    const afterDigest = Buffer.from(session.attestation.keySetDigest).toString("hex");
    assert.notEqual(afterDigest, before);
    assert.equal(afterDigest, Buffer.from(b.launch.keys.keySetDigest).toString("hex"));
    assert.equal(lb.requests.filter(isAttestation).length, 2, "one re-attestation, with a fresh nonce");
    const nonces = lb.requests.filter(isAttestation).map((r) => r.path);
    assert.notEqual(nonces[0], nonces[1]);
    assert.ok(!lb.saw(secret));
    await session.close();
  });

  test("past the freshness limit the next request is preceded by a fresh attestation", async () => {
    const r = await relay(a.url);
    let clock = Date.now();
    const session = await connect({ baseURL: r.url, policy: policyA, now: () => new Date(clock) });
    await session.fetch(`${session.baseURL}/models`);
    clock += policyA.freshness.maxAgeSeconds * 1000 - 1000;
    await session.fetch(`${session.baseURL}/models`);
    assert.equal(r.requests.filter(isAttestation).length, 1);
    clock += 2000;
    await session.fetch(`${session.baseURL}/models`);
    const paths = r.requests.map((q) => q.path.replace(/\?.*/, ""));
    assert.deepEqual(paths.slice(-3), ["/v1/attestation", "/v1/attestation/activate", SEALED_PATH]);
    await session.close();
  });

  test("typed errors for an unreachable server and a malformed document", async () => {
    await assert.rejects(
      connect({ baseURL: "http://127.0.0.1:1/v1", policy: policyA }),
      (e: unknown) => e instanceof ClientError && e.code === "unreachable",
    );
    const garbage = await relay(a.url, {
      answer: (req) =>
        isAttestation(req)
          ? { status: 200, headers: { "content-type": "application/json" }, body: Buffer.from('{"version":1}') }
          : undefined,
    });
    await assert.rejects(
      connect({ baseURL: garbage.url, policy: policyA }),
      (e: unknown) => e instanceof MalformedError,
    );
    const down = await relay(a.url, {
      answer: (req) => (isAttestation(req) ? { status: 503, headers: {}, body: Buffer.from("") } : undefined),
    });
    await assert.rejects(
      connect({ baseURL: down.url, policy: policyA }),
      (e: unknown) => e instanceof ClientError && e.code === "attestation-unavailable" && e.status === 503,
    );
  });

  test("credential activation: a rate-limited answer is retried after Retry-After; a failing one is a typed error", async () => {
    let limited = 0;
    const busy = await relay(a.url, {
      answer: (req) => {
        if (req.path !== "/v1/attestation/activate" || limited >= 2) return undefined;
        limited++;
        return { status: 429, headers: { "retry-after": "0" }, body: Buffer.from("{}") };
      },
    });
    const session = await connect({ baseURL: busy.url, policy: policyA });
    assert.equal(session.attestation.akResidency, "credential-activation");
    assert.equal(busy.requestsTo("/v1/attestation/activate").length, 3);
    await session.close();
    const broken = await relay(a.url, {
      answer: (req) =>
        req.path === "/v1/attestation/activate" ? { status: 500, headers: {}, body: Buffer.from("") } : undefined,
    });
    await assert.rejects(
      connect({ baseURL: broken.url, policy: policyA }),
      (e: unknown) => e instanceof ClientError && e.code === "activation-failed" && e.status === 500,
    );
    const garbled = await relay(a.url, {
      answer: (req) =>
        req.path === "/v1/attestation/activate"
          ? { status: 200, headers: { "content-type": "application/json" }, body: Buffer.from('{"secret":"!!"}') }
          : undefined,
    });
    await assert.rejects(
      connect({ baseURL: garbled.url, policy: policyA }),
      (e: unknown) => e instanceof MalformedError,
    );
  });
});
