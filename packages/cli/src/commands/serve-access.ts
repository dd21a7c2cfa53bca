/**
 * `veritee serve`'s access options: API keys (`--api-key`, repeatable;
 * `--api-key-file`, one key a line; `$VERITEE_API_KEY`) and
 * `--require-sealed`. Keys are best kept off the command line, where other
 * users of the machine can read them (`ps`): the file or the environment
 * variable keep them out of sight. No key is ever printed or measured.
 */
import { readFileSync } from "node:fs";
import { checkApiKeys, type ServeOptions } from "@veritee/server";
import { CliError } from "../cli-error.js";

/** The parsed access flags. */
export interface AccessFlags {
  apiKey?: string[];
  apiKeyFile?: string;
  requireSealed?: boolean;
}

/** Commander's collector for the repeatable `--api-key`. */
export function collectApiKey(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * The access part of the serve options, from the flags and `env`.
 *
 * @throws CliError `file-not-found` / `file-unreadable` for the key file, `bad-argument` for a malformed key.
 */
export function accessServeOptions(
  flags: AccessFlags,
  env: NodeJS.ProcessEnv = process.env,
): Pick<ServeOptions, "apiKeys" | "requireSealed"> {
  const keys = [...(flags.apiKey ?? [])];
  if (flags.apiKeyFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.apiKeyFile, "utf8");
    } catch (cause) {
      const missing = (cause as { code?: unknown }).code === "ENOENT";
      throw new CliError(
        missing ? "file-not-found" : "file-unreadable",
        `--api-key-file: cannot read ${flags.apiKeyFile}`,
      );
    }
    for (const line of text.split(/\r?\n/)) {
      const key = line.trim();
      if (key !== "" && !key.startsWith("#")) keys.push(key);
    }
    if (keys.length === (flags.apiKey ?? []).length)
      throw new CliError("bad-argument", "--api-key-file: no key in the file");
  }
  const fromEnv = env.VERITEE_API_KEY;
  if (fromEnv !== undefined && fromEnv !== "") keys.push(fromEnv.trim());
  try {
    checkApiKeys(keys);
  } catch (error) {
    throw new CliError("bad-argument", (error as Error).message);
  }
  return {
    ...(keys.length > 0 ? { apiKeys: [...new Set(keys)] } : {}),
    ...(flags.requireSealed ? { requireSealed: true } : {}),
  };
}
