/**
 * A collateral source backed by a local directory: Node only (file I/O), so
 * it lives in `@veritee/evidence/node` and the main entry stays browser-safe.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { type CollateralSource, checkCollateralName } from "../collateral/source.js";

/**
 * A source reading `<dir>/<kind>/<key>`, e.g. `collateral/tdx-tcb-info/50806f000000`.
 * Kinds and keys are checked to be plain names (no `/`, no `..`, no leading
 * dot), so a key from evidence cannot escape `dir`. A missing file is
 * `undefined`; any other read error is thrown.
 *
 * @example
 * const source = cachedCollateral(directoryCollateral("/var/lib/veritee/collateral"), { maxEntries: 64 });
 * const tcbInfo = await source.get("tdx-tcb-info", "50806f000000");
 */
export function directoryCollateral(dir: string): CollateralSource {
  const root = path.resolve(dir);
  return Object.freeze({
    async get(kind: string, key: string): Promise<Uint8Array | undefined> {
      checkCollateralName(kind, key);
      try {
        return new Uint8Array(await readFile(path.join(root, kind, key)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
  });
}
