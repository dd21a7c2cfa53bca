/**
 * Collateral for `veritee evidence verify --collateral DIR`: the directory
 * is a `directoryCollateral` source (`<dir>/<kind>/<key>`), laid out by the
 * one key scheme of `@veritee/evidence` (`COLLATERAL_KINDS`,
 * `collateralKeys`; docs/CLI.md), and read by its resolvers
 * (`resolveTdxCollateral`, `resolveTdxCrls`, `resolveSnpEndorsement`), whose
 * `CollateralError` (`collateral-missing`) is exit code 13.
 */
import { stat } from "node:fs/promises";
import type { CollateralSource } from "@veritee/evidence";
import { directoryCollateral } from "@veritee/evidence/node";
import { CliError } from "../cli-error.js";

/** A directory-backed source, after checking that the directory exists. */
export async function openCollateral(dir: string): Promise<CollateralSource> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (cause) {
    throw new CliError("file-not-found", `--collateral: no such directory: ${dir}`, { cause });
  }
  if (!isDir) throw new CliError("file-not-found", `--collateral: not a directory: ${dir}`);
  return directoryCollateral(dir);
}
