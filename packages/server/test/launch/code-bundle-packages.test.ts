import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CODE_BUNDLE_PACKAGES } from "../../src/launch/measure.js";

test("the code bundle covers every workspace package except the test-only testkit", () => {
  const root = JSON.parse(readFileSync("package.json", "utf8")) as { workspaces: string[] };
  const workspace = root.workspaces.map((w) => w.replace(/^packages\//, "")).filter((p) => p !== "testkit");
  assert.deepEqual([...CODE_BUNDLE_PACKAGES].sort(), workspace.sort());
});
