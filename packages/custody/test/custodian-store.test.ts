/**
 * The custodian store, the same suite on every engine: migrations, models
 * (idempotent, conflicting, never listed with their secret), deployments,
 * revocation, the append-only audit trail (enforced by the database), and a
 * release recorded once per challenge.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { MIGRATIONS, SCHEMA_VERSION } from "../src/custodian/index.js";
import { CustodyError } from "../src/errors.js";
import { ENGINES } from "./support/engines.js";

const LEASE = { tlsSpki: "AAAA", expiresAtMs: Date.now() + 10_000 };
const code = (c: string) => (error: unknown) => error instanceof CustodyError && error.code === c;
const model = (id: string, secret = new Uint8Array(randomBytes(32))) => ({
  id,
  plaintextSha256: "ab".repeat(32),
  sealedSha256: "cd".repeat(32),
  threshold: 1,
  shareIndex: null,
  secret,
});

for (const engine of ENGINES) {
  describe(`custodian store (${engine.name})`, { skip: engine.skip }, () => {
    test("migrations apply once, in order, and a restart keeps the data", async () => {
      const { store, reopen } = await engine.open();
      assert.equal(await store.schemaVersion(), SCHEMA_VERSION);
      assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
      await store.addModel(model("m1"));
      await store.close();
      const again = await reopen();
      assert.equal(await again.schemaVersion(), SCHEMA_VERSION);
      assert.deepEqual(
        (await again.listModels()).map((m) => m.id),
        ["m1"],
      );
      await again.close();
    });

    test("a database newer than this build is refused", async () => {
      const { store, raw, reopen } = await engine.open();
      await store.close();
      await raw(`INSERT INTO schema_migrations (version, applied_at) VALUES (${SCHEMA_VERSION + 1}, 'x')`);
      await assert.rejects(reopen(), code("storage"));
    });

    test("models: created, idempotent, conflicting; the secret is never listed", async () => {
      const { store } = await engine.open();
      const secret = new Uint8Array(randomBytes(32));
      assert.equal(await store.addModel(model("m", secret), "127.0.0.1"), "created");
      assert.equal(await store.addModel(model("m", secret.slice())), "exists");
      await assert.rejects(store.addModel(model("m")), code("conflict"));
      await assert.rejects(
        store.addModel({ ...model("m", secret), plaintextSha256: "00".repeat(32) }),
        code("conflict"),
      );
      const listed = await store.listModels();
      assert.equal(listed.length, 1);
      assert.deepEqual(Object.keys(listed[0]!).sort(), [
        "createdAt",
        "id",
        "plaintextSha256",
        "sealedSha256",
        "shareIndex",
        "threshold",
      ]);
      const hex = Buffer.from(secret).toString("hex");
      const b64 = Buffer.from(secret).toString("base64");
      assert.ok(!JSON.stringify(listed).includes(hex) && !JSON.stringify(listed).includes(b64));
      const got = await store.modelSecret("m");
      assert.deepEqual(got?.secret, secret);
      assert.equal(await store.modelSecret("nope"), undefined);
      // A share: 33 bytes with its index.
      const share = { ...model("shared", new Uint8Array(randomBytes(33))), threshold: 2, shareIndex: 3 };
      assert.equal(await store.addModel(share), "created");
      assert.equal((await store.modelSecret("shared"))?.model.shareIndex, 3);
      const events = await store.listAudit(0, 100);
      assert.deepEqual(
        events.map((e) => [e.type, e.model]),
        [
          ["model-added", "m"],
          ["model-added", "shared"],
        ],
      );
      assert.equal(events[0]!.peer, "127.0.0.1");
      await store.close();
    });

    test("deployments: need their model, conflict on other contents, revoke once", async () => {
      const { store } = await engine.open();
      await store.addModel(model("m"));
      const policies = [{ version: 1, a: [1, 2] }];
      await assert.rejects(store.addDeployment({ id: "d", modelId: "absent", policies }), code("not-found"));
      assert.equal(await store.addDeployment({ id: "d", modelId: "m", policies }), "created");
      assert.equal(
        await store.addDeployment({ id: "d", modelId: "m", policies: [{ version: 1, a: [1, 2] }] }),
        "exists",
      );
      await assert.rejects(store.addDeployment({ id: "d", modelId: "m", policies: [{}] }), code("conflict"));
      const d = await store.getDeployment("d");
      assert.deepEqual(d?.policies, policies);
      assert.equal(d?.revoked, false);
      assert.equal(d?.revokedAt, null);
      assert.equal(await store.revokeDeployment("absent"), false);
      assert.equal(await store.revokeDeployment("d"), true);
      assert.equal(await store.revokeDeployment("d"), true);
      const revoked = await store.getDeployment("d");
      assert.equal(revoked?.revoked, true);
      assert.ok(revoked?.revokedAt);
      assert.deepEqual(
        (await store.listDeployments()).map((x) => [x.id, x.revoked]),
        [["d", true]],
      );
      const types = (await store.listAudit(0, 100)).map((e) => e.type);
      assert.deepEqual(types, ["model-added", "deployment-added", "revocation"]);
      await store.close();
    });

    test("a release is recorded once per challenge, with its audit event, and never for a revoked deployment", async () => {
      const { store } = await engine.open();
      await store.addModel(model("m"));
      await store.addDeployment({ id: "d", modelId: "m", policies: [{}] });
      const challenge = "11".repeat(16);
      await store.recordRelease(challenge, { type: "release", deployment: "d", model: "m", peer: "::1" }, LEASE);
      await assert.rejects(
        store.recordRelease(challenge, { type: "release", deployment: "d", model: "m" }, LEASE),
        code("conflict"),
      );
      await store.revokeDeployment("d");
      await assert.rejects(
        store.recordRelease("22".repeat(16), { type: "release", deployment: "d", model: "m" }, LEASE),
        code("revoked"),
      );
      const releases = (await store.listAudit(0, 100)).filter((e) => e.type === "release");
      assert.equal(releases.length, 1, "a refused release leaves no release event");
      await store.close();
    });

    test("consumers: need their deployment, one id each, revoked once; found by key digest; never listed with it", async () => {
      const { store } = await engine.open();
      await store.addModel(model("m"));
      await store.addDeployment({ id: "d", modelId: "m", policies: [{}] });
      const digest = "ee".repeat(32);
      await assert.rejects(store.addConsumer("absent", "c", digest), code("not-found"));
      await store.addConsumer("d", "alice", digest, "127.0.0.1");
      await assert.rejects(store.addConsumer("d", "alice", "ff".repeat(32)), code("conflict"));
      await assert.rejects(store.addConsumer("d", "bob", digest), code("storage"), "one key, one consumer");
      await store.addConsumer("d", "bob", "ff".repeat(32));
      assert.deepEqual((await store.consumerByKey(digest))?.id, "alice");
      assert.equal(await store.consumerByKey("00".repeat(32)), undefined);
      assert.equal(await store.revokeConsumer("d", "nobody"), false);
      assert.equal(await store.revokeConsumer("d", "alice"), true);
      assert.equal(await store.revokeConsumer("d", "alice"), true);
      const listed = await store.listConsumers("d");
      assert.deepEqual(
        listed.map((c) => [c.id, c.revokedAt !== null]),
        [
          ["alice", true],
          ["bob", false],
        ],
      );
      assert.ok(!JSON.stringify(listed).includes(digest));
      const events = (await store.listAudit(0, 100)).filter((e) => e.type.startsWith("consumer-"));
      assert.deepEqual(
        events.map((e) => [e.type, e.consumer]),
        [
          ["consumer-added", "alice"],
          ["consumer-added", "bob"],
          ["consumer-revoked", "alice"],
        ],
      );
      await store.close();
    });

    test("the audit trail is append-only, enforced by the database", async () => {
      const { store, raw } = await engine.open();
      await store.appendAudit({ type: "refusal", deployment: "d", claim: "launch.codeBundle", reason: "x" });
      await assert.rejects(raw("UPDATE audit SET claim = 'forged'"), /append-only/);
      await assert.rejects(raw("DELETE FROM audit"), /append-only/);
      if (engine.name === "postgres") await assert.rejects(raw("TRUNCATE audit"), /append-only/);
      const events = await store.listAudit(0, 10);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.claim, "launch.codeBundle");
      await store.close();
    });

    test("audit pages: after and limit, seq strictly increasing", async () => {
      const { store } = await engine.open();
      for (let i = 0; i < 5; i++) await store.appendAudit({ type: "refusal", deployment: `d${i}`, reason: "r" });
      const all = await store.listAudit(0, 100);
      assert.equal(all.length, 5);
      for (let i = 1; i < all.length; i++) assert.ok(all[i]!.seq > all[i - 1]!.seq);
      const page = await store.listAudit(all[1]!.seq, 2);
      assert.deepEqual(
        page.map((e) => e.deployment),
        ["d2", "d3"],
      );
      assert.equal(all[0]!.claim, undefined, "absent columns are left out");
      await store.close();
    });
  });
}

test("the SQLite data directory is 0700 and the database file 0600, whatever the umask", async () => {
  const { mkdtemp, rm, stat } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { openSqliteStore, SQLITE_FILE } = await import("../src/custodian/index.js");
  const dir = await mkdtemp(join(tmpdir(), "veritee-custodian-mode-"));
  const before = process.umask(0);
  try {
    const store = openSqliteStore(join(dir, "data"));
    await store.close();
  } finally {
    process.umask(before);
  }
  assert.equal((await stat(join(dir, "data"))).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, "data", SQLITE_FILE))).mode & 0o777, 0o600);
  await rm(dir, { recursive: true, force: true });
});
