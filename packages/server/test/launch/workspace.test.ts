/**
 * `@veritee/*` imports must resolve into the measured tree: a workspace link
 * pointing elsewhere, or a package planted in an importer's own
 * node_modules (found first by Node's walk up), is refused before measuring.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  assertWorkspaceResolvesToBundle,
  CODE_BUNDLE_PACKAGES,
  LaunchError,
  measureLaunch,
  workspacePackageDirectory,
} from "../../src/index.js";
import { writeTree } from "./code-tree.js";
import { SAMPLE_CONFIG } from "./sample-config.js";

let dir: string;
const launchError = (code: string, text: RegExp) => (e: unknown) =>
  e instanceof LaunchError && e.code === code && text.test(e.message);

/** A release tree with a workspace install: node_modules/@veritee/<name> → ../../packages/<name>. */
async function workspaceTree(name: string): Promise<string> {
  const root = path.join(dir, name);
  await writeTree(root);
  await mkdir(path.join(root, "node_modules", "@veritee"), { recursive: true });
  for (const pkg of CODE_BUNDLE_PACKAGES) {
    await symlink(path.join("..", "..", "packages", pkg), path.join(root, "node_modules", "@veritee", pkg));
  }
  return root;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-workspace-"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("workspace resolution", () => {
  test("a workspace install resolves every package into packages/", async () => {
    const root = await workspaceTree("clean");
    await assertWorkspaceResolvesToBundle(root, CODE_BUNDLE_PACKAGES);
    assert.equal(
      await workspacePackageDirectory(path.join(root, "packages", "cli"), "server"),
      path.join(root, "node_modules", "@veritee", "server"),
    );
    await measureLaunch({ codeRoot: root, config: SAMPLE_CONFIG, models: [], engineBinaries: [] });
  });

  test("a workspace link to another directory is refused, naming importer and package", async () => {
    const root = await workspaceTree("relinked");
    const evil = path.join(dir, "evil-server");
    await mkdir(evil);
    await writeFile(path.join(evil, "package.json"), '{"name":"@veritee/server"}');
    await rm(path.join(root, "node_modules", "@veritee", "server"));
    await symlink(evil, path.join(root, "node_modules", "@veritee", "server"));
    await assert.rejects(
      assertWorkspaceResolvesToBundle(root, CODE_BUNDLE_PACKAGES),
      launchError("measurement-failed", /resolves @veritee\/server .* not packages\/server/),
    );
    await assert.rejects(
      measureLaunch({ codeRoot: root, config: SAMPLE_CONFIG, models: [], engineBinaries: [] }),
      launchError("measurement-failed", /@veritee\/server/),
    );
  });

  test("a package planted in an importer's node_modules (found before the root's) is refused", async () => {
    const root = await workspaceTree("planted");
    const planted = path.join(root, "packages", "cli", "node_modules", "@veritee", "core");
    await mkdir(planted, { recursive: true });
    await writeFile(path.join(planted, "package.json"), '{"name":"@veritee/core"}');
    await assert.rejects(
      assertWorkspaceResolvesToBundle(root, CODE_BUNDLE_PACKAGES),
      launchError("measurement-failed", /packages\/cli resolves @veritee\/core to packages\/cli\/node_modules/),
    );
  });

  test("this repository's install resolves into its packages", async () => {
    await assertWorkspaceResolvesToBundle(process.cwd(), CODE_BUNDLE_PACKAGES);
  });
});
