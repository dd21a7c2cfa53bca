/**
 * `--sealed-model SEALED --custodian URL[,URL…] --deployment D`, shared by
 * `veritee serve` (which gets the key released and serves the model) and
 * `veritee measure` (which computes the same configuration from the sealed
 * file alone, so an owner writes a deployment's policy without the borrower).
 * The three go together; a sealed model excludes the plaintext model flags.
 */
import { statSync } from "node:fs";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";

/** The parsed sealed-model flags. */
export interface SealedFlags {
  sealedModel?: string;
  custodian?: string;
  deployment?: string;
  plaintextDir?: string;
}

/** The sealed model to serve or measure. */
export interface SealedChoice {
  readonly path: string;
  readonly custodians: string[];
  readonly deployment: string;
  readonly memoryDir?: string;
}

/** Deployment ids: as model ids, 1–128 of A–Z a–z 0–9 . _ - */
const DEPLOYMENT_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Add the flags to a command. */
export function sealedOptions(command: Command, forServe: boolean): Command {
  command
    .option(
      "--sealed-model <file>",
      "serve a sealed model file (veritee model seal): its key is released by the custodians only to this attested launch (docs/CUSTODY.md)",
    )
    .option("--custodian <urls>", "with --sealed-model: the custodian's URL, or the k-of-n owners' (comma-separated)")
    .option("--deployment <id>", "with --sealed-model: the custodians' deployment whose policy this server satisfies");
  if (forServe) {
    command.option(
      "--plaintext-dir <dir>",
      "with --sealed-model: a RAM file system for the unsealed model, unlinked at once (tmpfs or ramfs, checked) (default: /dev/shm)",
    );
  }
  return command;
}

/**
 * The sealed choice, or undefined without `--sealed-model`.
 *
 * @throws CliError `bad-argument` (a flag without the others, a bad URL or id), `file-not-found`.
 */
export function sealedChoice(
  flags: SealedFlags,
  plaintextFlags: Readonly<Record<string, unknown>>,
): SealedChoice | undefined {
  if (flags.sealedModel === undefined) {
    if (flags.custodian !== undefined || flags.deployment !== undefined || flags.plaintextDir !== undefined) {
      throw new CliError("bad-argument", "--custodian, --deployment and --plaintext-dir go with --sealed-model");
    }
    return undefined;
  }
  const clash = Object.entries(plaintextFlags)
    .filter(([, value]) => value !== undefined)
    .map(([name]) => name);
  if (clash.length > 0) throw new CliError("bad-argument", `--sealed-model excludes ${clash.join(", ")}`);
  if (flags.custodian === undefined || flags.deployment === undefined) {
    throw new CliError("bad-argument", "--sealed-model needs --custodian URL[,URL…] and --deployment ID");
  }
  if (!DEPLOYMENT_ID.test(flags.deployment)) {
    throw new CliError("bad-argument", "--deployment must be 1–128 of A–Z a–z 0–9 . _ -");
  }
  const custodians = flags.custodian.split(",").map((u) => u.trim());
  for (const url of custodians) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      throw new CliError("bad-argument", "--custodian takes http(s) URLs, comma-separated");
    }
    if (parsed.username !== "" || parsed.password !== "") {
      throw new CliError(
        "bad-argument",
        "--custodian URLs must not carry credentials (they are measured and published)",
      );
    }
  }
  if (new Set(custodians).size !== custodians.length)
    throw new CliError("bad-argument", "--custodian names a URL twice");
  if (!statSync(flags.sealedModel, { throwIfNoEntry: false })?.isFile()) {
    throw new CliError("file-not-found", `--sealed-model: no such file: ${flags.sealedModel}`);
  }
  return {
    path: flags.sealedModel,
    custodians,
    deployment: flags.deployment,
    ...(flags.plaintextDir !== undefined ? { memoryDir: flags.plaintextDir } : {}),
  };
}
