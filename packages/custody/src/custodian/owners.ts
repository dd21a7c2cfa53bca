/**
 * Multi-party control of a k-of-n model's governance (docs/CUSTODY.md
 * "Multi-party control"). The model's owners' Ed25519 keys are registered
 * once, by the custodian's admin, when the model is set up; from then on,
 * for a model of threshold k ≥ 2:
 *
 * - supplying quota, lifting a revocation and changing a deployment's
 *   policies need approvals from k distinct registered owners, each of
 *   exactly that action and its parameters, unexpired and never used
 *   before — the admin token alone no longer suffices;
 * - any single owner can revoke, with its own approval and no admin token
 *   (`POST /v1/owner/revoke`).
 *
 * A model with one owner (threshold 1) keeps the admin token as its only
 * credential. Every check runs in the transaction that performs the action,
 * and marks the approvals used there.
 */
import { createHash, createPublicKey, verify } from "node:crypto";
import { base64Decode, base64Encode, canonicalJson } from "@veritee/core";
import { CustodyError } from "../errors.js";
import {
  type Approval,
  type ApprovalAction,
  type ApprovalParams,
  approvalSigningBytes,
  type OwnerKey,
  policiesDigest,
} from "../protocol/approval.js";
import type { CustodianStore, LedgerTx } from "./store.js";
import { policiesText } from "./store.js";

function refusedApproval(message: string, claim: string): CustodyError {
  return new CustodyError("refused", message, { claim });
}

/**
 * Check that `approvals` hold `need` distinct registered owners of `modelId`
 * approving exactly `expected`, and mark them used.
 *
 * @throws CustodyError `refused` with claim `approval.owners` (none
 *   registered), `approval.owner` (not an owner), `approval.signature`,
 *   `approval.payload` (another action, deployment or parameters),
 *   `approval.expired`, `approval.replayed`, `approval.threshold` (fewer
 *   than `need` distinct owners).
 */
export async function checkApprovals(
  tx: LedgerTx,
  modelId: string,
  expected: { readonly action: ApprovalAction; readonly deployment: string; readonly params: ApprovalParams },
  approvals: readonly Approval[],
  need: number,
  now: number,
): Promise<string[]> {
  const owners = await tx.all("SELECT id, public_key FROM owners WHERE model_id = ?", [modelId]);
  if (owners.length === 0) {
    throw refusedApproval(
      `model ${modelId} has ${need > 1 ? `a threshold of ${need}` : "owners"} but no owners' keys registered: register them first (veritee custodian owner set)`,
      "approval.owners",
    );
  }
  const keys = new Map(owners.map((o) => [o.id as string, o.public_key as string]));
  const approvedBy = new Set<string>();
  const wanted = canonicalJson(expected.params);
  for (const a of approvals) {
    const key = keys.get(a.owner);
    if (!key) throw refusedApproval(`${a.owner} is not an owner of model ${modelId}`, "approval.owner");
    const publicKey = createPublicKey({
      key: Buffer.from(base64Decode(key, "owner key", 64)),
      format: "der",
      type: "spki",
    });
    const bytes = approvalSigningBytes(a.payload);
    if (!verify(null, bytes, publicKey, a.signature)) {
      throw refusedApproval(`the approval of ${a.owner} is not signed by its key`, "approval.signature");
    }
    const p = a.payload;
    if (p.action !== expected.action || p.deployment !== expected.deployment || canonicalJson(p.params) !== wanted) {
      throw refusedApproval(`the approval of ${a.owner} is for another action or other parameters`, "approval.payload");
    }
    if (Date.parse(p.notAfter) <= now)
      throw refusedApproval(`the approval of ${a.owner} has expired`, "approval.expired");
    const digest = createHash("sha256").update(bytes).digest("hex");
    if (await tx.get("SELECT 1 FROM approvals_used WHERE digest = ?", [digest])) {
      throw refusedApproval(`the approval of ${a.owner} was used already`, "approval.replayed");
    }
    await tx.run("INSERT INTO approvals_used (digest, at) VALUES (?, ?)", [digest, new Date(now).toISOString()]);
    approvedBy.add(a.owner);
  }
  if (approvedBy.size < need) {
    throw refusedApproval(
      `${approvedBy.size} of the ${need} owners' approvals needed for ${expected.action} on ${expected.deployment}`,
      "approval.threshold",
    );
  }
  return [...approvedBy].sort();
}

/**
 * The approvals a deployment's action needs: none for a model with one owner
 * (the admin token is its credential), k of k-of-n owners otherwise.
 *
 * @returns who approved (empty for one owner).
 * @throws CustodyError `refused` as {@link checkApprovals}.
 */
export function approvalsFor(
  tx: LedgerTx,
  d: { readonly modelId: string; readonly threshold: number },
  expected: { readonly action: ApprovalAction; readonly deployment: string; readonly params: ApprovalParams },
  approvals: readonly Approval[],
  now: number,
): Promise<string[]> {
  return d.threshold >= 2 ? checkApprovals(tx, d.modelId, expected, approvals, d.threshold, now) : Promise.resolve([]);
}

/** A deployment's model and its threshold. */
export async function deploymentModel(
  tx: LedgerTx,
  deployment: string,
): Promise<{ readonly modelId: string; readonly threshold: number; readonly revoked: boolean }> {
  const row = await tx.get(
    "SELECT d.model_id, d.revoked_at, m.threshold FROM deployments d JOIN models m ON m.id = d.model_id WHERE d.id = ?",
    [deployment],
  );
  if (!row) throw new CustodyError("not-found", `no deployment ${deployment}`);
  return { modelId: row.model_id as string, threshold: Number(row.threshold), revoked: row.revoked_at !== null };
}

/** The owners' side of governance. */
export class OwnerControl {
  readonly #store: CustodianStore;
  readonly #now: () => number;

  constructor(store: CustodianStore, options: { now?: () => number } = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Register a model's owners' keys, once.
   *
   * @throws CustodyError `not-found`, `conflict` (already set: owners change only with a new model registration).
   */
  async setOwners(modelId: string, owners: readonly OwnerKey[], peer?: string): Promise<void> {
    await this.#store.transaction("setting the owners", async (tx) => {
      if (!(await tx.get("SELECT 1 FROM models WHERE id = ?", [modelId]))) {
        throw new CustodyError("not-found", `no model ${modelId}`);
      }
      if (await tx.get("SELECT 1 FROM owners WHERE model_id = ?", [modelId])) {
        throw new CustodyError("conflict", `the owners of model ${modelId} are set; they change only with a new model`);
      }
      const at = new Date(this.#now()).toISOString();
      for (const o of owners) {
        await tx.run("INSERT INTO owners (model_id, id, public_key, created_at) VALUES (?, ?, ?, ?)", [
          modelId,
          o.id,
          base64Encode(o.publicKey),
          at,
        ]);
      }
      await tx.audit({
        type: "owners-set",
        model: modelId,
        reason: owners.map((o) => o.id).join(", "),
        ...(peer ? { peer } : {}),
      });
    });
  }

  /**
   * Lift a deployment's revocation: k owners' approvals for a k-of-n model.
   *
   * @throws CustodyError `not-found`, `refused` (approvals, see {@link checkApprovals}).
   */
  async unrevoke(deployment: string, approvals: readonly Approval[], peer?: string): Promise<void> {
    await this.#store.transaction("lifting a revocation", async (tx) => {
      await tx.lockDeployment(deployment);
      const d = await deploymentModel(tx, deployment);
      const by = await approvalsFor(tx, d, { action: "unrevoke", deployment, params: {} }, approvals, this.#now());
      if (!d.revoked) return;
      await tx.run("UPDATE deployments SET revoked_at = NULL WHERE id = ?", [deployment]);
      await tx.audit({
        type: "revocation-lifted",
        deployment,
        model: d.modelId,
        ...(by.length ? { reason: `approved by ${by.join(", ")}` } : {}),
        ...(peer ? { peer } : {}),
      });
    });
  }

  /**
   * Replace a deployment's policies (validated by the caller): k owners' approvals of their digest for a k-of-n model.
   *
   * @throws CustodyError `not-found`, `refused`.
   */
  async changePolicies(
    deployment: string,
    policies: readonly unknown[],
    approvals: readonly Approval[],
    peer?: string,
  ): Promise<void> {
    await this.#store.transaction("changing a policy", async (tx) => {
      await tx.lockDeployment(deployment);
      const d = await deploymentModel(tx, deployment);
      const params = { policiesSha256: policiesDigest(policies) };
      const by = await approvalsFor(tx, d, { action: "policy", deployment, params }, approvals, this.#now());
      await tx.run("UPDATE deployments SET policies = ? WHERE id = ?", [policiesText(policies), deployment]);
      await tx.audit({
        type: "policy-changed",
        deployment,
        model: d.modelId,
        reason: `${policies.length} ${policies.length === 1 ? "policy" : "policies"}${by.length ? `, approved by ${by.join(", ")}` : ""}`,
        ...(peer ? { peer } : {}),
      });
    });
  }

  /**
   * Revoke on one owner's approval, no admin token: any single owner can always stop a deployment.
   *
   * @throws CustodyError `not-found`, `refused`.
   */
  async ownerRevoke(approval: Approval, peer?: string): Promise<void> {
    const deployment = approval.payload.deployment;
    await this.#store.transaction("revoking for an owner", async (tx) => {
      await tx.lockDeployment(deployment);
      const d = await deploymentModel(tx, deployment);
      const [owner] = await checkApprovals(
        tx,
        d.modelId,
        { action: "revoke", deployment, params: {} },
        [approval],
        1,
        this.#now(),
      );
      if (d.revoked) return;
      await tx.run("UPDATE deployments SET revoked_at = ? WHERE id = ?", [
        new Date(this.#now()).toISOString(),
        deployment,
      ]);
      await tx.audit({
        type: "revocation",
        deployment,
        model: d.modelId,
        reason: `by owner ${owner}`,
        ...(peer ? { peer } : {}),
      });
    });
  }
}
