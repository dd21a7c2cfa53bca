/**
 * The release client against custodians that follow, break or refuse the
 * protocol (small loopback HTTP servers playing the custodian's wire role;
 * the real custodian's tests are custodian*.test.ts and test/e2e): whole
 * keys and k-of-n shares, retries of 5xx and unreachable custodians,
 * refusals that name the claim, and answers that must not be trusted.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { openSingleShot, type RecipientKey, sealSingleShot } from "@veritee/channel";
import { nodeBackend, nodeRecipientKey } from "@veritee/channel/node";
import { canonicalJsonBytes, type HpkeKeyConfig } from "@veritee/core";
import {
  CustodyError,
  combineModelKey,
  MODEL_KEY_INFO,
  obtainModelKey,
  type ReleaseAttester,
  splitModelKey,
} from "../src/index.js";

function serverKey(): { keyConfig: HpkeKeyConfig; recipient: RecipientKey } {
  const pair = generateKeyPairSync("x25519");
  const keyConfig: HpkeKeyConfig = {
    keyId: 0,
    kemId: 0x0020,
    publicKey: new Uint8Array(Buffer.from(pair.publicKey.export({ format: "jwk" }).x!, "base64url")),
    cipherSuites: [{ kdfId: 1, aeadId: 1 }],
  };
  return {
    keyConfig,
    recipient: nodeRecipientKey({ keyConfig, keySetDigest: new Uint8Array(32), privateKey: pair.privateKey }),
  };
}

const server = serverKey();
const DEPLOYMENT = "dep-1";
const MODEL = "model-1";

/** The server side: "documents" are the nonce itself, activation echoes a proof. */
function attesterFor(recipient: RecipientKey, seen: { nonces: string[] } = { nonces: [] }): ReleaseAttester {
  return {
    attest: async (nonce) => {
      seen.nonces.push(Buffer.from(nonce).toString("hex"));
      return nonce;
    },
    activate: async (request) => ({ proofFor: request }),
    open: (enc, ciphertext, info, aad) => openSingleShot(recipient, { enc, ciphertext }, info, aad),
  };
}

interface Behaviour {
  secret?: Uint8Array;
  shareIndex?: number;
  threshold?: number;
  refuse?: { status: number; code: string; claim?: string };
  failFirst?: number;
  sealTo?: HpkeKeyConfig;
  deployment?: string;
  modelId?: string;
  aadChallenge?: string;
  /** Send another lease key than the one the key was sealed with (a man in the middle's). */
  swapLeaseKey?: boolean;
}

const leaseKeyOf = () =>
  new Uint8Array(generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }));
const LEASE_KEY = leaseKeyOf();

const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

/** A custodian following the wire protocol, with `behaviour`'s deviations. */
async function custodian(behaviour: Behaviour): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  let failures = behaviour.failFirst ?? 0;
  const challenges = new Map<string, string>();
  const srv = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", async () => {
      calls.push(req.url!);
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (failures > 0) {
        failures--;
        send(503, { error: { code: "storage", message: "restarting" } });
        return;
      }
      const json = JSON.parse(body) as Record<string, unknown>;
      if (req.url === "/v1/release/challenge") {
        if (behaviour.refuse) {
          const { status, code, claim } = behaviour.refuse;
          send(status, { error: { code, message: "refused by policy", ...(claim ? { claim } : {}) } });
          return;
        }
        const id = randomBytes(16).toString("hex");
        const nonce = randomBytes(32).toString("hex");
        challenges.set(id, nonce);
        send(200, { challengeId: id, nonce, expiresIn: 60 });
      } else if (req.url === "/v1/release/attest") {
        const doc = Buffer.from(json.document as string, "base64").toString("hex");
        if (challenges.get(json.challengeId as string) !== doc) {
          send(403, { error: { code: "refused", message: "stale nonce", claim: "freshness.nonce" } });
          return;
        }
        send(200, { activation: { challenge: json.challengeId } });
      } else if (req.url === "/v1/release/activate") {
        const challengeId = json.challengeId as string;
        const secret = behaviour.secret!;
        const aad = canonicalJsonBytes({
          challengeId: behaviour.aadChallenge ?? challengeId,
          deployment: DEPLOYMENT,
          modelId: MODEL,
          leaseKey: Buffer.from(LEASE_KEY).toString("base64"),
        });
        const sealed = await sealSingleShot(
          nodeBackend,
          behaviour.sealTo ?? server.keyConfig,
          new TextEncoder().encode(MODEL_KEY_INFO),
          aad,
          secret,
        );
        send(200, {
          deployment: behaviour.deployment ?? DEPLOYMENT,
          modelId: behaviour.modelId ?? MODEL,
          threshold: behaviour.threshold ?? 1,
          ...(behaviour.shareIndex !== undefined ? { shareIndex: behaviour.shareIndex } : {}),
          sealedKey: {
            enc: Buffer.from(sealed.enc).toString("base64"),
            ciphertext: Buffer.from(sealed.ciphertext).toString("base64"),
          },
          leaseKey: Buffer.from(behaviour.swapLeaseKey ? leaseKeyOf() : LEASE_KEY).toString("base64"),
        });
      } else send(404, { error: { code: "not-found", message: "no such route" } });
    });
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, calls };
}

const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20, requestTimeoutMs: 5000 };
const options = (custodians: string[], threshold: number, recipient = server.recipient) => ({
  custodians,
  deployment: DEPLOYMENT,
  modelId: MODEL,
  threshold,
  attester: attesterFor(recipient),
  retry: fast,
});

test("one custodian releases the whole key, sealed to the server's key and bound to the challenge", async () => {
  const key = new Uint8Array(randomBytes(32));
  const c = await custodian({ secret: key });
  assert.deepEqual(await obtainModelKey(options([c.url], 1)), key);
  assert.deepEqual(c.calls, ["/v1/release/challenge", "/v1/release/attest", "/v1/release/activate"]);
});

test("5xx answers are retried with backoff; a custodian that never answers is unreachable", async () => {
  const key = new Uint8Array(randomBytes(32));
  const flaky = await custodian({ secret: key, failFirst: 2 });
  const retries: number[] = [];
  const got = await obtainModelKey({ ...options([flaky.url], 1), onRetry: (e) => retries.push(e.attempt) });
  assert.deepEqual(got, key);
  assert.deepEqual(retries, [1, 2]);
  await assert.rejects(
    obtainModelKey(options(["http://127.0.0.1:9"], 1)),
    (e: unknown) => e instanceof CustodyError && e.code === "unreachable" && /after 3 attempts/.test(e.message),
  );
});

test("a refusal is final and names the failed claim; a revocation says revoked", async () => {
  const refused = await custodian({ refuse: { status: 403, code: "refused", claim: "launch.codeBundle" } });
  await assert.rejects(
    obtainModelKey(options([refused.url], 1)),
    (e: unknown) => e instanceof CustodyError && e.code === "refused" && e.claim === "launch.codeBundle",
  );
  assert.equal(refused.calls.length, 1, "not retried");
  const revoked = await custodian({ refuse: { status: 403, code: "revoked" } });
  await assert.rejects(
    obtainModelKey(options([revoked.url], 1)),
    (e: unknown) => e instanceof CustodyError && e.code === "revoked",
  );
});

test("answers that must not be trusted are refused as bad-response, without key bytes in the message", async () => {
  const key = new Uint8Array(randomBytes(32));
  const other = serverKey();
  const cases: [Behaviour, RegExp][] = [
    [{ secret: key, sealTo: other.keyConfig }, /does not open with this server's key set/],
    [{ secret: key, aadChallenge: "00".repeat(16) }, /does not open/],
    // A lease key substituted on the way: the key was sealed with the custodian's, so it does not open.
    [{ secret: key, swapLeaseKey: true }, /does not open/],
    [{ secret: key, deployment: "dep-2" }, /another deployment/],
    [{ secret: key, modelId: "model-2" }, /another model/],
    [{ secret: key, threshold: 2, shareIndex: 1 }, /threshold is 2/],
    [{ secret: key.subarray(0, 31) }, /not 32 bytes/],
  ];
  for (const [behaviour, message] of cases) {
    const c = await custodian(behaviour);
    await assert.rejects(obtainModelKey(options([c.url], 1)), (e: unknown) => {
      assert.ok(e instanceof CustodyError && e.code === "bad-response", String(e));
      assert.match(e.message, message);
      assert.ok(!e.message.includes(Buffer.from(key).toString("hex")));
      assert.ok(!e.message.includes(Buffer.from(key).toString("base64")));
      return true;
    });
  }
});

test("k of n: two of three shares open the model when one owner refuses; two refusals block it, naming both", async () => {
  const key = new Uint8Array(randomBytes(32));
  const shares = await splitModelKey(key, 3, 2);
  const owner = (i: number, refuse?: Behaviour["refuse"]) =>
    custodian({ secret: shares[i]!, shareIndex: i + 1, threshold: 2, ...(refuse ? { refuse } : {}) });
  const refusal = { status: 403, code: "refused", claim: "launch.configuration" };
  const oneRefuses = await Promise.all([owner(0), owner(1, refusal), owner(2)]);
  assert.deepEqual(
    await obtainModelKey(
      options(
        oneRefuses.map((c) => c.url),
        2,
      ),
    ),
    key,
  );
  const twoRefuse = await Promise.all([owner(0, refusal), owner(1), owner(2, refusal)]);
  await assert.rejects(
    obtainModelKey(
      options(
        twoRefuse.map((c) => c.url),
        2,
      ),
    ),
    (e: unknown) => {
      assert.ok(e instanceof CustodyError && e.code === "not-enough-shares");
      assert.equal(e.message.match(/failed claim launch\.configuration/g)?.length, 2);
      return true;
    },
  );
  assert.deepEqual(await combineModelKey([shares[0]!, shares[2]!]), key);
});

test("bad options are refused before any request", async () => {
  await assert.rejects(
    obtainModelKey(options([], 1)),
    (e: unknown) => e instanceof CustodyError && e.code === "invalid-request",
  );
  await assert.rejects(
    obtainModelKey(options(["http://127.0.0.1:9", "http://127.0.0.1:10"], 1)),
    (e: unknown) => e instanceof CustodyError && e.code === "invalid-request",
  );
  await assert.rejects(
    obtainModelKey(options(["http://127.0.0.1:9"], 2)),
    (e: unknown) => e instanceof CustodyError && e.code === "not-enough-shares",
  );
});
