/**
 * The custodian's schema, as numbered migrations applied in order and
 * recorded in `schema_migrations`, for both engines. A database newer than
 * this build (a version it does not know) is refused rather than used.
 * Migration 2 adds the consumers of a deployment (issue 12: their API keys,
 * stored only as SHA-256 digests); migration 3 the governance ledger (quotas,
 * usage, leases and their blocks, throttles, the custodian's lease key).
 *
 * The audit table is append-only in the database itself: triggers refuse
 * UPDATE and DELETE, so neither a bug here nor an operator's SQL prompt can
 * rewrite the trail without dropping the triggers first (which a schema
 * check at start reports).
 */

/** One schema step, written once for each engine. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sqlite: string;
  readonly postgres: string;
}

/** Migration 2 is plain SQL that both engines read the same way. */
const CONSUMERS_V2 = `
  CREATE TABLE consumers (
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    id TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    PRIMARY KEY (deployment_id, id)
  );
  ALTER TABLE audit ADD COLUMN consumer TEXT;
`;

/**
 * Migration 3, the governance ledger (docs/CUSTODY.md "Governance"), plain
 * SQL both engines read the same way (BIGINT is an integer in SQLite too).
 * A consumer's `*_supplied` is NULL until a quota is supplied in that
 * dimension; its `requests`/`*_tokens` are the usage reported so far. A
 * lease is one release's right to serve; its blocks are the quota it was
 * granted per consumer and the usage it reported, as running totals.
 */
const LEDGER_V3 = `
  ALTER TABLE consumers ADD COLUMN inferences_supplied BIGINT;
  ALTER TABLE consumers ADD COLUMN tokens_supplied BIGINT;
  ALTER TABLE consumers ADD COLUMN requests BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE consumers ADD COLUMN prompt_tokens BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE consumers ADD COLUMN completion_tokens BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE deployments ADD COLUMN tokens_per_second BIGINT;
  ALTER TABLE deployments ADD COLUMN requests_per_minute BIGINT;
  ALTER TABLE deployments ADD COLUMN lease_ms BIGINT;
  CREATE TABLE leases (
    release_id TEXT PRIMARY KEY REFERENCES releases(challenge_id),
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    tls_spki TEXT NOT NULL,
    seq BIGINT NOT NULL DEFAULT 0,
    expires_at_ms BIGINT NOT NULL,
    ended BIGINT NOT NULL DEFAULT 0
  );
  CREATE INDEX leases_live ON leases (deployment_id, ended, expires_at_ms);
  CREATE TABLE lease_blocks (
    release_id TEXT NOT NULL REFERENCES leases(release_id),
    consumer_id TEXT NOT NULL,
    granted_inferences BIGINT NOT NULL DEFAULT 0,
    granted_tokens BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (release_id, consumer_id)
  );
  CREATE TABLE custodian_keys (
    name TEXT PRIMARY KEY,
    private_pkcs8 TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
`;

/**
 * Migration 4, multi-party control (docs/CUSTODY.md "Multi-party control"):
 * the owners' Ed25519 keys per model, and the approvals already used (their
 * SHA-256), so an approval counts once.
 */
const OWNERS_V4 = `
  CREATE TABLE owners (
    model_id TEXT NOT NULL REFERENCES models(id),
    id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (model_id, id)
  );
  CREATE TABLE approvals_used (
    digest TEXT PRIMARY KEY,
    at TEXT NOT NULL
  );
`;

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: "models, deployments, releases, append-only audit",
    sqlite: `
      CREATE TABLE models (
        id TEXT PRIMARY KEY,
        plaintext_sha256 TEXT NOT NULL,
        sealed_sha256 TEXT,
        threshold INTEGER NOT NULL,
        share_index INTEGER,
        secret BLOB NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE deployments (
        id TEXT PRIMARY KEY,
        model_id TEXT NOT NULL REFERENCES models(id),
        policies TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
      );
      CREATE TABLE releases (
        challenge_id TEXT PRIMARY KEY,
        deployment_id TEXT NOT NULL REFERENCES deployments(id),
        at TEXT NOT NULL
      );
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        deployment TEXT,
        model TEXT,
        claim TEXT,
        reason TEXT,
        peer TEXT
      );
      CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
      CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    `,
    postgres: `
      CREATE TABLE models (
        id TEXT PRIMARY KEY,
        plaintext_sha256 TEXT NOT NULL,
        sealed_sha256 TEXT,
        threshold INTEGER NOT NULL,
        share_index INTEGER,
        secret BYTEA NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE deployments (
        id TEXT PRIMARY KEY,
        model_id TEXT NOT NULL REFERENCES models(id),
        policies TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
      );
      CREATE TABLE releases (
        challenge_id TEXT PRIMARY KEY,
        deployment_id TEXT NOT NULL REFERENCES deployments(id),
        at TEXT NOT NULL
      );
      CREATE TABLE audit (
        seq BIGSERIAL PRIMARY KEY,
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        deployment TEXT,
        model TEXT,
        claim TEXT,
        reason TEXT,
        peer TEXT
      );
      CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
      CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_append_only();
      CREATE TRIGGER audit_append_only_truncate BEFORE TRUNCATE ON audit
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
    `,
  },
  {
    version: 2,
    description: "consumers (API keys as SHA-256 digests), the consumer of an audit event",
    sqlite: CONSUMERS_V2,
    postgres: CONSUMERS_V2,
  },
  {
    version: 3,
    description: "the governance ledger: quotas, usage, leases and blocks, throttles, the lease key",
    sqlite: LEDGER_V3,
    postgres: LEDGER_V3,
  },
  {
    version: 4,
    description: "multi-party control: owners' keys per model, used approvals",
    sqlite: OWNERS_V4,
    postgres: OWNERS_V4,
  },
]);

/** The schema version this build writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
