/**
 * The custodian's HTTP API, attacked, on every store engine (SQLite and
 * PostgreSQL): admin tokens (missing, wrong, another scheme), strict bodies
 * (unknown and missing members, wrong lengths, not JSON, oversize), objects
 * (conflicts, unknown models, invalid policies), and the release steps that
 * need no live server: unknown, spent, expired and out-of-order challenges,
 * a replayed attestation document (a real development server's, recorded
 * for another nonce), revoked deployments, a flood of challenges. Every
 * refusal is audited with the failed claim; a canary secret is in no
 * response, log event or audit record.
 *
 * The positive release, and replays against a live attested server, are in
 * test/e2e/custodian-release.test.ts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { base64Encode } from "@veritee/core";
import { policyFromReferenceValues } from "@veritee/policy";
import { type CustodianLog, type RunningCustodian, startCustodianService } from "../src/custodian/index.js";
import { consumerKeyDigest } from "../src/custodian/service.js";
import { CHALLENGE_TTL_SECONDS, CONSUMER_KEY } from "../src/protocol/index.js";
import { ENGINES } from "./support/engines.js";

const TOKEN = `token-${randomBytes(12).toString("hex")}`;
/** A real development server's attestation, recorded for a nonce of its own (packages/policy/test/fixtures). */
const FIXTURE = JSON.parse(readFileSync("packages/policy/test/fixtures/dev-attestation.json", "utf8")) as {
  verifiedAt: string;
  ekRootsPem: string[];
  referenceValues: Parameters<typeof policyFromReferenceValues>[0];
  document: unknown;
};
const POLICY = JSON.parse(
  JSON.stringify(policyFromReferenceValues({ ...FIXTURE.referenceValues, ekRootsPem: FIXTURE.ekRootsPem })),
);

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

function errorOf(answer: Answer): { code: string; message: string; claim?: string } {
  return answer.body.error as { code: string; message: string; claim?: string };
}

for (const engine of ENGINES) {
  describe(`custodian API (${engine.name})`, { skip: engine.skip }, () => {
    let custodian: RunningCustodian;
    let dump: () => Promise<string>;
    const logged: Parameters<CustodianLog>[0][] = [];
    const responses: string[] = [];
    let clock = Date.parse(FIXTURE.verifiedAt) + 1000;
    const canary = new Uint8Array(randomBytes(32));
    const canaryB64 = base64Encode(canary);
    const canaryHex = Buffer.from(canary).toString("hex");

    async function call(
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
    ): Promise<Answer> {
      const res = await fetch(`${custodian.url}${path}`, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      responses.push(text);
      return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>), text };
    }

    const addModel = (id: string, secret: Uint8Array = canary) =>
      call("POST", "/v1/admin/models", { id, plaintextSha256: "ab".repeat(32), secret: base64Encode(secret) });

    async function audit(): Promise<{ type: string; deployment?: string; claim?: string; reason?: string }[]> {
      const answer = await call("GET", "/v1/admin/audit?limit=1000");
      assert.equal(answer.status, 200);
      return answer.body.events as { type: string; deployment?: string; claim?: string }[];
    }

    before(async () => {
      const opened = await engine.open();
      const { store } = opened;
      dump = () => opened.dump();
      custodian = await startCustodianService({
        store,
        adminToken: TOKEN,
        log: (event) => logged.push(event),
        now: () => clock,
      });
      assert.equal((await addModel("m")).status, 201);
      const d = await call("POST", "/v1/admin/deployments", { id: "d", modelId: "m", policies: [POLICY] });
      assert.equal(d.status, 201, d.text);
    });

    after(async () => {
      await custodian.close();
      // The canary secret went in once; it never comes back out.
      for (const text of [...responses, JSON.stringify(logged)]) {
        assert.ok(!text.includes(canaryB64) && !text.includes(canaryHex), "the model secret left the custodian");
      }
    });

    test("admin routes need the bearer token; health does not", async () => {
      const health = await call("GET", "/v1/health", undefined, {});
      assert.equal(health.status, 200);
      assert.equal(health.body.engine, engine.name);
      for (const authorization of [
        undefined,
        "",
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        `Bearer ${"x".repeat(TOKEN.length)}`,
        `Basic ${TOKEN}`,
        `Bearer  ${TOKEN}`,
      ]) {
        for (const [method, path] of [
          ["GET", "/v1/admin/models"],
          ["POST", "/v1/admin/deployments/d/revoke"],
          ["GET", "/v1/admin/audit"],
        ] as const) {
          const answer = await call(method, path, undefined, authorization === undefined ? {} : { authorization });
          assert.equal(answer.status, 401, `${method} ${path} with ${JSON.stringify(authorization)}`);
          assert.equal(errorOf(answer).code, "unauthorized");
        }
      }
      const lower = await call("GET", "/v1/admin/models", undefined, { authorization: `bearer ${TOKEN}` });
      assert.equal(lower.status, 200, "the scheme is case-insensitive (RFC 9110 §11.1)");
      const d = await call("GET", "/v1/admin/deployments");
      assert.equal((d.body.deployments as { revoked: boolean }[])[0]?.revoked, false, "no refused call revoked d");
    });

    test("a model secret goes in once and never comes out; other contents under the same id conflict", async () => {
      const again = await addModel("m");
      assert.deepEqual([again.status, again.body], [200, { id: "m", created: false }]);
      const other = await addModel("m", new Uint8Array(randomBytes(32)));
      assert.equal(other.status, 409);
      assert.equal(errorOf(other).code, "conflict");
      const list = await call("GET", "/v1/admin/models");
      assert.deepEqual(
        (list.body.models as { id: string }[]).map((m) => m.id),
        ["m"],
      );
      assert.ok(!list.text.includes("secret"));
    });

    test("bodies are decoded strictly: each fault is a 400 naming the member", async () => {
      const good = { id: "x", plaintextSha256: "ab".repeat(32), secret: base64Encode(new Uint8Array(32)) };
      const cases: [unknown, RegExp][] = [
        [{ ...good, extra: 1 }, /unknown member extra/],
        [{ ...good, ["__proto__"]: 1 }, /__proto__/],
        [{ id: "x", secret: good.secret }, /missing member plaintextSha256/],
        [{ ...good, secret: base64Encode(new Uint8Array(31)) }, /secret/],
        [{ ...good, secret: "***" }, /secret/],
        [{ ...good, threshold: 2 }, /secret|shareIndex/],
        [{ ...good, id: "../etc" }, /id/],
        [{ ...good, plaintextSha256: "AB".repeat(32) }, /plaintextSha256/],
        [[good], /ModelAddRequest/],
        ["{not json", /JSON/i],
      ];
      for (const [body, message] of cases) {
        const answer = await call("POST", "/v1/admin/models", typeof body === "string" ? body : JSON.stringify(body));
        assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.text}`);
        assert.equal(errorOf(answer).code, "invalid-request");
        assert.match(errorOf(answer).message, message);
      }
      const big = await call(
        "POST",
        "/v1/release/attest",
        `{"challengeId":"${"0".repeat(32)}","document":"${"A".repeat(1 << 20)}"}`,
      );
      assert.equal(big.status, 413);
      const wrongMethod = await call("GET", "/v1/release/challenge");
      assert.equal(wrongMethod.status, 405);
      const noRoute = await call("GET", "/v1/admin/keys");
      assert.equal(noRoute.status, 404);
      const page = await call("GET", "/v1/admin/audit?limit=-1");
      assert.equal(page.status, 400);
    });

    test("deployments need a known model and valid policies", async () => {
      const unknown = await call("POST", "/v1/admin/deployments", { id: "e", modelId: "nope", policies: [POLICY] });
      assert.equal(unknown.status, 404);
      const invalid = await call("POST", "/v1/admin/deployments", {
        id: "e",
        modelId: "m",
        policies: [POLICY, { ...POLICY, development: "yes" }],
      });
      assert.equal(invalid.status, 400);
      assert.match(errorOf(invalid).message, /policies\[1\] is not a valid policy/);
      const none = await call("POST", "/v1/admin/deployments", { id: "e", modelId: "m", policies: [] });
      assert.equal(none.status, 400);
      const conflict = await call("POST", "/v1/admin/deployments", {
        id: "d",
        modelId: "m",
        policies: [{ ...POLICY, description: "another" }],
      });
      assert.equal(conflict.status, 409);
      assert.equal((await call("POST", "/v1/admin/deployments/nope/revoke")).status, 404);
    });

    test("consumers: the API key is shown once and stored only as its digest", async () => {
      const added = await call("POST", "/v1/admin/deployments/d/consumers", { id: "alice" });
      assert.equal(added.status, 201, added.text);
      const apiKey = added.body.apiKey as string;
      assert.match(apiKey, CONSUMER_KEY);
      const again = await call("POST", "/v1/admin/deployments/d/consumers", { id: "alice" });
      assert.equal(again.status, 409);
      assert.ok(!again.text.includes(apiKey));
      assert.equal((await call("POST", "/v1/admin/deployments/nope/consumers", { id: "x" })).status, 404);
      assert.equal((await call("POST", "/v1/admin/deployments/d/consumers", { id: "x", key: "mine" })).status, 400);
      const list = await call("GET", "/v1/admin/deployments/d/consumers");
      assert.deepEqual(
        (list.body.consumers as { id: string }[]).map((c) => c.id),
        ["alice"],
      );
      assert.equal((await call("GET", "/v1/admin/deployments/nope/consumers")).status, 404);
      const database = await dump();
      assert.ok(!database.includes(apiKey), "the API key is in the database");
      assert.ok(database.includes(consumerKeyDigest(apiKey)), "its digest is");
      const unauthorized = await call("POST", "/v1/admin/deployments/d/consumers", { id: "eve" }, {});
      assert.equal(unauthorized.status, 401);
      const revoked = await call("POST", "/v1/admin/deployments/d/consumers/alice/revoke");
      assert.deepEqual([revoked.status, revoked.body], [200, { deployment: "d", id: "alice", revoked: true }]);
      assert.equal((await call("POST", "/v1/admin/deployments/d/consumers/bob/revoke")).status, 404);
      // Shown once: no later answer or log line holds the key.
      const later = responses.slice(responses.indexOf(added.text) + 1).join("\n");
      assert.ok(!later.includes(apiKey) && !JSON.stringify(logged).includes(apiKey));
    });

    test("challenges: fresh for a known deployment, unknown ones refused", async () => {
      const a = await call("POST", "/v1/release/challenge", { deployment: "d" });
      const b = await call("POST", "/v1/release/challenge", { deployment: "d" });
      assert.equal(a.status, 200);
      assert.match(a.body.challengeId as string, /^[0-9a-f]{32}$/);
      assert.match(a.body.nonce as string, /^[0-9a-f]{64}$/);
      assert.equal(a.body.expiresIn, CHALLENGE_TTL_SECONDS);
      assert.notEqual(a.body.nonce, b.body.nonce);
      assert.notEqual(a.body.challengeId, b.body.challengeId);
      const unknown = await call("POST", "/v1/release/challenge", { deployment: "nope" });
      assert.equal(unknown.status, 404);
      const made = await call("POST", "/v1/release/attest", {
        challengeId: "ab".repeat(16),
        document: base64Encode(new TextEncoder().encode(JSON.stringify(FIXTURE.document))),
      });
      assert.equal(made.status, 404, "a challenge the custodian never issued");
      const early = await call("POST", "/v1/release/activate", { challengeId: a.body.challengeId, proof: {} });
      assert.equal(early.status, 409, "activate before attest");
    });

    test("a replayed attestation document (another nonce) is refused, audited with the claim, and spends the challenge", async () => {
      const c = await call("POST", "/v1/release/challenge", { deployment: "d" });
      const document = base64Encode(new TextEncoder().encode(JSON.stringify(FIXTURE.document)));
      const refused = await call("POST", "/v1/release/attest", { challengeId: c.body.challengeId, document });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(errorOf(refused).code, "refused");
      assert.match(errorOf(refused).claim ?? "", /^verification\./);
      const again = await call("POST", "/v1/release/attest", { challengeId: c.body.challengeId, document });
      assert.equal(again.status, 404, "a refused challenge cannot be tried again");
      const garbage = await call("POST", "/v1/release/challenge", { deployment: "d" });
      const junk = await call("POST", "/v1/release/attest", {
        challengeId: garbage.body.challengeId,
        document: base64Encode(new TextEncoder().encode('{"version":1}')),
      });
      assert.equal(junk.status, 403);
      const refusals = (await audit()).filter((e) => e.type === "refusal" && e.deployment === "d");
      assert.equal(refusals.length, 2);
      assert.equal(refusals[0]!.claim, errorOf(refused).claim);
    });

    test("a challenge expires after its lifetime", async () => {
      const c = await call("POST", "/v1/release/challenge", { deployment: "d" });
      clock += (CHALLENGE_TTL_SECONDS + 1) * 1000;
      const late = await call("POST", "/v1/release/attest", {
        challengeId: c.body.challengeId,
        document: base64Encode(new TextEncoder().encode("{}")),
      });
      assert.equal(late.status, 404);
      assert.match(errorOf(late).message, /expired/);
    });

    test("a flood of challenges is bounded", async () => {
      let refusedAt = -1;
      for (let i = 0; i < 1100 && refusedAt < 0; i++) {
        const answer = await call("POST", "/v1/release/challenge", { deployment: "d" });
        if (answer.status !== 200) {
          assert.equal(answer.status, 503);
          refusedAt = i;
        }
      }
      assert.ok(refusedAt > 0 && refusedAt <= 1024, `refused at ${refusedAt}`);
      clock += (CHALLENGE_TTL_SECONDS + 1) * 1000;
      assert.equal(
        (await call("POST", "/v1/release/challenge", { deployment: "d" })).status,
        200,
        "expired ones free room",
      );
    });

    test("a revoked deployment gets no challenge, and the refusal is audited", async () => {
      const outstanding = await call("POST", "/v1/release/challenge", { deployment: "d" });
      const revoke = await call("POST", "/v1/admin/deployments/d/revoke");
      assert.deepEqual([revoke.status, revoke.body], [200, { id: "d", revoked: true }]);
      const refused = await call("POST", "/v1/release/challenge", { deployment: "d" });
      assert.equal(refused.status, 403);
      assert.equal(errorOf(refused).code, "revoked");
      const late = await call("POST", "/v1/release/attest", {
        challengeId: outstanding.body.challengeId,
        document: base64Encode(new TextEncoder().encode("{}")),
      });
      assert.equal(late.status, 403, "a challenge issued before the revocation is refused too");
      const events = await audit();
      assert.equal(events.filter((e) => e.type === "revocation").length, 1);
      assert.ok(events.filter((e) => e.type === "refusal" && e.reason?.startsWith("revoked")).length >= 2);
      assert.ok(
        logged.length > 0 &&
          logged.every((e) => Object.keys(e).every((k) => ["method", "route", "status", "code"].includes(k))),
      );
    });
  });
}
