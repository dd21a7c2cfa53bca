/**
 * The custodian's PostgreSQL engine (`pg`, README design notes), chosen when
 * `DATABASE_URL` is set: several custodian replicas can share one database.
 * Same schema (migrations.ts), same invariants as the SQLite engine: every
 * operation and its audit event commit in one transaction, and the audit
 * table refuses UPDATE, DELETE and TRUNCATE by trigger. Migrations run under
 * an advisory lock, so replicas starting together migrate once.
 */
import pg from "pg";
import { CustodyError } from "../errors.js";
import type { AuditEvent, ConsumerInfo, DeploymentInfo, ModelInfo } from "../protocol/index.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations.js";
import { auditEvent, type ConsumerRow, consumerInfo } from "./sqlite.js";
import {
  type AddOutcome,
  type CustodianStore,
  type LedgerTx,
  type NewAuditEvent,
  type NewDeployment,
  type NewLease,
  type NewModel,
  policiesText,
} from "./store.js";

/** An arbitrary constant naming the migration lock. */
const MIGRATION_LOCK = 0x7665726974;
const now = () => new Date().toISOString();

function storage(what: string, cause: unknown): CustodyError {
  return new CustodyError("storage", `the database failed: ${what}`, { cause });
}

interface Row {
  [column: string]: unknown;
}

function modelInfo(row: Row): ModelInfo {
  return {
    id: row.id as string,
    plaintextSha256: row.plaintext_sha256 as string,
    sealedSha256: (row.sealed_sha256 as string | null) ?? null,
    threshold: Number(row.threshold),
    shareIndex: row.share_index === null ? null : Number(row.share_index),
    createdAt: row.created_at as string,
  };
}

function deploymentInfo(row: Row): DeploymentInfo {
  return {
    id: row.id as string,
    modelId: row.model_id as string,
    policies: JSON.parse(row.policies as string) as unknown[],
    revoked: row.revoked_at !== null,
    createdAt: row.created_at as string,
    revokedAt: (row.revoked_at as string | null) ?? null,
  };
}

class PostgresStore implements CustodianStore {
  readonly engine = "postgres";
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /**
   * Run `fn` in a SERIALIZABLE transaction, retried when PostgreSQL aborts it
   * for a serialization failure or a deadlock (SQLSTATE 40001, 40P01): the
   * answer to concurrent writers under SERIALIZABLE, and what keeps counters
   * exact across custodian replicas without in-process locks.
   */
  async #tx<T>(
    what: string,
    fn: (c: pg.PoolClient) => Promise<T>,
    isolation: "SERIALIZABLE" | "READ COMMITTED" = "SERIALIZABLE",
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#txOnce(what, fn, isolation);
      } catch (error) {
        const code = (error as { cause?: { code?: unknown } }).cause?.code;
        if (attempt >= 16 || (code !== "40001" && code !== "40P01")) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 5 * 2 ** attempt)));
      }
    }
  }

  async #txOnce<T>(
    what: string,
    fn: (c: pg.PoolClient) => Promise<T>,
    isolation: "SERIALIZABLE" | "READ COMMITTED",
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (cause) {
      throw storage(what, cause);
    }
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      if (error instanceof CustodyError) throw error;
      throw storage(what, error);
    } finally {
      client.release();
    }
  }

  async #audit(c: pg.PoolClient, event: NewAuditEvent): Promise<AuditEvent> {
    const r = await c.query(
      "INSERT INTO audit (at, type, deployment, model, claim, reason, peer, consumer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
      [
        now(),
        event.type,
        event.deployment ?? null,
        event.model ?? null,
        event.claim ?? null,
        event.reason ?? null,
        event.peer ?? null,
        event.consumer ?? null,
      ],
    );
    return auditEvent(r.rows[0]);
  }

  async schemaVersion(): Promise<number> {
    return this.#tx("reading the schema version", async (c) => {
      const r = await c.query("SELECT MAX(version) AS v FROM schema_migrations");
      return Number(r.rows[0]?.v ?? 0);
    });
  }

  async addModel(model: NewModel, peer?: string): Promise<AddOutcome> {
    return this.#tx("adding a model", async (c) => {
      const r = await c.query("SELECT * FROM models WHERE id = $1 FOR UPDATE", [model.id]);
      const existing = r.rows[0] as Row | undefined;
      if (existing) {
        const same =
          existing.plaintext_sha256 === model.plaintextSha256 &&
          Number(existing.threshold) === model.threshold &&
          (existing.share_index === null ? null : Number(existing.share_index)) === model.shareIndex &&
          Buffer.compare(existing.secret as Buffer, Buffer.from(model.secret)) === 0;
        if (!same) throw new CustodyError("conflict", `model ${model.id} exists with other contents`);
        return "exists";
      }
      await c.query(
        "INSERT INTO models (id, plaintext_sha256, sealed_sha256, threshold, share_index, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
          model.id,
          model.plaintextSha256,
          model.sealedSha256,
          model.threshold,
          model.shareIndex,
          Buffer.from(model.secret),
          now(),
        ],
      );
      await this.#audit(c, { type: "model-added", model: model.id, ...(peer ? { peer } : {}) });
      return "created";
    });
  }

  async listModels(): Promise<ModelInfo[]> {
    return this.#tx("listing models", async (c) =>
      (await c.query("SELECT * FROM models ORDER BY id")).rows.map(modelInfo),
    );
  }

  async modelSecret(id: string) {
    return this.#tx("reading a model", async (c) => {
      const row = (await c.query("SELECT * FROM models WHERE id = $1", [id])).rows[0] as Row | undefined;
      return row ? { model: modelInfo(row), secret: new Uint8Array(row.secret as Buffer) } : undefined;
    });
  }

  async addDeployment(deployment: NewDeployment, peer?: string): Promise<AddOutcome> {
    return this.#tx("adding a deployment", async (c) => {
      if ((await c.query("SELECT 1 FROM models WHERE id = $1", [deployment.modelId])).rowCount === 0) {
        throw new CustodyError("not-found", `no model ${deployment.modelId}`);
      }
      const policies = policiesText(deployment.policies);
      const existing = (await c.query("SELECT * FROM deployments WHERE id = $1 FOR UPDATE", [deployment.id])).rows[0] as
        | Row
        | undefined;
      if (existing) {
        if (existing.model_id !== deployment.modelId || existing.policies !== policies) {
          throw new CustodyError("conflict", `deployment ${deployment.id} exists with other contents`);
        }
        return "exists";
      }
      await c.query("INSERT INTO deployments (id, model_id, policies, created_at) VALUES ($1, $2, $3, $4)", [
        deployment.id,
        deployment.modelId,
        policies,
        now(),
      ]);
      await this.#audit(c, {
        type: "deployment-added",
        deployment: deployment.id,
        model: deployment.modelId,
        ...(peer ? { peer } : {}),
      });
      return "created";
    });
  }

  async getDeployment(id: string): Promise<DeploymentInfo | undefined> {
    return this.#tx("reading a deployment", async (c) => {
      const row = (await c.query("SELECT * FROM deployments WHERE id = $1", [id])).rows[0] as Row | undefined;
      return row ? deploymentInfo(row) : undefined;
    });
  }

  async listDeployments(): Promise<DeploymentInfo[]> {
    return this.#tx("listing deployments", async (c) =>
      (await c.query("SELECT * FROM deployments ORDER BY id")).rows.map(deploymentInfo),
    );
  }

  async revokeDeployment(id: string, peer?: string): Promise<boolean> {
    return this.#tx("revoking a deployment", async (c) => {
      const row = (await c.query("SELECT * FROM deployments WHERE id = $1 FOR UPDATE", [id])).rows[0] as
        | Row
        | undefined;
      if (!row) return false;
      if (row.revoked_at !== null) return true;
      await c.query("UPDATE deployments SET revoked_at = $1 WHERE id = $2", [now(), id]);
      await this.#audit(c, {
        type: "revocation",
        deployment: id,
        model: row.model_id as string,
        ...(peer ? { peer } : {}),
      });
      return true;
    });
  }

  async addConsumer(deployment: string, id: string, keySha256: string, peer?: string): Promise<void> {
    await this.#tx("adding a consumer", async (c) => {
      const d = await c.query("SELECT model_id FROM deployments WHERE id = $1", [deployment]);
      if (d.rowCount === 0) throw new CustodyError("not-found", `no deployment ${deployment}`);
      const existing = await c.query("SELECT 1 FROM consumers WHERE deployment_id = $1 AND id = $2", [deployment, id]);
      if ((existing.rowCount ?? 0) > 0) {
        throw new CustodyError("conflict", `consumer ${id} of ${deployment} exists; revoke it and add another id`);
      }
      await c.query("INSERT INTO consumers (deployment_id, id, key_sha256, created_at) VALUES ($1, $2, $3, $4)", [
        deployment,
        id,
        keySha256,
        now(),
      ]);
      await this.#audit(c, {
        type: "consumer-added",
        deployment,
        model: d.rows[0].model_id,
        consumer: id,
        ...(peer ? { peer } : {}),
      });
    });
  }

  async revokeConsumer(deployment: string, id: string, peer?: string): Promise<boolean> {
    return this.#tx("revoking a consumer", async (c) => {
      const r = await c.query("SELECT revoked_at FROM consumers WHERE deployment_id = $1 AND id = $2", [
        deployment,
        id,
      ]);
      if (r.rowCount === 0) return false;
      if (r.rows[0].revoked_at !== null) return true;
      await c.query("UPDATE consumers SET revoked_at = $1 WHERE deployment_id = $2 AND id = $3", [
        now(),
        deployment,
        id,
      ]);
      await this.#audit(c, { type: "consumer-revoked", deployment, consumer: id, ...(peer ? { peer } : {}) });
      return true;
    });
  }

  async listConsumers(deployment: string): Promise<ConsumerInfo[]> {
    return this.#tx("listing consumers", async (c) =>
      (
        await c.query(
          "SELECT deployment_id, id, created_at, revoked_at FROM consumers WHERE deployment_id = $1 ORDER BY id",
          [deployment],
        )
      ).rows.map((row: ConsumerRow) => consumerInfo(row)),
    );
  }

  async consumerByKey(keySha256: string): Promise<ConsumerInfo | undefined> {
    return this.#tx("finding a consumer", async (c) => {
      const r = await c.query("SELECT deployment_id, id, created_at, revoked_at FROM consumers WHERE key_sha256 = $1", [
        keySha256,
      ]);
      return r.rowCount === 0 ? undefined : consumerInfo(r.rows[0]);
    });
  }

  async appendAudit(event: NewAuditEvent): Promise<AuditEvent> {
    return this.#tx("appending to the audit trail", (c) => this.#audit(c, event));
  }

  async listAudit(after: number, limit: number): Promise<AuditEvent[]> {
    return this.#tx("reading the audit trail", async (c) =>
      (await c.query("SELECT * FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", [after, limit])).rows.map((r) =>
        auditEvent(r),
      ),
    );
  }

  transaction<T>(what: string, fn: (tx: LedgerTx) => Promise<T>): Promise<T> {
    return this.#tx(
      what,
      async (c) => {
        const q = (sql: string, params: readonly unknown[]) => {
          let n = 0;
          return c.query(
            sql.replace(/\?/g, () => `$${++n}`),
            [...params],
          );
        };
        const tx: LedgerTx = {
          lockDeployment: async (id) =>
            ((await q("SELECT 1 FROM deployments WHERE id = ? FOR UPDATE", [id])).rowCount ?? 0) > 0,
          get: async (sql, params = []) => (await q(sql, params)).rows[0] as Row | undefined,
          all: async (sql, params = []) => (await q(sql, params)).rows as Row[],
          run: async (sql, params = []) => (await q(sql, params)).rowCount ?? 0,
          audit: async (event) => {
            await this.#audit(c, event);
          },
        };
        return fn(tx);
      },
      "READ COMMITTED",
    );
  }

  async recordRelease(
    challengeId: string,
    event: NewAuditEvent & { deployment: string; model: string },
    lease: NewLease,
  ) {
    await this.#tx("recording a release", async (c) => {
      const row = (await c.query("SELECT revoked_at FROM deployments WHERE id = $1 FOR UPDATE", [event.deployment]))
        .rows[0] as Row | undefined;
      if (!row) throw new CustodyError("not-found", `no deployment ${event.deployment}`);
      if (row.revoked_at !== null) throw new CustodyError("revoked", `deployment ${event.deployment} is revoked`);
      const inserted = await c.query(
        "INSERT INTO releases (challenge_id, deployment_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [challengeId, event.deployment, now()],
      );
      if (inserted.rowCount === 0) throw new CustodyError("conflict", "the challenge was used already");
      await c.query("INSERT INTO leases (release_id, deployment_id, tls_spki, expires_at_ms) VALUES ($1, $2, $3, $4)", [
        challengeId,
        event.deployment,
        lease.tlsSpki,
        lease.expiresAtMs,
      ]);
      await this.#audit(c, event);
    });
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/**
 * Connect to PostgreSQL at `url` and migrate.
 *
 * @throws CustodyError `storage` (cannot connect, a database newer than this build, missing audit triggers).
 */
export async function openPostgresStore(url: string): Promise<CustodianStore> {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // An idle client's error (the server restarting) must not crash the custodian; the next query reports it.
  pool.on("error", () => undefined);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (cause) {
    await pool.end().catch(() => undefined);
    throw storage("connecting to PostgreSQL", cause);
  }
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    );
    const current = Number((await client.query("SELECT MAX(version) AS v FROM schema_migrations")).rows[0]?.v ?? 0);
    if (current > SCHEMA_VERSION) {
      throw new CustodyError("storage", `the database is at schema ${current}; this build knows ${SCHEMA_VERSION}`);
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query("BEGIN");
      try {
        await client.query(migration.postgres);
        await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [
          migration.version,
          now(),
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    }
    const triggers = await client.query(
      "SELECT COUNT(*) AS n FROM pg_trigger WHERE tgrelid = 'audit'::regclass AND NOT tgisinternal",
    );
    if (Number(triggers.rows[0]?.n) < 2)
      throw new CustodyError("storage", "the audit trail's append-only triggers are missing");
  } catch (error) {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
    await pool.end().catch(() => undefined);
    if (error instanceof CustodyError) throw error;
    throw storage("migrating PostgreSQL", error);
  }
  await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
  client.release();
  return new PostgresStore(pool);
}
