/**
 * The custodian's state behind one interface, with two engines: SQLite
 * (`sqlite.ts`, the default: a file in the data directory) and PostgreSQL
 * (`postgres.ts`, when `DATABASE_URL` is set). The HTTP layer sees only this
 * interface, so both engines run the same tests.
 *
 * Invariants every engine keeps:
 * - a model's secret is stored as bytes and leaves the store only through
 *   {@link CustodianStore.modelSecret}, which the release path alone calls;
 * - the audit trail is append-only, enforced by the database itself (a
 *   trigger refuses UPDATE and DELETE), not only by this code;
 * - an operation and its audit event commit in one transaction, so a crash
 *   never leaves a release, revocation or registration without its event, or
 *   an event without it;
 * - the schema moves forward only by numbered migrations (`migrations.ts`),
 *   so later features (leases, metering, quotas: issue 12) add tables by
 *   adding migrations.
 */
import type { AuditEvent, AuditType, ConsumerInfo, DeploymentInfo, ModelInfo } from "../protocol/index.js";

/** A model to register. */
export interface NewModel {
  readonly id: string;
  readonly plaintextSha256: string;
  readonly sealedSha256: string | null;
  readonly threshold: number;
  readonly shareIndex: number | null;
  readonly secret: Uint8Array;
}

/** A deployment to register; `policies` are validated policy documents. */
export interface NewDeployment {
  readonly id: string;
  readonly modelId: string;
  readonly policies: readonly unknown[];
}

/** An audit event to append: the store assigns `seq` and `at`. */
export interface NewAuditEvent {
  readonly type: AuditType;
  readonly deployment?: string | undefined;
  readonly model?: string | undefined;
  readonly claim?: string | undefined;
  readonly reason?: string | undefined;
  readonly peer?: string | undefined;
  readonly consumer?: string | undefined;
}

/** A row as the database returns it (PostgreSQL gives BIGINT as a string: read counters with `Number`). */
export type LedgerRow = Readonly<Record<string, unknown>>;

/**
 * One transaction of the governance ledger (ledger.ts), the same for both
 * engines: SQL with `?` placeholders (PostgreSQL's are numbered for it),
 * integers for booleans. SQLite runs it under BEGIN IMMEDIATE, one at a
 * time. PostgreSQL runs it under READ COMMITTED, and every transaction that
 * moves a deployment's quotas first locks the deployment's row
 * ({@link LedgerTx.lockDeployment}): the renewals of one deployment take
 * turns, each reading what the one before committed — exact without the
 * serialization failures SERIALIZABLE gives a hot row. It is retried on a
 * deadlock, so `fn` must have no effect outside the database.
 */
export interface LedgerTx {
  /**
   * Lock a deployment's row until the transaction ends (PostgreSQL `FOR
   * UPDATE`; SQLite's transactions are one at a time already).
   *
   * @returns false when there is no such deployment.
   */
  lockDeployment(id: string): Promise<boolean>;
  get(sql: string, params?: readonly unknown[]): Promise<LedgerRow | undefined>;
  all(sql: string, params?: readonly unknown[]): Promise<LedgerRow[]>;
  /** @returns the number of rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  audit(event: NewAuditEvent): Promise<void>;
}

/** A new release's lease, written with the release. */
export interface NewLease {
  /** The attested key set's TLS key (SPKI DER, base64): it signs the renewals. */
  readonly tlsSpki: string;
  /** Wall-clock ms after which the lease is over unless renewed. */
  readonly expiresAtMs: number;
}

/** What a registration did. */
export type AddOutcome = "created" | "exists";

/** The custodian's persistent state. Every method is atomic. */
export interface CustodianStore {
  /** `"sqlite"` or `"postgres"`. */
  readonly engine: string;
  /** The applied schema version. */
  schemaVersion(): Promise<number>;
  /**
   * Register a model and audit `model-added`, in one transaction. The same
   * id with the same secret and digests is `"exists"` (idempotent, not
   * audited again).
   *
   * @throws CustodyError `conflict` for an existing id with other contents.
   */
  addModel(model: NewModel, peer?: string): Promise<AddOutcome>;
  /** Every model, by id; never a secret. */
  listModels(): Promise<ModelInfo[]>;
  /** One model's record and secret, for a release only. */
  modelSecret(id: string): Promise<{ readonly model: ModelInfo; readonly secret: Uint8Array } | undefined>;
  /**
   * Register a deployment and audit `deployment-added`, in one transaction.
   *
   * @throws CustodyError `not-found` for an unknown model, `conflict` for an existing id with other contents.
   */
  addDeployment(deployment: NewDeployment, peer?: string): Promise<AddOutcome>;
  /** One deployment, or undefined. */
  getDeployment(id: string): Promise<DeploymentInfo | undefined>;
  /** Every deployment, by id. */
  listDeployments(): Promise<DeploymentInfo[]>;
  /**
   * Mark a deployment revoked and audit `revocation`, in one transaction.
   * Revoking a revoked deployment changes nothing and is not audited again.
   *
   * @returns false for an unknown deployment.
   */
  revokeDeployment(id: string, peer?: string): Promise<boolean>;
  /** Append one audit event (refusals). */
  appendAudit(event: NewAuditEvent): Promise<AuditEvent>;
  /** Audit events with `seq > after`, oldest first, at most `limit`. */
  listAudit(after: number, limit: number): Promise<AuditEvent[]>;
  /**
   * Record a release: the challenge is marked used and a `release` event
   * appended, in one transaction; the deployment must still be unrevoked
   * inside it.
   *
   * @throws CustodyError `conflict` when the challenge was already used,
   *   `revoked` when the deployment was revoked meanwhile.
   */
  recordRelease(
    challengeId: string,
    event: NewAuditEvent & { deployment: string; model: string },
    lease: NewLease,
  ): Promise<void>;
  /** Run `fn` in one ledger transaction (see {@link LedgerTx}). */
  transaction<T>(what: string, fn: (tx: LedgerTx) => Promise<T>): Promise<T>;
  /**
   * Register consumer `id` of a deployment with the SHA-256 (hex) of its API
   * key, and audit `consumer-added`, in one transaction.
   *
   * @throws CustodyError `not-found` for an unknown deployment, `conflict` for an existing consumer id (its key
   *   cannot be shown again: revoke it and add another).
   */
  addConsumer(deployment: string, id: string, keySha256: string, peer?: string): Promise<void>;
  /**
   * Revoke a consumer and audit `consumer-revoked` (once).
   *
   * @returns false for an unknown consumer.
   */
  revokeConsumer(deployment: string, id: string, peer?: string): Promise<boolean>;
  /** A deployment's consumers, by id; never a key or its digest. */
  listConsumers(deployment: string): Promise<ConsumerInfo[]>;
  /** The consumer whose API key has this SHA-256, or undefined. */
  consumerByKey(keySha256: string): Promise<ConsumerInfo | undefined>;
  /** Close the connection(s). */
  close(): Promise<void>;
}

/** Both engines compare policies as their stored JSON text. */
export function policiesText(policies: readonly unknown[]): string {
  return JSON.stringify(policies);
}
