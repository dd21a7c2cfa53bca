/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temporary
 * directory, `pg_ctl start` listening on 127.0.0.1 only (a Unix socket in
 * the same directory, never the system's), trust authentication for one
 * role, and `stop()` removes it all. Debian's `postgresql` package installs
 * the server binaries under /usr/lib/postgresql/N/bin, off PATH; we look
 * there and on PATH.
 *
 * PostgreSQL refuses to run as root, so under root (CI) the cluster is
 * owned by and started as the `postgres` system user that the package
 * creates (`runuser`). Durability is switched off (`fsync=off`): these
 * databases are thrown away, and it keeps the suite fast on slow disks.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A running cluster. */
export interface PostgresCluster {
  /** `postgres://…@127.0.0.1:PORT/` with no database name. */
  readonly baseUrl: string;
  /** Create a fresh, empty database and return its URL. */
  createDatabase(): Promise<string>;
  /** Stop the cluster and delete its files. */
  stop(): Promise<void>;
}

const ROLE = "veritee";

/** The directory holding `initdb` and `pg_ctl`, or undefined when PostgreSQL is not installed. */
export function findPostgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(path.join(root, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return path.join(root, versions[0], "bin");
  }
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir !== "" && existsSync(path.join(dir, "initdb")) && existsSync(path.join(dir, "pg_ctl"))) return dir;
  }
  return undefined;
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  if (findPostgresBin() === undefined) return "PostgreSQL is not installed (apt-get install postgresql)";
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

async function systemUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * Start a cluster.
 *
 * @throws Error when PostgreSQL is missing or does not start (its log is in the message).
 */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  const dir = await mkdtemp(path.join(tmpdir(), "veritee-pg-"));
  const data = path.join(dir, "data");
  const log = path.join(dir, "server.log");
  // As root, hand the directory to the `postgres` user and run every binary as it.
  let asUser: (cmd: string, args: string[]) => [string, string[]] = (cmd, args) => [cmd, args];
  if (process.getuid?.() === 0) {
    const owner = await systemUser("postgres");
    if (owner === undefined) throw new Error("running as root, but there is no `postgres` user to run PostgreSQL as");
    await chown(dir, owner.uid, owner.gid);
    await chmod(dir, 0o700);
    asUser = (cmd, args) => ["runuser", ["-u", "postgres", "--", cmd, ...args]];
  }
  const exec = async (tool: string, args: string[]): Promise<void> => {
    const [cmd, argv] = asUser(path.join(bin, tool), args);
    await run(cmd, argv, { timeout: 60_000 });
  };
  const port = await freePort();
  try {
    await exec("initdb", ["-D", data, "-U", ROLE, "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
    const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    await exec("pg_ctl", ["-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"]);
  } catch (error) {
    let serverLog = "";
    try {
      serverLog = (await run("cat", [log])).stdout;
    } catch {
      // no log yet
    }
    await rm(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${serverLog}`);
  }
  const baseUrl = `postgres://${ROLE}@127.0.0.1:${port}/`;
  let databases = 0;
  return {
    baseUrl,
    async createDatabase() {
      const name = `t${++databases}_${process.pid}`;
      await exec("psql", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        ROLE,
        "-d",
        "postgres",
        "-qc",
        `CREATE DATABASE ${name}`,
      ]);
      return `${baseUrl}${name}`;
    },
    async stop() {
      try {
        await exec("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
