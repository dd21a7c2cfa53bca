/**
 * `@veritee/custody/custodian`: the custodian service (database, HTTP API,
 * release verification, audit trail). A separate entry so the attested
 * server, which imports `@veritee/custody` for sealed files and the release
 * client, never loads the database drivers.
 */
export {};
