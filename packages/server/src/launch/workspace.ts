/**
 * The code bundle measures `packages/<name>/`, but the process imports
 * `@veritee/<name>`, which Node resolves through `node_modules`: for each
 * directory from the importing module up to the file-system root, the first
 * `node_modules/@veritee/<name>` that exists is the package (Node.js
 * "Modules: Packages", PACKAGE_RESOLVE; the same walk as CommonJS's
 * NODE_MODULES_PATHS). A workspace install makes it a symbolic link to
 * `packages/<name>`. Were it a link elsewhere, or a directory planted in
 * `packages/<importer>/node_modules`, the process would run code the manifest
 * never lists. So a launch checks that every workspace import resolves into
 * the measured tree.
 *
 * Directories below `dist/` (a `node_modules` inside it) are inside the code
 * bundle already: their files are measured, their links refused.
 */
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { LaunchError } from "./errors.js";

/** The scope of the workspace packages. */
const SCOPE = "@veritee";

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Where Node finds `@veritee/<name>` for a module under `fromDir`: the first
 * existing `node_modules/@veritee/<name>` walking up, or undefined.
 */
export async function workspacePackageDirectory(fromDir: string, name: string): Promise<string | undefined> {
  let dir = path.resolve(fromDir);
  for (;;) {
    if (path.basename(dir) !== "node_modules") {
      const candidate = path.join(dir, "node_modules", SCOPE, name);
      if (await isDirectory(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Check that each of `packages` resolves, from each of them, to the measured
 * `packages/<name>` under `root`, wherever it resolves at all.
 *
 * @throws LaunchError `measurement-failed` naming the importer and the
 *   package that resolves elsewhere.
 */
export async function assertWorkspaceResolvesToBundle(root: string, packages: readonly string[]): Promise<void> {
  const absRoot = await realpath(path.resolve(root)).catch((cause: unknown) => {
    throw new LaunchError("measurement-failed", "cannot resolve the code root", { cause });
  });
  for (const importer of packages) {
    const from = path.join(absRoot, "packages", importer);
    for (const name of packages) {
      if (name === importer) continue;
      const found = await workspacePackageDirectory(from, name);
      // Not resolvable at all: then it cannot be imported either.
      if (found === undefined) continue;
      const actual = await realpath(found).catch(() => undefined);
      if (actual !== path.join(absRoot, "packages", name)) {
        throw new LaunchError(
          "measurement-failed",
          `packages/${importer} resolves ${SCOPE}/${name} to ${path.relative(absRoot, found)}, ` +
            `which is not packages/${name}: its code would run unmeasured`,
        );
      }
    }
  }
}
