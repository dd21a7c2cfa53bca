/**
 * The README's layer table ("Layout", "Dependencies point downward only") is
 * enforced by Biome rules in biome.json. This test proves each kind of rule
 * bites: it writes small offending files into real package folders, lints
 * them with the pinned Biome in one run, and asserts which rule fires on which
 * file — and that the allowed edges and the Node-only entry points stay clean.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./support/paths.js";

/** The repository root (the probes are written into its package folders). */
const ROOT = REPO_ROOT;
const NODE_MODULES = "lint/correctness/noNodejsModules";
const UNDECLARED = "lint/correctness/noUndeclaredDependencies";
const RESTRICTED_IMPORT = "lint/style/noRestrictedImports";
const RESTRICTED_GLOBAL = "lint/style/noRestrictedGlobals";

interface Probe {
  /** Where the probe goes, relative to the repository root (without the file name). */
  readonly dir: string;
  readonly source: string;
  /** The rules that must fire on it; empty: the file must lint clean. */
  readonly expect: readonly string[];
}

const PROBES: Record<string, Probe> = {
  "browser-safe package imports a Node module": {
    dir: "packages/evidence/src",
    source: 'import { readFile } from "node:fs";\nexport const probe = readFile;\n',
    expect: [NODE_MODULES],
  },
  "browser-safe package's node/ entry may import a Node module": {
    dir: "packages/evidence/src/node",
    source: 'import { readFile } from "node:fs";\nexport const probe = readFile;\n',
    expect: [],
  },
  "core's Node crypto backend may import node:crypto": {
    dir: "packages/core/src",
    source: 'import { createHash } from "node:crypto";\nexport const probe = createHash;\n',
    // Only crypto-node.ts and keygen-node.ts are exempt; any other core file is not.
    expect: [NODE_MODULES],
  },
  "browser-safe package uses Buffer": {
    dir: "packages/policy/src",
    source: 'export const probe = Buffer.from("00", "hex");\n',
    expect: [RESTRICTED_GLOBAL],
  },
  "browser-safe package uses process": {
    dir: "packages/client/src",
    source: "export const probe = process.env.HOME;\n",
    expect: [RESTRICTED_GLOBAL],
  },
  "browser-safe package uses __dirname": {
    dir: "packages/core/src",
    source: "export const probe = __dirname;\n",
    expect: [RESTRICTED_GLOBAL],
  },
  "channel imports evidence": {
    dir: "packages/channel/src",
    source: 'import { decodeCertificate } from "@veritee/evidence";\nexport const probe = decodeCertificate;\n',
    // Not declared either: channel's package.json lists evidence only for tests.
    expect: [RESTRICTED_IMPORT, UNDECLARED],
  },
  "client imports tpm": {
    dir: "packages/client/src",
    source: 'import { TpmError } from "@veritee/tpm";\nexport const probe = TpmError;\n',
    expect: [RESTRICTED_IMPORT, UNDECLARED],
  },
  "client imports a server subpath": {
    dir: "packages/client/src",
    source: 'import { progressBar } from "@veritee/server/progress";\nexport const probe = progressBar;\n',
    expect: [RESTRICTED_IMPORT, UNDECLARED],
  },
  "evidence's node/ entry opens a socket": {
    dir: "packages/evidence/src/node",
    source: 'import { connect } from "node:net";\nexport const probe = connect;\n',
    expect: [RESTRICTED_IMPORT],
  },
  "core imports an upper layer": {
    dir: "packages/core/src",
    source: 'import type { Policy } from "@veritee/policy";\nexport type Probe = Policy;\n',
    expect: [RESTRICTED_IMPORT, UNDECLARED],
  },
  "server product code imports testkit": {
    dir: "packages/server/src",
    source: 'import { sharedPath } from "@veritee/testkit";\nexport const probe = sharedPath;\n',
    // testkit is only a devDependency, which product code may not use.
    expect: [RESTRICTED_IMPORT, UNDECLARED],
  },
  "server product code imports the end-to-end helpers": {
    dir: "packages/server/src",
    source: 'import { startDevServer } from "@veritee/e2e/support/dev-server";\nexport const probe = startDevServer;\n',
    expect: [RESTRICTED_IMPORT, UNDECLARED],
  },
  "the end-to-end tests import CLI code instead of running its bin": {
    dir: "test/e2e",
    source: 'import { EXIT } from "@veritee/cli";\nexport const probe = EXIT;\n',
    expect: [RESTRICTED_IMPORT],
  },
  "tpm imports a package it does not declare": {
    dir: "packages/tpm/src",
    source: 'import { Command } from "commander";\nexport const probe = Command;\n',
    expect: [UNDECLARED],
  },
  "policy imports evidence (an allowed edge)": {
    dir: "packages/policy/src",
    source: 'import { decodeCertificate } from "@veritee/evidence";\nexport const probe = decodeCertificate;\n',
    expect: [],
  },
  "cli imports server and client (allowed edges)": {
    dir: "packages/cli/src",
    source:
      'import { connect } from "@veritee/client/node";\nimport { startVeriteeServer } from "@veritee/server";\nexport const probe = [connect, startVeriteeServer];\n',
    expect: [],
  },
};

interface Diagnostic {
  readonly category: string;
  readonly location?: { readonly path?: string | { readonly file?: string } };
}

function diagnosticPath(d: Diagnostic): string | undefined {
  const p = d.location?.path;
  return typeof p === "string" ? p : p?.file;
}

test("biome.json enforces the README layer table, one probe per kind of rule", () => {
  const files = new Map<string, string>();
  let n = 0;
  try {
    for (const [name, probe] of Object.entries(PROBES)) {
      const rel = path.posix.join(probe.dir, `zz-layer-probe-${process.pid}-${n++}.ts`);
      mkdirSync(path.join(ROOT, probe.dir), { recursive: true });
      writeFileSync(path.join(ROOT, rel), probe.source);
      files.set(rel, name);
    }
    const r = spawnSync(
      "npx",
      ["--no-install", "biome", "lint", "--reporter=json", "--max-diagnostics=none", ...files.keys()],
      {
        cwd: ROOT,
        encoding: "utf8",
      },
    );
    assert.ok(r.stdout, `biome printed nothing: ${r.stderr}`);
    const report = JSON.parse(r.stdout) as { diagnostics: Diagnostic[] };
    const fired = new Map<string, Set<string>>([...files.keys()].map((f) => [f, new Set<string>()]));
    for (const d of report.diagnostics) {
      const p = diagnosticPath(d);
      if (p !== undefined) fired.get(p)?.add(d.category);
    }
    for (const [rel, name] of files) {
      assert.deepEqual([...fired.get(rel)!].sort(), [...PROBES[name]!.expect].sort(), name);
    }
    assert.notEqual(r.status, 0, "the offending probes must fail lint");
  } finally {
    for (const rel of files.keys()) rmSync(path.join(ROOT, rel), { force: true });
  }
});
