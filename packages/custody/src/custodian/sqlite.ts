/**
 * The custodian's SQLite engine (better-sqlite3, README design notes): one
 * file, `custodian.db`, in the data directory (created 0700; the database
 * 0600, and SQLite gives its WAL and shared-memory files the same mode).
 * WAL journaling with `synchronous = FULL`, so a committed release survives
 * a power cut or a SIGKILL, and an uncommitted one leaves no trace.
 *
 * better-sqlite3 is synchronous: each method runs one short transaction on
 * the event loop, which for a custodian's load (a few releases a minute) is
 * simpler and faster than a thread hop.
 */
import { closeSync, mkdirSync, openSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { CustodyError } from "../errors.js";
import type { AuditEvent, AuditType, ConsumerInfo, DeploymentInfo, ModelInfo } from "../protocol/index.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations.js";
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

/** The database file's name in the data directory. */
export const SQLITE_FILE = "custodian.db";

interface ModelRow {
  id: string;
  plaintext_sha256: string;
  sealed_sha256: string | null;
  threshold: number;
  share_index: number | null;
  secret: Buffer;
  created_at: string;
}

interface DeploymentRow {
  id: string;
  model_id: string;
  policies: string;
  created_at: string;
  revoked_at: string | null;
}

interface AuditRow {
  seq: number;
  at: string;
  type: string;
  deployment: string | null;
  model: string | null;
  claim: string | null;
  reason: string | null;
  peer: string | null;
  consumer?: string | null;
}

export interface ConsumerRow {
  deployment_id: string;
  id: string;
  created_at: string;
  revoked_at: string | null;
}

export function consumerInfo(row: ConsumerRow): ConsumerInfo {
  return { deployment: row.deployment_id, id: row.id, createdAt: row.created_at, revokedAt: row.revoked_at };
}

function modelInfo(row: ModelRow): ModelInfo {
  return {
    id: row.id,
    plaintextSha256: row.plaintext_sha256,
    sealedSha256: row.sealed_sha256,
    threshold: row.threshold,
    shareIndex: row.share_index,
    createdAt: row.created_at,
  };
}

function deploymentInfo(row: DeploymentRow): DeploymentInfo {
  return {
    id: row.id,
    modelId: row.model_id,
    policies: JSON.parse(row.policies) as unknown[],
    revoked: row.revoked_at !== null,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** An audit row as the API shows it: absent members are absent, not null. */
export function auditEvent(row: AuditRow): AuditEvent {
  const event: Record<string, unknown> = { seq: Number(row.seq), at: row.at, type: row.type as AuditType };
  for (const name of ["deployment", "model", "claim", "reason", "peer", "consumer"] as const) {
    const value = row[name];
    if (value !== null && value !== undefined) event[name] = value;
  }
  return event as unknown as AuditEvent;
}

function storage(what: string, cause: unknown): CustodyError {
  return new CustodyError("storage", `the database failed: ${what}`, { cause });
}

const now = () => new Date().toISOString();

class SqliteStore implements CustodianStore {
  readonly engine = "sqlite";
  readonly #db: Database.Database;
  /**
   * Every transaction runs after the one before it has ended: a ledger
   * transaction awaits between statements, and another request's statements
   * must not join it meanwhile.
   */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  #serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.#queue.then(fn);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #run<T>(what: string, fn: () => T): Promise<T> {
    return this.#serial(() => {
      try {
        return this.#db.transaction(fn).immediate();
      } catch (error) {
        if (error instanceof CustodyError) throw error;
        throw storage(what, error);
      }
    });
  }

  transaction<T>(what: string, fn: (tx: LedgerTx) => Promise<T>): Promise<T> {
    const db = this.#db;
    const tx: LedgerTx = {
      lockDeployment: async (id) => db.prepare("SELECT 1 FROM deployments WHERE id = ?").get(id) !== undefined,
      get: async (sql, params = []) => db.prepare(sql).get(...params) as Record<string, unknown> | undefined,
      all: async (sql, params = []) => db.prepare(sql).all(...params) as Record<string, unknown>[],
      run: async (sql, params = []) => db.prepare(sql).run(...params).changes,
      audit: async (event) => {
        this.#audit(event);
      },
    };
    return this.#serial(async () => {
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(tx);
        db.exec("COMMIT");
        return result;
      } catch (error) {
        if (db.inTransaction) db.exec("ROLLBACK");
        if (error instanceof CustodyError) throw error;
        throw storage(what, error);
      }
    });
  }

  #audit(event: NewAuditEvent): AuditEvent {
    const at = now();
    const info = this.#db
      .prepare(
        "INSERT INTO audit (at, type, deployment, model, claim, reason, peer, consumer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        at,
        event.type,
        event.deployment ?? null,
        event.model ?? null,
        event.claim ?? null,
        event.reason ?? null,
        event.peer ?? null,
        event.consumer ?? null,
      );
    const row = this.#db.prepare("SELECT * FROM audit WHERE seq = ?").get(info.lastInsertRowid) as AuditRow;
    return auditEvent(row);
  }

  async schemaVersion(): Promise<number> {
    return schemaVersionOf(this.#db);
  }

  async addModel(model: NewModel, peer?: string): Promise<AddOutcome> {
    return this.#run("adding a model", () => {
      const existing = this.#db.prepare("SELECT * FROM models WHERE id = ?").get(model.id) as ModelRow | undefined;
      if (existing) {
        const same =
          existing.plaintext_sha256 === model.plaintextSha256 &&
          existing.threshold === model.threshold &&
          existing.share_index === model.shareIndex &&
          Buffer.compare(existing.secret, Buffer.from(model.secret)) === 0;
        if (!same) throw new CustodyError("conflict", `model ${model.id} exists with other contents`);
        return "exists";
      }
      this.#db
        .prepare(
          "INSERT INTO models (id, plaintext_sha256, sealed_sha256, threshold, share_index, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .run(
          model.id,
          model.plaintextSha256,
          model.sealedSha256,
          model.threshold,
          model.shareIndex,
          Buffer.from(model.secret),
          now(),
        );
      this.#audit({ type: "model-added", model: model.id, ...(peer ? { peer } : {}) });
      return "created";
    });
  }

  async listModels(): Promise<ModelInfo[]> {
    return this.#run("listing models", () =>
      (this.#db.prepare("SELECT * FROM models ORDER BY id").all() as ModelRow[]).map(modelInfo),
    );
  }

  async modelSecret(id: string) {
    return this.#run("reading a model", () => {
      const row = this.#db.prepare("SELECT * FROM models WHERE id = ?").get(id) as ModelRow | undefined;
      return row ? { model: modelInfo(row), secret: new Uint8Array(row.secret) } : undefined;
    });
  }

  async addDeployment(deployment: NewDeployment, peer?: string): Promise<AddOutcome> {
    return this.#run("adding a deployment", () => {
      if (!this.#db.prepare("SELECT 1 FROM models WHERE id = ?").get(deployment.modelId)) {
        throw new CustodyError("not-found", `no model ${deployment.modelId}`);
      }
      const policies = policiesText(deployment.policies);
      const existing = this.#db.prepare("SELECT * FROM deployments WHERE id = ?").get(deployment.id) as
        | DeploymentRow
        | undefined;
      if (existing) {
        if (existing.model_id !== deployment.modelId || existing.policies !== policies) {
          throw new CustodyError("conflict", `deployment ${deployment.id} exists with other contents`);
        }
        return "exists";
      }
      this.#db
        .prepare("INSERT INTO deployments (id, model_id, policies, created_at) VALUES (?, ?, ?, ?)")
        .run(deployment.id, deployment.modelId, policies, now());
      this.#audit({
        type: "deployment-added",
        deployment: deployment.id,
        model: deployment.modelId,
        ...(peer ? { peer } : {}),
      });
      return "created";
    });
  }

  async getDeployment(id: string): Promise<DeploymentInfo | undefined> {
    return this.#run("reading a deployment", () => {
      const row = this.#db.prepare("SELECT * FROM deployments WHERE id = ?").get(id) as DeploymentRow | undefined;
      return row ? deploymentInfo(row) : undefined;
    });
  }

  async listDeployments(): Promise<DeploymentInfo[]> {
    return this.#run("listing deployments", () =>
      (this.#db.prepare("SELECT * FROM deployments ORDER BY id").all() as DeploymentRow[]).map(deploymentInfo),
    );
  }

  async revokeDeployment(id: string, peer?: string): Promise<boolean> {
    return this.#run("revoking a deployment", () => {
      const row = this.#db.prepare("SELECT * FROM deployments WHERE id = ?").get(id) as DeploymentRow | undefined;
      if (!row) return false;
      if (row.revoked_at !== null) return true;
      this.#db.prepare("UPDATE deployments SET revoked_at = ? WHERE id = ?").run(now(), id);
      this.#audit({ type: "revocation", deployment: id, model: row.model_id, ...(peer ? { peer } : {}) });
      return true;
    });
  }

  async addConsumer(deployment: string, id: string, keySha256: string, peer?: string): Promise<void> {
    await this.#run("adding a consumer", () => {
      const d = this.#db.prepare("SELECT model_id FROM deployments WHERE id = ?").get(deployment) as
        | { model_id: string }
        | undefined;
      if (!d) throw new CustodyError("not-found", `no deployment ${deployment}`);
      if (this.#db.prepare("SELECT 1 FROM consumers WHERE deployment_id = ? AND id = ?").get(deployment, id)) {
        throw new CustodyError("conflict", `consumer ${id} of ${deployment} exists; revoke it and add another id`);
      }
      this.#db
        .prepare("INSERT INTO consumers (deployment_id, id, key_sha256, created_at) VALUES (?, ?, ?, ?)")
        .run(deployment, id, keySha256, now());
      this.#audit({ type: "consumer-added", deployment, model: d.model_id, consumer: id, ...(peer ? { peer } : {}) });
    });
  }

  async revokeConsumer(deployment: string, id: string, peer?: string): Promise<boolean> {
    return this.#run("revoking a consumer", () => {
      const row = this.#db.prepare("SELECT * FROM consumers WHERE deployment_id = ? AND id = ?").get(deployment, id) as
        | ConsumerRow
        | undefined;
      if (!row) return false;
      if (row.revoked_at !== null) return true;
      this.#db
        .prepare("UPDATE consumers SET revoked_at = ? WHERE deployment_id = ? AND id = ?")
        .run(now(), deployment, id);
      this.#audit({ type: "consumer-revoked", deployment, consumer: id, ...(peer ? { peer } : {}) });
      return true;
    });
  }

  async listConsumers(deployment: string): Promise<ConsumerInfo[]> {
    return this.#run("listing consumers", () =>
      (
        this.#db
          .prepare(
            "SELECT deployment_id, id, created_at, revoked_at FROM consumers WHERE deployment_id = ? ORDER BY id",
          )
          .all(deployment) as ConsumerRow[]
      ).map(consumerInfo),
    );
  }

  async consumerByKey(keySha256: string): Promise<ConsumerInfo | undefined> {
    return this.#run("finding a consumer", () => {
      const row = this.#db
        .prepare("SELECT deployment_id, id, created_at, revoked_at FROM consumers WHERE key_sha256 = ?")
        .get(keySha256) as ConsumerRow | undefined;
      return row ? consumerInfo(row) : undefined;
    });
  }

  async appendAudit(event: NewAuditEvent): Promise<AuditEvent> {
    return this.#run("appending to the audit trail", () => this.#audit(event));
  }

  async listAudit(after: number, limit: number): Promise<AuditEvent[]> {
    return this.#run("reading the audit trail", () =>
      (this.#db.prepare("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?").all(after, limit) as AuditRow[]).map(
        auditEvent,
      ),
    );
  }

  async recordRelease(
    challengeId: string,
    event: NewAuditEvent & { deployment: string; model: string },
    lease: NewLease,
  ) {
    await this.#run("recording a release", () => {
      const row = this.#db.prepare("SELECT revoked_at FROM deployments WHERE id = ?").get(event.deployment) as
        | { revoked_at: string | null }
        | undefined;
      if (!row) throw new CustodyError("not-found", `no deployment ${event.deployment}`);
      if (row.revoked_at !== null) throw new CustodyError("revoked", `deployment ${event.deployment} is revoked`);
      if (this.#db.prepare("SELECT 1 FROM releases WHERE challenge_id = ?").get(challengeId)) {
        throw new CustodyError("conflict", "the challenge was used already");
      }
      this.#db
        .prepare("INSERT INTO releases (challenge_id, deployment_id, at) VALUES (?, ?, ?)")
        .run(challengeId, event.deployment, now());
      this.#db
        .prepare("INSERT INTO leases (release_id, deployment_id, tls_spki, expires_at_ms) VALUES (?, ?, ?, ?)")
        .run(challengeId, event.deployment, lease.tlsSpki, lease.expiresAtMs);
      this.#audit(event);
    });
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

function schemaVersionOf(db: Database.Database): number {
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Open (creating and migrating when needed) the SQLite store in `dir`.
 *
 * @throws CustodyError `storage` (cannot open, a database newer than this build, a missing audit trigger).
 */
export function openSqliteStore(dir: string): CustodianStore {
  const file = path.join(dir, SQLITE_FILE);
  let db: Database.Database;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(file, { throwIfNoEntry: false })) closeSync(openSync(file, "wx", 0o600));
    db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  } catch (cause) {
    throw storage(`opening ${file}`, cause);
  }
  const current = schemaVersionOf(db);
  if (current > SCHEMA_VERSION) {
    db.close();
    throw new CustodyError("storage", `the database is at schema ${current}; this build knows ${SCHEMA_VERSION}`);
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sqlite);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(migration.version, now());
    }).immediate();
  }
  const triggers = db
    .prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audit_append_only%'")
    .get() as { n: number };
  if (triggers.n < 2) {
    db.close();
    throw new CustodyError("storage", "the audit trail's append-only triggers are missing");
  }
  return new SqliteStore(db);
}
