/**
 * `@veritee/custody/custodian`: the custodian service (database, HTTP API,
 * release verification, audit trail). A separate entry so the attested
 * server, which imports `@veritee/custody` for sealed files and the release
 * client, never loads the database drivers.
 */
export { EXPIRY_GRACE_MS, Ledger, MAX_BLOCK } from "./ledger.js";
export { MIGRATIONS, type Migration, SCHEMA_VERSION } from "./migrations.js";
export { openPostgresStore } from "./postgres.js";
export { ReleaseService } from "./release.js";
export {
  type CustodianLog,
  type CustodianServiceOptions,
  type RunningCustodian,
  startCustodianService,
} from "./service.js";
export { openSqliteStore, SQLITE_FILE } from "./sqlite.js";
export type {
  AddOutcome,
  CustodianStore,
  LedgerRow,
  LedgerTx,
  NewAuditEvent,
  NewDeployment,
  NewLease,
  NewModel,
} from "./store.js";
