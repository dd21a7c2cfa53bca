/**
 * The store engines every custodian test runs against: SQLite always, and
 * PostgreSQL in a throwaway cluster (`@veritee/testkit/postgres`), started
 * once per test file and stopped in `after`. PostgreSQL is skipped only off
 * CI when it is not installed; as root (CI, where `npm test` installs it)
 * it must run.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { type PostgresCluster, postgresUnavailable, startPostgres } from "@veritee/testkit/postgres";
import Database from "better-sqlite3";
import pg from "pg";
import { type CustodianStore, openPostgresStore, openSqliteStore, SQLITE_FILE } from "../../src/custodian/index.js";

/** An opened store and a raw SQL door into the same database (what an operator with database access can do). */
export interface OpenedStore {
  readonly store: CustodianStore;
  /** Run SQL outside the store. */
  raw(sql: string): Promise<void>;
  /** Open another store on the same database (a restart). */
  reopen(): Promise<CustodianStore>;
  /** Everything the database holds, as text (for canary checks): SQLite's files as bytes, PostgreSQL's tables as JSON. */
  dump(): Promise<string>;
  /** What `veritee custodian serve` needs for this database: a data directory, or a `DATABASE_URL`. */
  readonly location: { readonly dataDir: string; readonly databaseUrl?: string };
}

/** One engine: a fresh, empty database per `open()`. */
export interface Engine {
  readonly name: "sqlite" | "postgres";
  /** Why the engine is skipped, or undefined when it runs. */
  readonly skip: string | undefined;
  open(): Promise<OpenedStore>;
}

const dirs: string[] = [];
let cluster: Promise<PostgresCluster> | undefined;
after(async () => {
  if (cluster) await (await cluster).stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "veritee-custodian-"));
  dirs.push(dir);
  return dir;
}

export const sqliteEngine: Engine = {
  name: "sqlite",
  skip: undefined,
  async open() {
    const data = join(await tempDir(), "data");
    const store = openSqliteStore(data);
    return {
      store,
      async raw(sql: string) {
        const db = new Database(join(data, SQLITE_FILE));
        try {
          db.exec(sql);
        } finally {
          db.close();
        }
      },
      reopen: async () => openSqliteStore(data),
      async dump() {
        const files = (await readdir(data)).filter((f) => f.startsWith(SQLITE_FILE));
        return (await Promise.all(files.map((f) => readFile(join(data, f)))))
          .map((b) => b.toString("latin1"))
          .join("\n");
      },
      location: { dataDir: data },
    };
  },
};

const unavailable = postgresUnavailable();

export const postgresEngine: Engine = {
  name: "postgres",
  skip: unavailable !== undefined && process.getuid?.() !== 0 ? unavailable : undefined,
  async open() {
    cluster ??= startPostgres();
    const url = await (await cluster).createDatabase();
    const store = await openPostgresStore(url);
    return {
      store,
      async raw(sql: string) {
        const client = new pg.Client(url);
        await client.connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      },
      reopen: () => openPostgresStore(url),
      async dump() {
        const client = new pg.Client(url);
        await client.connect();
        try {
          const tables = await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
          const parts: string[] = [];
          for (const { tablename } of tables.rows as { tablename: string }[]) {
            const rows = await client.query(`SELECT row_to_json(t)::text AS j FROM "${tablename}" t`);
            parts.push(...(rows.rows as { j: string }[]).map((r) => r.j));
          }
          return parts.join("\n");
        } finally {
          await client.end();
        }
      },
      location: { dataDir: join(await tempDir(), "data"), databaseUrl: url },
    };
  },
};

/** The engines to parametrise over. */
export const ENGINES: readonly Engine[] = [sqliteEngine, postgresEngine];
