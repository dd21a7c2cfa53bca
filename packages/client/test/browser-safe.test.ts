/**
 * The client graph stays browser-safe and attester-free: the main entry
 * (`@veritee/client`) reaches no Node API within this package and never the
 * Node-only `./node/` folder, and no entry depends on `tpm`, `server` or
 * `custodian` code (docs/ARCHITECTURE.md: the client-side graph never
 * contains them). The dependencies' own Node use — `@veritee/core`'s crypto
 * module — is swapped by their browser builds (docs/CLIENT.md).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;
const ALLOWED = ["@veritee/core", "@veritee/evidence", "@veritee/policy", "@veritee/channel"];

function graph(entry: string): { files: Set<string>; external: Set<string> } {
  const files = new Set<string>();
  const external = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith(".")) queue.push(path.resolve(path.dirname(file), spec));
      else external.add(spec);
    }
  }
  return { files, external };
}

test("the main entry's module graph uses no Node API and only the browser-safe packages", () => {
  const { files, external } = graph(path.join(SRC, "index.js"));
  assert.ok(files.size >= 8);
  for (const file of files)
    assert.ok(!path.relative(SRC, file).startsWith("node"), `${path.relative(SRC, file)} is Node-only`);
  for (const spec of external) {
    assert.ok(!spec.startsWith("node:"), `imports ${spec}`);
    assert.ok(ALLOWED.includes(spec), `unexpected dependency ${spec}`);
  }
});

test("the Node entry adds only the channel's Node half and node:https", () => {
  const { external } = graph(path.join(SRC, "node", "index.js"));
  for (const spec of external) {
    assert.ok([...ALLOWED, "@veritee/channel/node", "node:https"].includes(spec), `unexpected dependency ${spec}`);
  }
  assert.ok(external.has("@veritee/channel/node"));
});

test("the package declares no attester-side dependency", () => {
  const pkg = JSON.parse(readFileSync(path.join(SRC, "..", "..", "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
    assert.ok(!["@veritee/tpm", "@veritee/server", "@veritee/custodian", "@veritee/cli"].includes(name), name);
  }
});
