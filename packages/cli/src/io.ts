import { readFile } from "node:fs/promises";
import { fromHex, MalformedError } from "@veritee/core";
import { CliError } from "./cli-error.js";

/** Read a whole file, mapping "not found" to a typed CLI error that names the option. */
export async function readInputFile(path: string, option: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CliError("file-not-found", `${option}: no such file: ${path}`, { cause: error });
    throw new CliError("file-unreadable", `${option}: cannot read ${path} (${code ?? "error"})`, { cause: error });
  }
}

/** Parse a hex option value strictly (`0x` prefix allowed), naming the option on error. */
export function parseHexOption(value: string, option: string): Uint8Array {
  try {
    return fromHex(value, option);
  } catch (error) {
    if (error instanceof MalformedError) {
      throw new CliError("bad-argument", `${option} must be hex (an even number of hex digits)`, { cause: error });
    }
    throw error;
  }
}

/** Parse a SHA-256 option: exactly 64 hex digits, returned lower-case; a usage error otherwise. */
export function parseSha256Option(value: string, option: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new CliError("bad-argument", `${option} must be a SHA-256 digest (64 hex digits)`);
  }
  return value.toLowerCase();
}

/** `--model-sha256` as a commander option parser. */
export const sha256Option = (value: string): string => parseSha256Option(value, "--model-sha256");

/** Parse a TCP port option: an integer in 0..65535. */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError("bad-argument", `--port must be 0..65535`);
  return n;
}

/** An optional positive integer option (`--threads 2`); undefined when not given. */
export function positive(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError("bad-argument", `${option} must be a positive integer`);
  return n;
}

/** Write a line to stdout. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Pretty JSON with bigint and byte arrays rendered as decimal strings and lower-case hex. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
      if (v instanceof Map) return Object.fromEntries(v);
      return v;
    },
    2,
  );
}
