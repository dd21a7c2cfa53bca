// `npm test`: install what is missing, build, lint, then run every package's
// tests (packages/*/dist/test) and the end-to-end tests (test/e2e/dist) with
// node's test runner. Extra arguments filter test files by substring.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ensureAll } from "./ensure-env.mjs";

ensureAll();

const lint = spawnSync("npx", ["--no-install", "biome", "check", "."], { stdio: "inherit" });
if (lint.status !== 0) process.exit(lint.status ?? 1);

function testFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = path.join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (entry.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...readdirSync("packages").map((pkg) => path.join("packages", pkg, "dist", "test")), "test/e2e/dist"]
  .filter((dir) => {
    try {
      return statSync(dir).isDirectory();
    } catch {
      return false;
    }
  })
  .flatMap(testFiles)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
