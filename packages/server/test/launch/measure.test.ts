/**
 * Launch measurements are reproducible pure functions of files and
 * configuration: the same inputs give the same digests on any machine, a
 * one-byte change in any measured file changes the code-bundle digest, and
 * secrets never enter the configuration measurement.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { sharedPath } from "@veritee/testkit";
import {
  CODE_BUNDLE_PACKAGES,
  engineBinaryInputs,
  isCodeBundlePath,
  LaunchError,
  type MeasureProgress,
  measureCodeBundle,
  measureConfiguration,
  measureEngineBinaries,
  measureFile,
  measureLaunch,
  measureModel,
  measureRuntime,
  type ServerConfig,
} from "../../src/index.js";
import { IGNORED, TREE, writeTree } from "./code-tree.js";
import { SAMPLE_CONFIG, UPSTREAM } from "./sample-config.js";

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

function launchError(code: string) {
  return (e: unknown) => e instanceof LaunchError && e.code === code;
}

let dir: string;
let root: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-measure-"));
  root = path.join(dir, "release");
  await writeTree(root);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("code bundle", () => {
  test("the manifest lists exactly the runtime files, sorted, as path TAB sha256 LF", async () => {
    const m = await measureCodeBundle(root);
    const expected = Object.keys(TREE)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      .map((rel) => `${rel}\t${sha256(TREE[rel]!)}\n`)
      .join("");
    assert.equal(m.manifest, expected);
    assert.equal(m.files, Object.keys(TREE).length);
    assert.equal(m.digest, sha256(expected));
    for (const ignored of Object.keys(IGNORED)) assert.ok(!m.manifest.includes(ignored), ignored);
  });

  test("measuring twice, and measuring a copy elsewhere, gives the same digest", async () => {
    const a = await measureCodeBundle(root);
    const b = await measureCodeBundle(root);
    const copy = path.join(dir, "copy", "elsewhere");
    await writeTree(copy);
    const c = await measureCodeBundle(`${copy}/`);
    assert.equal(a.digest, b.digest);
    assert.equal(a.digest, c.digest);
    assert.equal(a.manifest, c.manifest);
  });

  test("a one-byte change in any measured file changes the digest", async () => {
    const base = (await measureCodeBundle(root)).digest;
    for (const rel of Object.keys(TREE)) {
      const file = path.join(root, ...rel.split("/"));
      const original = await readFile(file);
      const changed = Buffer.from(original);
      changed[0]! ^= 1;
      await writeFile(file, changed);
      try {
        assert.notEqual((await measureCodeBundle(root)).digest, base, rel);
      } finally {
        await writeFile(file, original);
      }
    }
    assert.equal((await measureCodeBundle(root)).digest, base);
  });

  test("a stale .js file is measured; maps, declarations and tests are not", async () => {
    const base = (await measureCodeBundle(root)).digest;
    const tree = path.join(dir, "stale");
    await writeTree(tree, { "packages/server/dist/src/old.js": "stale();" });
    assert.notEqual((await measureCodeBundle(tree)).digest, base);
    const quiet = path.join(dir, "quiet");
    await writeTree(quiet, {
      "packages/server/dist/src/new.js.map": "{}",
      "packages/server/dist/src/new.d.ts": "",
      "packages/server/dist/test/new.test.js": "",
    });
    assert.equal((await measureCodeBundle(quiet)).digest, base);
  });

  test("every file the process can load is measured: bin/, package.json and JSON or WASM under dist/", async () => {
    const base = (await measureCodeBundle(root)).digest;
    for (const [rel, content] of [
      // Node reads the nearest package.json of every module it loads: one under dist/ changes its module type.
      ["packages/server/dist/package.json", '{"type":"commonjs"}'],
      ["packages/server/dist/src/package.json", '{"imports":{"#x":"./evil.js"}}'],
      ["packages/core/dist/src/data/table.json", "[]"],
      ["packages/evidence/dist/src/parser.wasm", "\u0000asm"],
      ["packages/cli/bin/helper.mjs", "export {};"],
      ["packages/tpm/bin/tool", "#!/bin/sh"],
    ] as const) {
      const tree = path.join(dir, "loadable", rel.replaceAll("/", "_"));
      await writeTree(tree, { [rel]: content });
      const m = await measureCodeBundle(tree);
      assert.notEqual(m.digest, base, rel);
      assert.ok(m.manifest.includes(`${rel}\t${sha256(content)}\n`), rel);
    }
  });

  test("isCodeBundlePath: the rule, path by path", () => {
    for (const rel of [
      "package-lock.json",
      "packages/cli/package.json",
      "packages/cli/bin/veritee.js",
      "packages/cli/dist/src/main.js",
      "packages/cli/dist/package.json",
      "packages/core/dist/src/x/y.json",
    ]) {
      assert.equal(isCodeBundlePath(rel), true, rel);
    }
    for (const rel of [
      "package.json",
      "README.md",
      "packages/cli/src/main.ts",
      "packages/cli/dist/test/main.test.js",
      "packages/cli/dist/src/main.js.map",
      "packages/cli/dist/src/main.d.ts",
      "packages/cli/dist/tsconfig.tsbuildinfo",
      "packages/cli/tsconfig.json",
      "packages/testkit/dist/src/index.js",
      "packages/unknown/dist/src/index.js",
      "node_modules/commander/index.js",
    ]) {
      assert.equal(isCodeBundlePath(rel), false, rel);
    }
  });

  test("symbolic links, odd names and missing builds are refused", async () => {
    const linked = path.join(dir, "linked");
    await writeTree(linked);
    await symlink("/etc/hostname", path.join(linked, "packages/core/dist/src/link.js"));
    await assert.rejects(measureCodeBundle(linked), launchError("measurement-failed"));

    // The entry point as a link (to a file outside the bundle) is refused like any other.
    const linkedBin = path.join(dir, "linked-bin");
    await writeTree(linkedBin);
    await rm(path.join(linkedBin, "packages/cli/bin/veritee.js"));
    await symlink("/etc/hostname", path.join(linkedBin, "packages/cli/bin/veritee.js"));
    await assert.rejects(measureCodeBundle(linkedBin), launchError("measurement-failed"));

    const odd = path.join(dir, "odd");
    await writeTree(odd, { "packages/core/dist/src/a\tb.js": "x" });
    await assert.rejects(measureCodeBundle(odd), launchError("measurement-failed"));

    const unbuilt = path.join(dir, "unbuilt");
    await writeTree(unbuilt);
    await rm(path.join(unbuilt, "packages/cli/dist"), { recursive: true });
    await assert.rejects(measureCodeBundle(unbuilt), launchError("measurement-failed"));

    const nolock = path.join(dir, "nolock");
    await writeTree(nolock);
    await rm(path.join(nolock, "package-lock.json"));
    await assert.rejects(measureCodeBundle(nolock), launchError("measurement-failed"));
  });

  const repoRoot = process.cwd();
  const built = CODE_BUNDLE_PACKAGES.every((p) => existsSync(path.join(repoRoot, "packages", p, "dist", "src")));
  test("this repository's code bundle measures reproducibly", { skip: built ? false : "not built" }, async () => {
    const a = await measureCodeBundle(repoRoot);
    const b = await measureCodeBundle(repoRoot);
    assert.equal(a.digest, b.digest);
    assert.ok(a.manifest.includes("packages/evidence/dist/src/launch/log.js\t"));
    assert.ok(a.manifest.includes("packages/cli/bin/veritee.js\t"), "the entry point is measured");
    assert.ok(a.manifest.startsWith("package-lock.json\t"));
    assert.ok(!a.manifest.includes(".map\t") && !a.manifest.includes(".d.ts\t"));
  });
});

describe("files, models, engine binaries, runtime", () => {
  test("a file's digest is the SHA-256 of its bytes; progress reaches the total", async () => {
    const file = path.join(dir, "blob.bin");
    const data = Buffer.alloc(3 * (1 << 20) + 17, 7);
    await writeFile(file, data);
    const seen: MeasureProgress[] = [];
    const m = await measureFile(file, { what: "blob", onProgress: (p) => seen.push(p) });
    assert.equal(m.digest, sha256(data));
    assert.equal(m.size, data.length);
    assert.equal(seen.length, 4);
    assert.deepEqual(seen.at(-1), { what: "blob", done: data.length, total: data.length });
    const empty = path.join(dir, "empty.bin");
    await writeFile(empty, "");
    const progress: MeasureProgress[] = [];
    assert.equal((await measureFile(empty, { onProgress: (p) => progress.push(p) })).digest, sha256(""));
    assert.deepEqual(progress, [{ what: "empty.bin", done: 0, total: 0 }]);
  });

  test("missing files and directories are refused", async () => {
    await assert.rejects(measureFile(path.join(dir, "nope")), launchError("measurement-failed"));
    await assert.rejects(measureFile(dir), launchError("measurement-failed"));
  });

  test("the stories260K model: streamed digest equals the file's SHA-256, twice", async () => {
    const modelPath = sharedPath("models", "stories260K.gguf");
    const bytes = await readFile(modelPath);
    let last: MeasureProgress | undefined;
    const m = await measureModel({ id: "stories260K", path: modelPath }, (p) => {
      last = p;
    });
    assert.deepEqual(m, { id: "stories260K", digest: sha256(bytes), size: bytes.length });
    assert.equal(last?.done, bytes.length);
    assert.equal(last?.what, "model stories260K");
    assert.deepEqual(await measureModel({ id: "stories260K", path: modelPath }), m);
  });

  test("engine binaries keep their stable names; the runtime is this node", async () => {
    const a = path.join(dir, "libfoo.so");
    await writeFile(a, "ELF");
    const [bin] = await measureEngineBinaries([{ name: "@x/bins/libfoo.so", path: a }]);
    assert.deepEqual(bin, { name: "@x/bins/libfoo.so", digest: sha256("ELF"), size: 3 });
    const named = engineBinaryInputs([path.join(dir, "nm", "@x", "bins", "libfoo.so")], path.join(dir, "nm"));
    assert.deepEqual(named, [{ name: "@x/bins/libfoo.so", path: path.join(dir, "nm", "@x", "bins", "libfoo.so") }]);
    assert.throws(() => engineBinaryInputs([a], path.join(dir, "nm")), launchError("measurement-failed"));
    const rt = await measureRuntime();
    assert.equal(rt.name, "node");
    assert.equal(rt.version, process.version);
    assert.equal(rt.digest, sha256(await readFile(process.execPath)));
  });
});

describe("configuration", () => {
  test("secrets are removed: the API key appears nowhere and does not change the digest", () => {
    const m = measureConfiguration(SAMPLE_CONFIG);
    assert.ok(!m.canonical.includes("sk-canary-3f9a1c7e"));
    assert.ok(!m.canonical.includes("apiKey"));
    assert.equal(m.digest, sha256(m.canonical));
    const other = measureConfiguration({ ...SAMPLE_CONFIG, engine: { ...UPSTREAM, apiKey: "sk-other" } });
    assert.equal(other.digest, m.digest);
    const { apiKey: _, ...none } = UPSTREAM;
    assert.equal(measureConfiguration({ ...SAMPLE_CONFIG, engine: none }).digest, m.digest);
  });

  test("the canonical form is sorted, compact JSON; every other field is measured", () => {
    const m = measureConfiguration(SAMPLE_CONFIG);
    assert.ok(
      m.canonical.startsWith(
        '{"access":{"requireApiKey":false,"requireSealed":false},"appPcr":15,"engine":{"kind":"upstream","modelId":"llama-3-8b"',
      ),
    );
    assert.ok(!/\s/.test(m.canonical));
    assert.equal(measureConfiguration(structuredClone(SAMPLE_CONFIG)).digest, m.digest);
    assert.notEqual(measureConfiguration({ ...SAMPLE_CONFIG, port: 8444 }).digest, m.digest);
    // The access rules are measured, so a policy can demand a sealed-only, key-protected server.
    for (const access of [
      { requireSealed: true, requireApiKey: false },
      { requireSealed: false, requireApiKey: true },
    ]) {
      assert.notEqual(measureConfiguration({ ...SAMPLE_CONFIG, access }).digest, m.digest);
    }
    assert.notEqual(
      measureConfiguration({ ...SAMPLE_CONFIG, limits: { ...SAMPLE_CONFIG.limits, maxTokens: 4096 } }).digest,
      m.digest,
    );
  });

  test("credentials in the upstream URL and values JSON cannot carry are refused", () => {
    const withUser = { ...SAMPLE_CONFIG, engine: { ...SAMPLE_CONFIG.engine, url: "https://u:p@example.com/v1" } };
    assert.throws(() => measureConfiguration(withUser as ServerConfig), launchError("bad-config"));
    assert.throws(() => measureConfiguration({ ...SAMPLE_CONFIG, port: Number.NaN }), launchError("bad-config"));
    const weird = { ...SAMPLE_CONFIG, limits: { ...SAMPLE_CONFIG.limits, "0": 1 } };
    assert.throws(() => measureConfiguration(weird as ServerConfig), launchError("bad-config"));
    const fn = { ...SAMPLE_CONFIG, host: (() => "x") as unknown as string };
    assert.throws(() => measureConfiguration(fn), launchError("bad-config"));
  });
});

describe("measureLaunch", () => {
  test("measures everything; twice gives the same result", async () => {
    const addon = path.join(dir, "addon.node");
    await mkdir(path.dirname(addon), { recursive: true });
    await appendFile(addon, "addon");
    const inputs = {
      codeRoot: root,
      config: SAMPLE_CONFIG,
      models: [{ id: "stories260K", path: sharedPath("models", "stories260K.gguf") }],
      engineBinaries: [{ name: "llama-addon.node", path: addon }],
    };
    const a = await measureLaunch(inputs);
    const b = await measureLaunch(inputs);
    assert.deepEqual(a, b);
    assert.equal(a.models.length, 1);
    assert.equal(a.engineBinaries[0]!.digest, sha256("addon"));
  });
});
