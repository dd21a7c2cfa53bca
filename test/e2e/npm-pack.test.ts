/**
 * The published packages install outside the monorepo: `npm pack` each one,
 * install the tarballs into an empty project (third-party dependencies from
 * the npm cache that `npm ci` filled, `--prefer-offline`), import every
 * export, and type-check a consumer for Node and one for browsers. Before
 * that, each package's manifest is checked: every `exports` and `bin` target
 * is in the tarball, nothing else of the repository is (no tests), versions
 * of internal dependencies are the packages' own, and `engines` says Node 20.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const REPO = path.resolve(".");
const TSC = path.join(REPO, "node_modules", "typescript", "bin", "tsc");

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  exports?: Record<string, Record<string, unknown>>;
  bin?: Record<string, string>;
  files?: string[];
  engines?: { node?: string };
  dependencies?: Record<string, string>;
}

const manifests = new Map<string, { dir: string; manifest: Manifest }>();
for (const name of readdirSync("packages")) {
  const manifest = JSON.parse(readFileSync(path.join("packages", name, "package.json"), "utf8")) as Manifest;
  if (!manifest.private) manifests.set(manifest.name, { dir: path.join(REPO, "packages", name), manifest });
}

/** The browser-safe SDK graph and the TPM client: installed and imported below (server and cli pull in llama.cpp). */
const INSTALLED = [
  "@veritee/core",
  "@veritee/evidence",
  "@veritee/policy",
  "@veritee/channel",
  "@veritee/client",
  "@veritee/tpm",
];

const tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-pack-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Every file path an `exports` entry names (all conditions, nested). */
function exportTargets(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (value === null || typeof value !== "object") return [];
  return Object.values(value).flatMap(exportTargets);
}

/** The files `npm pack` would put in each package's tarball (one npm call for all). */
async function packedFiles(names: readonly string[]): Promise<Map<string, string[]>> {
  const workspaces = names.flatMap((n) => ["-w", path.relative(REPO, manifests.get(n)!.dir)]);
  const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--silent", ...workspaces], { cwd: REPO });
  const reports = JSON.parse(stdout) as { name: string; files: { path: string }[] }[];
  return new Map(reports.map((r) => [r.name, r.files.map((f) => f.path)]));
}

test("every publishable manifest: exports and bin in the tarball, no tests, own versions, engines", async () => {
  assert.ok(manifests.size >= 8, [...manifests.keys()].join(", "));
  const packed = await packedFiles([...manifests.keys()]);
  for (const [name, { manifest }] of manifests) {
    const files = new Set(packed.get(name));
    for (const target of [...exportTargets(manifest.exports), ...Object.values(manifest.bin ?? {})]) {
      assert.ok(files.has(target.replace(/^\.\//, "")), `${name}: ${target} is not in the tarball`);
    }
    assert.ok(manifest.exports?.["."], `${name}: no "." export`);
    for (const [entry, conditions] of Object.entries(manifest.exports ?? {})) {
      assert.ok("types" in conditions, `${name}: export ${entry} has no types`);
    }
    for (const file of files) {
      assert.doesNotMatch(file, /(^|\/)test\/|\.test\.|\.tsbuildinfo$/, `${name}: ${file} is packed`);
    }
    assert.equal(manifest.engines?.node, ">=20", `${name}: engines.node`);
    for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
      const internal = manifests.get(dep);
      if (internal) assert.equal(range, internal.manifest.version, `${name} → ${dep}`);
      else assert.ok(!dep.startsWith("@veritee/"), `${name} depends on unpublished ${dep}`);
    }
  }
});

test("the SDK packages install from their tarballs into an empty project, import and type-check", {
  timeout: 240_000,
}, async () => {
  const tarballs = path.join(tmp, "tarballs");
  mkdirSync(tarballs);
  const workspaces = INSTALLED.flatMap((n) => ["-w", path.relative(REPO, manifests.get(n)!.dir)]);
  await run("npm", ["pack", "--silent", "--pack-destination", tarballs, ...workspaces], { cwd: REPO });
  const project = path.join(tmp, "consumer");
  mkdirSync(project);
  writeFileSync(
    path.join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  const packed = readdirSync(tarballs).map((f) => path.join(tarballs, f));
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--omit=optional", ...packed], {
    cwd: project,
  });

  // Every export of every installed package loads in plain Node, outside the workspace.
  const specifiers = INSTALLED.flatMap((name) =>
    Object.keys(manifests.get(name)!.manifest.exports ?? {}).map((entry) =>
      entry === "." ? name : `${name}/${entry.slice(2)}`,
    ),
  );
  const script = `for (const s of ${JSON.stringify(specifiers)}) { const m = await import(s); if (Object.keys(m).length === 0) throw new Error(s + " exports nothing"); }`;
  await run(process.execPath, ["--input-type=module", "-e", script], { cwd: project });

  // A Node consumer (with @types/node, from this repository) and a browser one (the "browser" condition, no Node types).
  writeFileSync(
    path.join(project, "node.ts"),
    `import { connect } from "@veritee/client/node";
import { parsePolicyJson } from "@veritee/policy";
import { verifyAttestationDocument } from "@veritee/evidence";
import { directoryCollateral } from "@veritee/evidence/node";
import { createAttestedCertificate } from "@veritee/channel/node";
import { MalformedError, type ErrorKind } from "@veritee/core";
import { TpmClient } from "@veritee/tpm";
const kind: ErrorKind = new MalformedError("truncated", "x").kind;
export const used = [connect, parsePolicyJson, verifyAttestationDocument, directoryCollateral, createAttestedCertificate, TpmClient, kind];
`,
  );
  writeFileSync(
    path.join(project, "browser.ts"),
    `import { connect, ClientError } from "@veritee/client";
import { evaluate } from "@veritee/policy";
import { ChannelError } from "@veritee/channel";
import { CRYPTO_BACKEND, hash } from "@veritee/core";
const web: "web" | "node" = CRYPTO_BACKEND;
export const used = [connect, ClientError, evaluate, ChannelError, hash, web];
`,
  );
  const strict = { strict: true, target: "es2022", noEmit: true, skipLibCheck: false };
  writeFileSync(
    path.join(project, "tsconfig.node.json"),
    JSON.stringify({
      compilerOptions: {
        ...strict,
        module: "nodenext",
        moduleResolution: "nodenext",
        types: ["node"],
        typeRoots: [path.join(REPO, "node_modules", "@types")],
      },
      files: ["node.ts"],
    }),
  );
  writeFileSync(
    path.join(project, "tsconfig.browser.json"),
    JSON.stringify({
      compilerOptions: {
        ...strict,
        module: "esnext",
        moduleResolution: "bundler",
        customConditions: ["browser"],
        lib: ["es2022", "dom"],
        types: [],
      },
      files: ["browser.ts"],
    }),
  );
  for (const config of ["tsconfig.node.json", "tsconfig.browser.json"]) {
    const r = await run(process.execPath, [TSC, "-p", config], { cwd: project }).catch((e: { stdout: string }) => e);
    assert.equal("code" in r ? (r as { code: number }).code : 0, 0, `${config}: ${(r as { stdout: string }).stdout}`);
  }
});
