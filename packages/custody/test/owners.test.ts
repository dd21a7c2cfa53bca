/**
 * Multi-party control on every engine, through the custodian's HTTP API: a
 * 2-of-3 model's quota, revocation lifting and policy changes need two
 * owners' approvals of exactly that action; one owner revokes alone, without
 * the admin token. Forged, replayed, expired, mismatched, foreign and
 * duplicated approvals are refused, each naming the claim; a model with one
 * owner keeps the admin token as its credential.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { policyFromReferenceValues } from "@veritee/policy";
import fc from "fast-check";
import { AdminClient } from "../src/admin-client.js";
import { startCustodianService } from "../src/custodian/index.js";
import { CustodyError } from "../src/errors.js";
import { ownerPublicKey, signApproval } from "../src/owner-key.js";
import { approvalFromText, approvalToText, decodeApproval, policiesDigest } from "../src/protocol/index.js";
import { ENGINES } from "./support/engines.js";

const TOKEN = "t".repeat(32);
/** A real development server's reference values, as a policy (packages/policy/test/fixtures). */
const FIXTURE = JSON.parse(readFileSync("packages/policy/test/fixtures/dev-attestation.json", "utf8")) as {
  referenceValues: Parameters<typeof policyFromReferenceValues>[0];
  ekRootsPem: string[];
};
const POLICY = JSON.parse(
  JSON.stringify(policyFromReferenceValues({ ...FIXTURE.referenceValues, ekRootsPem: FIXTURE.ekRootsPem })),
);

const refused = (claim: string) => (error: unknown) => {
  assert.ok(error instanceof CustodyError, String(error));
  assert.equal(error.claim, claim, error.message);
  return true;
};

const ownerKey = () => generateKeyPairSync("ed25519").privateKey;

for (const engine of ENGINES) {
  describe(`multi-party control (${engine.name})`, { skip: engine.skip }, () => {
    async function setup() {
      const { store } = await engine.open();
      const service = await startCustodianService({ store, adminToken: TOKEN });
      const admin = new AdminClient(service.url, TOKEN);
      await admin.addModel({
        id: "shared",
        plaintextSha256: "ab".repeat(32),
        secret: new Uint8Array(randomBytes(33)),
        threshold: 2,
        shareIndex: 1,
      });
      await admin.addModel({
        id: "solo",
        plaintextSha256: "cd".repeat(32),
        secret: new Uint8Array(randomBytes(32)),
        threshold: 1,
      });
      await admin.addDeployment("d", "shared", [POLICY]);
      await admin.addDeployment("s", "solo", [POLICY]);
      await admin.addConsumer("d", "c");
      await admin.addConsumer("s", "c");
      const keys = { a: ownerKey(), b: ownerKey(), c: ownerKey() };
      return { service, admin, keys, store };
    }

    test("a 2-of-3 model's quota needs two owners' approvals of exactly that supply", async () => {
      const { service, admin, keys } = await setup();
      try {
        const amount = { inferences: 50 };
        const approve = (owner: "a" | "b" | "c", params: object = { consumer: "c", ...amount }) =>
          signApproval(keys[owner], owner, "supply", "d", params);
        // No owners registered yet: refused, though the admin token is right.
        await assert.rejects(admin.supply("d", "c", amount), refused("approval.owners"));
        await admin.setOwners(
          "shared",
          (["a", "b", "c"] as const).map((id) => ({ id, publicKey: ownerPublicKey(keys[id]) })),
        );
        await assert.rejects(
          admin.setOwners("shared", [{ id: "mallory", publicKey: ownerPublicKey(ownerKey()) }]),
          (e: unknown) => e instanceof CustodyError && e.code === "conflict",
          "owners are set once",
        );
        await assert.rejects(admin.supply("d", "c", amount), refused("approval.threshold"));
        await assert.rejects(admin.supply("d", "c", amount, [approve("a")]), refused("approval.threshold"));
        // The same owner twice counts once.
        await assert.rejects(
          admin.supply("d", "c", amount, [approve("a"), approve("a")]),
          refused("approval.threshold"),
        );
        // Another amount, another consumer, another action.
        await assert.rejects(
          admin.supply("d", "c", amount, [approve("a"), approve("b", { consumer: "c", inferences: 500 })]),
          refused("approval.payload"),
        );
        await assert.rejects(
          admin.supply("d", "c", amount, [approve("a"), signApproval(keys.b, "b", "unrevoke", "d", {})]),
          refused("approval.payload"),
        );
        // Signed by someone else's key; by a key that is not an owner's; expired.
        await assert.rejects(
          admin.supply("d", "c", amount, [
            approve("a"),
            signApproval(keys.c, "b", "supply", "d", { consumer: "c", ...amount }),
          ]),
          refused("approval.signature"),
        );
        await assert.rejects(
          admin.supply("d", "c", amount, [
            approve("a"),
            signApproval(ownerKey(), "mallory", "supply", "d", { consumer: "c", ...amount }),
          ]),
          refused("approval.owner"),
        );
        const old = signApproval(
          keys.b,
          "b",
          "supply",
          "d",
          { consumer: "c", ...amount },
          { now: Date.now() - 3_600_000 },
        );
        await assert.rejects(admin.supply("d", "c", amount, [approve("a"), old]), refused("approval.expired"));
        // A tampered approval (the amount raised after signing).
        const good = approve("b");
        const raised = { ...good, payload: { ...good.payload, params: { consumer: "c", inferences: 5000 } } };
        await assert.rejects(
          admin.supply("d", "c", { inferences: 5000 }, [approve("a", { consumer: "c", inferences: 5000 }), raised]),
          refused("approval.signature"),
        );
        // Two owners: supplied; the same approvals again: replayed.
        const pair = [approve("a"), approve("c")];
        const text = pair.map(approvalToText);
        const record = await admin.supply("d", "c", amount, text.map(approvalFromText));
        assert.equal(record.inferencesSupplied, 50);
        await assert.rejects(admin.supply("d", "c", amount, pair), refused("approval.replayed"));
        const audit = await admin.audit();
        assert.ok(audit.some((e) => e.type === "supply" && /approved by a, c/.test(e.reason ?? "")));
        assert.ok(audit.some((e) => e.type === "owners-set"));
        // A model with one owner: the admin token alone.
        assert.equal((await admin.supply("s", "c", { tokens: 10 })).tokensSupplied, 10);
      } finally {
        await service.close();
      }
    });

    test("one owner revokes alone, without the admin token; lifting it and changing the policy take two", async () => {
      const { service, admin, keys } = await setup();
      try {
        await admin.setOwners(
          "shared",
          (["a", "b", "c"] as const).map((id) => ({ id, publicKey: ownerPublicKey(keys[id]) })),
        );
        const anonymous = new AdminClient(service.url, "");
        await assert.rejects(
          anonymous.revoke("d"),
          (e: unknown) => e instanceof CustodyError && e.code === "unauthorized",
        );
        await assert.rejects(
          anonymous.ownerRevoke(signApproval(ownerKey(), "a", "revoke", "d", {})),
          refused("approval.signature"),
        );
        const revoke = signApproval(keys.b, "b", "revoke", "d", {});
        await anonymous.ownerRevoke(revoke);
        const deployments = (await admin.listDeployments()) as { id: string; revoked: boolean }[];
        assert.equal(deployments.find((d) => d.id === "d")!.revoked, true);
        await assert.rejects(anonymous.ownerRevoke(revoke), refused("approval.replayed"));

        await assert.rejects(admin.unrevoke("d"), refused("approval.threshold"));
        await assert.rejects(
          admin.unrevoke("d", [signApproval(keys.a, "a", "unrevoke", "d", {})]),
          refused("approval.threshold"),
        );
        await admin.unrevoke("d", [
          signApproval(keys.a, "a", "unrevoke", "d", {}),
          signApproval(keys.c, "c", "unrevoke", "d", {}),
        ]);
        const after = (await admin.listDeployments()) as { id: string; revoked: boolean }[];
        assert.equal(after.find((d) => d.id === "d")!.revoked, false);

        const policies = [POLICY, POLICY];
        const digest = policiesDigest(policies);
        const approvePolicy = (owner: "a" | "b" | "c", sha = digest) =>
          signApproval(keys[owner], owner, "policy", "d", { policiesSha256: sha });
        await assert.rejects(admin.changePolicies("d", policies, [approvePolicy("a")]), refused("approval.threshold"));
        await assert.rejects(
          admin.changePolicies("d", policies, [approvePolicy("a"), approvePolicy("b", policiesDigest([POLICY]))]),
          refused("approval.payload"),
        );
        await admin.changePolicies("d", policies, [approvePolicy("a"), approvePolicy("b")]);
        const types = (await admin.audit()).map((e) => e.type);
        assert.ok(
          types.includes("revocation") && types.includes("revocation-lifted") && types.includes("policy-changed"),
        );
        // The solo model: the admin token lifts and changes alone.
        await admin.revoke("s");
        await admin.unrevoke("s");
        await admin.changePolicies("s", [POLICY]);
      } finally {
        await service.close();
      }
    });
  });
}

test("approvals decode strictly: every valid one round-trips through its text form; changed ones are refused", () => {
  const key = ownerKey();
  const id = fc.stringMatching(/^[A-Za-z0-9._-]{1,16}$/);
  const params = fc.oneof(
    fc.record({ consumer: id, inferences: fc.integer({ min: 1 }) }),
    fc.record({ consumer: id, tokens: fc.integer({ min: 1 }), inferences: fc.integer({ min: 1 }) }),
  );
  fc.assert(
    fc.property(id, id, params, fc.integer({ min: 1, max: 7 * 24 * 3600 }), (owner, deployment, p, valid) => {
      const approval = signApproval(key, owner, "supply", deployment, JSON.parse(JSON.stringify(p)), {
        validSeconds: valid,
      });
      const back = approvalFromText(approvalToText(approval));
      assert.deepEqual(JSON.parse(JSON.stringify(back.payload)), JSON.parse(JSON.stringify(approval.payload)));
      assert.deepEqual(Buffer.from(back.signature), Buffer.from(approval.signature));
      const json = { owner, payload: approval.payload, signature: Buffer.from(approval.signature).toString("base64") };
      for (const bad of [
        { ...json, extra: 1 },
        { ...json, payload: { ...json.payload, action: "delete" } },
        { ...json, payload: { ...json.payload, params: { consumer: "c" } } },
        { ...json, payload: { ...json.payload, nonce: "00" } },
        { ...json, payload: { ...json.payload, notAfter: "tomorrow" } },
        { ...json, payload: { ...json.payload, params: { ...json.payload.params, extra: 1 } } },
      ]) {
        assert.throws(() => decodeApproval(bad));
      }
    }),
    { numRuns: 50 },
  );
  assert.throws(() => approvalFromText("vta_"));
  assert.throws(() => approvalFromText("not-an-approval"));
});
