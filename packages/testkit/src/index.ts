/**
 * Test support shared by every package's tests. Never imported by product code.
 */
import { existsSync } from "node:fs";
import path from "node:path";

/**
 * Absolute path of a file under the read-only `shared/` folder that sits beside
 * the repository (`../shared` from the repo root), or under `$VERITEE_SHARED`.
 * Tests read vectors and models there in place; they are never copied.
 */
export function sharedPath(...parts: string[]): string {
  const root = process.env.VERITEE_SHARED ?? findShared();
  return path.join(root, ...parts);
}

function findShared(): string {
  let dir = process.cwd();
  for (;;) {
    const candidate = path.join(dir, "..", "shared");
    if (existsSync(path.join(candidate, "vectors"))) return path.resolve(candidate);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find ../shared; set VERITEE_SHARED");
    dir = parent;
  }
}
