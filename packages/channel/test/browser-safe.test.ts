/**
 * The browser-safe entry (`@veritee/channel`) must not reach a Node API: its
 * module graph within this package has no `node:` import and never loads the
 * Node-only `./node/` folder. (Its dependencies' own Node use — `@veritee/core`'s
 * crypto module — is swapped by their browser builds, as docs/CHANNEL.md notes.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

function specifiers(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

test("the browser entry's module graph uses no Node API", () => {
  const seen = new Set<string>();
  const external = new Set<string>();
  const queue = [path.join(SRC, "index.js")];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    assert.ok(!path.relative(SRC, file).startsWith("node"), `${path.relative(SRC, file)} is Node-only`);
    for (const spec of specifiers(file)) {
      if (spec.startsWith(".")) queue.push(path.resolve(path.dirname(file), spec));
      else external.add(spec);
    }
  }
  assert.ok(seen.size > 5);
  for (const spec of external) {
    assert.ok(!spec.startsWith("node:"), `imports ${spec}`);
    assert.ok(
      ["@hpke/core", "@hpke/chacha20poly1305", "@hpke/dhkem-x25519", "@veritee/core"].includes(spec),
      `unexpected dependency ${spec}`,
    );
  }
});

test("the Node entry is where node:crypto lives", () => {
  const nodeIndex = path.join(SRC, "node", "backend.js");
  assert.ok(specifiers(nodeIndex).includes("node:crypto"));
});
