import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CODE_BUNDLE_PACKAGES } from "../../src/launch/measure.js";

test("the code bundle covers every workspace package except the test-only testkit and test/e2e", () => {
  const root = JSON.parse(readFileSync("package.json", "utf8")) as { workspaces: string[] };
  // test/e2e holds tests and their helpers only: no server loads it, and it is never published.
  assert.ok(root.workspaces.includes("test/e2e"), "the end-to-end tests are a workspace");
  const workspace = root.workspaces
    .filter((w) => w.startsWith("packages/"))
    .map((w) => w.replace(/^packages\//, ""))
    .filter((p) => p !== "testkit");
  assert.deepEqual([...CODE_BUNDLE_PACKAGES].sort(), workspace.sort());
});
