/**
 * The governance ledger (docs/CUSTODY.md "Governance"): quotas, usage,
 * leases and their blocks, throttles — one algorithm over either engine's
 * {@link LedgerTx}, so SQLite and PostgreSQL keep the same books.
 *
 * Exactness across replicas comes from blocks, not from a round trip per
 * request: a renewal grants a lease a block of each consumer's quota out of
 * what is neither used nor held by another live lease, in one transaction
 * (SERIALIZABLE on PostgreSQL, so two custodian processes on one database
 * cannot grant the same unit twice). A server serves only from its block;
 * what it did not use goes back when its lease ends (a final renewal) or
 * expires ({@link EXPIRY_GRACE_MS} after its expiry, which covers the
 * difference between the two machines' clock rates).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { base64Decode, base64Encode } from "@veritee/core";
import { CustodyError } from "../errors.js";
import type { Approval } from "../protocol/approval.js";
import {
  type BudgetWant,
  DEFAULT_LEASE_MS,
  type LeaseConsumer,
  type LeasePayload,
  type LeaseStatus,
  leaseSigningBytes,
  type RenewalPayload,
  renewalSigningBytes,
  type Signed,
  type Throttle,
  type UsageRecord,
} from "../protocol/lease.js";
import { approvalsFor, deploymentModel } from "./owners.js";
import type { CustodianStore, LedgerRow, LedgerTx } from "./store.js";

/** How long after its expiry an unrenewed lease still holds its blocks. */
export const EXPIRY_GRACE_MS = 1_000;
/** The largest block one renewal grants (a server cannot hoard a quota in one lease). */
export const MAX_BLOCK = Object.freeze({ inferences: 10_000, tokens: 10_000_000 });

const n = (value: unknown): number => Number(value);
const nullable = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

function refusedRenewal(message: string, claim: string, code: "refused" | "replayed" = "refused"): CustodyError {
  return new CustodyError(code, message, { claim });
}

/** The usage record of a consumer row. */
function usageRecord(row: LedgerRow): UsageRecord {
  const requests = n(row.requests);
  const tokens = n(row.prompt_tokens) + n(row.completion_tokens);
  const inferencesSupplied = nullable(row.inferences_supplied);
  const tokensSupplied = nullable(row.tokens_supplied);
  return {
    deployment: row.deployment_id as string,
    consumer: row.id as string,
    revoked: row.revoked_at !== null,
    requests,
    promptTokens: n(row.prompt_tokens),
    completionTokens: n(row.completion_tokens),
    inferencesSupplied,
    tokensSupplied,
    inferencesRemaining: inferencesSupplied === null ? null : inferencesSupplied - requests,
    tokensRemaining: tokensSupplied === null ? null : tokensSupplied - tokens,
  };
}

/** The ledger over a store. */
export class Ledger {
  readonly #store: CustodianStore;
  readonly #now: () => number;
  #leaseKey: Promise<{ readonly privateKey: KeyObject; readonly spki: Uint8Array }> | undefined;

  constructor(store: CustodianStore, options: { now?: () => number } = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The custodian's Ed25519 lease key, made once and kept in the database, so
   * that every custodian process on one PostgreSQL database signs with the
   * same key (the first to insert it wins; the others read it).
   */
  leaseKey(): Promise<{ readonly privateKey: KeyObject; readonly spki: Uint8Array }> {
    this.#leaseKey ??= this.#store
      .transaction("reading the lease key", async (tx) => {
        let row = await tx.get("SELECT private_pkcs8 FROM custodian_keys WHERE name = 'lease'");
        if (!row) {
          const { privateKey } = generateKeyPairSync("ed25519");
          const pkcs8 = base64Encode(new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" })));
          await tx.run(
            "INSERT INTO custodian_keys (name, private_pkcs8, created_at) VALUES ('lease', ?, ?) ON CONFLICT DO NOTHING",
            [pkcs8, new Date().toISOString()],
          );
          row = await tx.get("SELECT private_pkcs8 FROM custodian_keys WHERE name = 'lease'");
        }
        const privateKey = createPrivateKey({
          key: Buffer.from(base64Decode(row!.private_pkcs8, "lease key", 256)),
          format: "der",
          type: "pkcs8",
        });
        const spki = new Uint8Array(createPublicKey(privateKey).export({ format: "der", type: "spki" }));
        return { privateKey, spki };
      })
      .catch((error: unknown) => {
        this.#leaseKey = undefined;
        throw error;
      });
    return this.#leaseKey;
  }

  /** A deployment's lease length in ms. */
  async leaseMs(deployment: string): Promise<number> {
    return this.#store.transaction("reading a lease length", async (tx) => {
      const row = await tx.get("SELECT lease_ms FROM deployments WHERE id = ?", [deployment]);
      return nullable(row?.lease_ms) ?? DEFAULT_LEASE_MS;
    });
  }

  /**
   * Add to a consumer's quota (BlindAI DRM's `supply_inferences`), audited.
   * A dimension without a quota gets one of `amount`.
   *
   * @throws CustodyError `not-found` for an unknown consumer.
   */
  async supply(
    deployment: string,
    consumer: string,
    amount: { readonly inferences?: number; readonly tokens?: number; readonly approvals?: readonly Approval[] },
    peer?: string,
  ): Promise<UsageRecord> {
    return this.#store.transaction("supplying quota", async (tx) => {
      await tx.lockDeployment(deployment);
      const d = await deploymentModel(tx, deployment);
      const row = await tx.get("SELECT * FROM consumers WHERE deployment_id = ? AND id = ?", [deployment, consumer]);
      if (!row) throw new CustodyError("not-found", `no consumer ${consumer} of ${deployment}`);
      // A k-of-n model: k owners approve exactly this supply (owners.ts).
      const params = {
        consumer,
        ...(amount.inferences !== undefined ? { inferences: amount.inferences } : {}),
        ...(amount.tokens !== undefined ? { tokens: amount.tokens } : {}),
      };
      const approvedBy = await approvalsFor(
        tx,
        d,
        { action: "supply", deployment, params },
        amount.approvals ?? [],
        this.#now(),
      );
      if (amount.inferences !== undefined) {
        await tx.run(
          "UPDATE consumers SET inferences_supplied = COALESCE(inferences_supplied, 0) + ? WHERE deployment_id = ? AND id = ?",
          [amount.inferences, deployment, consumer],
        );
      }
      if (amount.tokens !== undefined) {
        await tx.run(
          "UPDATE consumers SET tokens_supplied = COALESCE(tokens_supplied, 0) + ? WHERE deployment_id = ? AND id = ?",
          [amount.tokens, deployment, consumer],
        );
      }
      const parts = [
        amount.inferences !== undefined ? `${amount.inferences} inferences` : "",
        amount.tokens !== undefined ? `${amount.tokens} tokens` : "",
      ].filter(Boolean);
      if (approvedBy.length) parts.push(`approved by ${approvedBy.join(", ")}`);
      await tx.audit({ type: "supply", deployment, consumer, reason: parts.join(", "), ...(peer ? { peer } : {}) });
      return usageRecord(
        (await tx.get("SELECT * FROM consumers WHERE deployment_id = ? AND id = ?", [deployment, consumer]))!,
      );
    });
  }

  /** Quotas and use, by deployment and consumer. */
  async usage(filter: { readonly deployment?: string; readonly consumer?: string } = {}): Promise<UsageRecord[]> {
    return this.#store.transaction("reading usage", async (tx) => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.deployment !== undefined) {
        where.push("deployment_id = ?");
        params.push(filter.deployment);
      }
      if (filter.consumer !== undefined) {
        where.push("id = ?");
        params.push(filter.consumer);
      }
      const rows = await tx.all(
        `SELECT * FROM consumers${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY deployment_id, id`,
        params,
      );
      return rows.map(usageRecord);
    });
  }

  /**
   * Set a deployment's throttle (the slow-down switch) and/or lease length,
   * audited; servers apply it at their next renewal. A null clears a cap.
   *
   * @throws CustodyError `not-found`.
   */
  async setThrottle(
    deployment: string,
    change: {
      readonly tokensPerSecond?: number | null;
      readonly requestsPerMinute?: number | null;
      readonly leaseMs?: number;
    },
    peer?: string,
  ): Promise<Throttle & { readonly leaseMs: number }> {
    return this.#store.transaction("setting a throttle", async (tx) => {
      await tx.lockDeployment(deployment);
      const row = await tx.get("SELECT model_id FROM deployments WHERE id = ?", [deployment]);
      if (!row) throw new CustodyError("not-found", `no deployment ${deployment}`);
      const parts: string[] = [];
      if (change.tokensPerSecond !== undefined) {
        await tx.run("UPDATE deployments SET tokens_per_second = ? WHERE id = ?", [change.tokensPerSecond, deployment]);
        parts.push(`tokens per second ${change.tokensPerSecond ?? "none"}`);
      }
      if (change.requestsPerMinute !== undefined) {
        await tx.run("UPDATE deployments SET requests_per_minute = ? WHERE id = ?", [
          change.requestsPerMinute,
          deployment,
        ]);
        parts.push(`requests per minute ${change.requestsPerMinute ?? "none"}`);
      }
      if (change.leaseMs !== undefined) {
        await tx.run("UPDATE deployments SET lease_ms = ? WHERE id = ?", [change.leaseMs, deployment]);
        parts.push(`lease ${change.leaseMs} ms`);
      }
      await tx.audit({
        type: "throttle",
        deployment,
        model: row.model_id as string,
        reason: parts.join(", "),
        ...(peer ? { peer } : {}),
      });
      const d = (await tx.get("SELECT * FROM deployments WHERE id = ?", [deployment]))!;
      return {
        tokensPerSecond: nullable(d.tokens_per_second),
        requestsPerMinute: nullable(d.requests_per_minute),
        leaseMs: nullable(d.lease_ms) ?? DEFAULT_LEASE_MS,
      };
    });
  }

  /**
   * A renewal (`POST /v1/lease`): check its signature against the TLS key
   * the release recorded and its `seq` against the last one, record its
   * usage, grant blocks, and sign the lease — all in one transaction.
   *
   * @throws CustodyError `not-found` (no lease for that release), `refused`
   *   (a bad signature: claim `lease.signature`; another deployment:
   *   `lease.deployment`; a consumer of another deployment:
   *   `lease.usage.consumer`; totals that went backwards: `lease.usage`),
   *   `replayed` (a `seq` not above the last: claim `lease.seq`).
   */
  async renew(renewal: Signed<RenewalPayload>): Promise<Signed<LeasePayload>> {
    const key = await this.#leaseKey;
    const { privateKey } = key ?? (await this.leaseKey());
    const p = renewal.payload;
    const payload = await this.#store.transaction("renewing a lease", async (tx) => {
      const owner = await tx.get("SELECT deployment_id FROM leases WHERE release_id = ?", [p.release]);
      if (!owner) throw new CustodyError("not-found", "no lease for this release: attest again");
      // The deployment's renewals take turns from here; everything below is read after the lock.
      await tx.lockDeployment(owner.deployment_id as string);
      const lease = (await tx.get("SELECT * FROM leases WHERE release_id = ?", [p.release]))!;
      if (lease.deployment_id !== p.deployment) {
        throw refusedRenewal("the renewal names another deployment than its release's", "lease.deployment");
      }
      let signed = false;
      try {
        const spki = createPublicKey({
          key: Buffer.from(base64Decode(lease.tls_spki, "tls_spki", 1024)),
          format: "der",
          type: "spki",
        });
        signed = verify("sha256", renewalSigningBytes(p), { key: spki, dsaEncoding: "der" }, renewal.signature);
      } catch {
        signed = false;
      }
      if (!signed) {
        throw refusedRenewal("the renewal is not signed by the attested key set of its release", "lease.signature");
      }
      if (p.seq <= n(lease.seq)) {
        throw refusedRenewal(
          `renewal ${p.seq} is not after renewal ${n(lease.seq)}: replayed or reordered`,
          "lease.seq",
          "replayed",
        );
      }
      const now = this.#now();
      const deployment = (await tx.get("SELECT * FROM deployments WHERE id = ?", [p.deployment]))!;
      // Copies: step 1 adds the reported usage to them, step 3 reads it.
      const consumers = (
        await tx.all("SELECT * FROM consumers WHERE deployment_id = ? ORDER BY id", [p.deployment])
      ).map((row) => ({ ...row }) as Record<string, unknown>);
      const byId = new Map(consumers.map((c) => [c.id as string, c]));
      const blocks = new Map(
        (await tx.all("SELECT * FROM lease_blocks WHERE release_id = ?", [p.release])).map((b) => [
          b.consumer_id as string,
          b,
        ]),
      );
      // 1. Usage: running totals; only the difference from what is on record is added.
      for (const u of p.usage) {
        const c = byId.get(u.consumer);
        if (!c) throw refusedRenewal("the renewal reports a consumer of another deployment", "lease.usage.consumer");
        const b = blocks.get(u.consumer);
        const before = { r: n(b?.requests ?? 0), p: n(b?.prompt_tokens ?? 0), c: n(b?.completion_tokens ?? 0) };
        if (u.requests < before.r || u.promptTokens < before.p || u.completionTokens < before.c) {
          throw refusedRenewal("the renewal's usage totals are below those on record", "lease.usage");
        }
        const delta = { r: u.requests - before.r, p: u.promptTokens - before.p, c: u.completionTokens - before.c };
        if (delta.r === 0 && delta.p === 0 && delta.c === 0) continue;
        if (b) {
          await tx.run(
            "UPDATE lease_blocks SET requests = ?, prompt_tokens = ?, completion_tokens = ? WHERE release_id = ? AND consumer_id = ?",
            [u.requests, u.promptTokens, u.completionTokens, p.release, u.consumer],
          );
        } else {
          await tx.run(
            "INSERT INTO lease_blocks (release_id, consumer_id, requests, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?)",
            [p.release, u.consumer, u.requests, u.promptTokens, u.completionTokens],
          );
        }
        blocks.set(u.consumer, {
          ...(b ?? { granted_inferences: 0, granted_tokens: 0 }),
          requests: u.requests,
          prompt_tokens: u.promptTokens,
          completion_tokens: u.completionTokens,
        });
        await tx.run(
          "UPDATE consumers SET requests = requests + ?, prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ? WHERE deployment_id = ? AND id = ?",
          [delta.r, delta.p, delta.c, p.deployment, u.consumer],
        );
        c.requests = n(c.requests) + delta.r;
        c.prompt_tokens = n(c.prompt_tokens) + delta.p;
        c.completion_tokens = n(c.completion_tokens) + delta.c;
      }
      // 2. Whether the lease goes on.
      let status: LeaseStatus = "active";
      if (n(lease.ended) !== 0) status = "ended";
      else if (deployment.revoked_at !== null) status = "revoked";
      else if (now > n(lease.expires_at_ms)) status = "expired";
      else if (p.final) status = "ended";
      const durationMs = nullable(deployment.lease_ms) ?? DEFAULT_LEASE_MS;
      const lines: LeaseConsumer[] = [];
      if (status === "active") {
        // 3. Blocks: out of what no other live lease holds.
        const held = await this.#heldByOthers(tx, p.deployment, p.release, now);
        const wants = new Map<string, BudgetWant>(p.want.map((w) => [w.consumer, w]));
        for (const c of consumers) {
          if (c.revoked_at !== null) continue;
          const id = c.id as string;
          const b = blocks.get(id);
          // A consumer the server does not ask for gets no block there (it asks once it sees a request).
          const want = wants.get(id) ?? { consumer: id, inferences: 0, tokens: 0 };
          const usedHere = { r: n(b?.requests ?? 0), t: n(b?.prompt_tokens ?? 0) + n(b?.completion_tokens ?? 0) };
          const grant = (
            supplied: number | null,
            usedTotal: number,
            heldOthers: number,
            grantedHere: number,
            used: number,
            wanted: number,
            max: number,
          ) => {
            if (supplied === null) return { granted: grantedHere, left: null };
            const own = Math.max(0, grantedHere - used);
            // Neither used, nor held by another live lease, nor already this lease's own.
            const free = Math.max(0, supplied - usedTotal - heldOthers - own);
            // The block the server asked to hold, out of its own and what is free: an idle server asks for
            // what it has in flight only, and the rest goes back. The server capped itself at `wanted` before
            // sending, so a smaller block never takes back what it may already be spending.
            const block = Math.min(wanted, own + free, max);
            return { granted: used + block, left: block };
          };
          const h = held.get(id) ?? { inferences: 0, tokens: 0 };
          // A consumer never supplied a quota gets nothing (secure default); once one dimension has a quota,
          // the other is unlimited until it gets one too.
          const none = nullable(c.inferences_supplied) === null && nullable(c.tokens_supplied) === null;
          const inf = grant(
            none ? 0 : nullable(c.inferences_supplied),
            n(c.requests),
            h.inferences,
            n(b?.granted_inferences ?? 0),
            usedHere.r,
            want.inferences,
            MAX_BLOCK.inferences,
          );
          const tok = grant(
            nullable(c.tokens_supplied),
            n(c.prompt_tokens) + n(c.completion_tokens),
            h.tokens,
            n(b?.granted_tokens ?? 0),
            usedHere.t,
            want.tokens,
            MAX_BLOCK.tokens,
          );
          if (b) {
            await tx.run(
              "UPDATE lease_blocks SET granted_inferences = ?, granted_tokens = ? WHERE release_id = ? AND consumer_id = ?",
              [inf.granted, tok.granted, p.release, id],
            );
          } else {
            await tx.run(
              "INSERT INTO lease_blocks (release_id, consumer_id, granted_inferences, granted_tokens) VALUES (?, ?, ?, ?)",
              [p.release, id, inf.granted, tok.granted],
            );
          }
          const record = usageRecord(c);
          lines.push({
            id,
            keySha256: c.key_sha256 as string,
            inferences: inf.left,
            tokens: none ? 0 : tok.left,
            remainingInferences: none
              ? 0
              : record.inferencesRemaining === null
                ? null
                : Math.max(0, record.inferencesRemaining),
            remainingTokens: none ? 0 : record.tokensRemaining === null ? null : Math.max(0, record.tokensRemaining),
          });
        }
        await tx.run("UPDATE leases SET seq = ?, expires_at_ms = ? WHERE release_id = ?", [
          p.seq,
          now + durationMs,
          p.release,
        ]);
      } else {
        // An ended lease holds nothing: its blocks go back to the quotas at once.
        await tx.run("UPDATE leases SET seq = ?, ended = 1 WHERE release_id = ?", [p.seq, p.release]);
      }
      const result: LeasePayload = {
        deployment: p.deployment,
        release: p.release,
        seq: p.seq,
        status,
        durationMs,
        consumers: lines,
        throttle: {
          tokensPerSecond: nullable(deployment.tokens_per_second),
          requestsPerMinute: nullable(deployment.requests_per_minute),
        },
      };
      return result;
    });
    return { payload, signature: new Uint8Array(sign(null, leaseSigningBytes(payload), privateKey)) };
  }

  /** Per consumer, what the other live leases of a deployment hold (granted − used, never below 0). */
  async #heldByOthers(
    tx: LedgerTx,
    deployment: string,
    release: string,
    now: number,
  ): Promise<Map<string, { inferences: number; tokens: number }>> {
    const rows = await tx.all(
      `SELECT b.* FROM lease_blocks b JOIN leases l ON l.release_id = b.release_id
        WHERE l.deployment_id = ? AND l.release_id <> ? AND l.ended = 0 AND l.expires_at_ms > ?`,
      [deployment, release, now - EXPIRY_GRACE_MS],
    );
    const held = new Map<string, { inferences: number; tokens: number }>();
    for (const b of rows) {
      const id = b.consumer_id as string;
      const h = held.get(id) ?? { inferences: 0, tokens: 0 };
      h.inferences += Math.max(0, n(b.granted_inferences) - n(b.requests));
      h.tokens += Math.max(0, n(b.granted_tokens) - n(b.prompt_tokens) - n(b.completion_tokens));
      held.set(id, h);
    }
    return held;
  }
}
