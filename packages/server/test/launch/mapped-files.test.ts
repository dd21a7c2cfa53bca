/**
 * What runs is what is measured: engine libraries are hashed from the file
 * the process mapped (device and inode from /proc/self/maps), and the model
 * from the descriptor opened before the engine loaded it. A real llama.cpp
 * addon is loaded with process.dlopen from a copy, then its file is replaced
 * on disk the ways an attacker would (rename over it; rename over it while
 * a hard link keeps the old inode; delete it): every one is a typed refusal.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync } from "node:fs";
import { appendFile, link, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { sharedPath } from "@veritee/testkit";
import fc from "fast-check";
import { engineFileMappings } from "../../src/engine/native.js";
import {
  assertEngineMappingsPinned,
  assertPinnedFileLoaded,
  closeEngineFiles,
  type FileMapping,
  identityOf,
  LaunchError,
  mappedEngineBinaryInputs,
  measureEngineBinaries,
  measureModel,
  measureRuntime,
  openMappedFile,
  type PinnedEngineFile,
  parseProcMaps,
  pinEngineFiles,
  pinFile,
  readProcMaps,
} from "../../src/index.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const launchError = (code: string) => (e: unknown) => e instanceof LaunchError && e.code === code;

const PREBUILT = path.resolve("node_modules/@node-llama-cpp/linux-x64/bins/linux-x64");
const haveAddon = process.platform === "linux" && existsSync(path.join(PREBUILT, "llama-addon.node"));

let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-mapped-"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("parseProcMaps", () => {
  test("file mappings with device, inode, map_files range; pseudo and anonymous mappings skipped", () => {
    const text = [
      "00400000-00b6f000 r--p 00000000 fe:00 260689                             /usr/bin/node",
      "7f2c1a000000-7f2c1a021000 r-xp 00001000 103:0a 18446744073709551615 /opt/a b/libfoo.so (deleted)",
      "7f2c1b000000-7f2c1b001000 rw-p 00000000 00:00 0 ",
      "7f2c1b001000-7f2c1b002000 rw-p 00000000 00:00 0",
      "7ffd5a1c0000-7ffd5a1e1000 rw-p 00000000 00:00 0                          [stack]",
      "7f2c1c000000-7f2c1c001000 r--p 00000000 08:01 77 /tmp/new\\012line.so",
      "",
    ].join("\n");
    assert.deepEqual(parseProcMaps(text), [
      { range: "400000-b6f000", major: 0xfe, minor: 0, inode: 260689n, path: "/usr/bin/node", deleted: false },
      {
        range: "7f2c1a000000-7f2c1a021000",
        major: 0x103,
        minor: 0x0a,
        inode: 18446744073709551615n,
        path: "/opt/a b/libfoo.so",
        deleted: true,
      },
      { range: "7f2c1c000000-7f2c1c001000", major: 8, minor: 1, inode: 77n, path: "/tmp/new\nline.so", deleted: false },
    ]);
  });

  test("property: formatted mappings parse back; any other text is a typed error or nothing", () => {
    const hex = (max: bigint) => fc.bigInt({ min: 0n, max }).map((n) => n.toString(16));
    const mapping = fc.record({
      start: hex((1n << 47n) - 1n),
      major: fc.integer({ min: 0, max: 0xfff }),
      minor: fc.integer({ min: 0, max: 0xfffff }),
      inode: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
      name: fc.stringMatching(/^[a-zA-Z0-9 ._-]{1,20}$/),
      deleted: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(mapping, { maxLength: 5 }), (mappings) => {
        const lines = mappings.map(
          (m) =>
            `${m.start.padStart(8, "0")}-${m.start.padStart(12, "0")} r-xp 00000000 ${m.major.toString(16).padStart(2, "0")}:${m.minor.toString(16).padStart(2, "0")} ${m.inode} /x/${m.name}${m.deleted ? " (deleted)" : ""}`,
        );
        const parsed = parseProcMaps(lines.join("\n"));
        assert.deepEqual(
          parsed.map((p) => [p.range, p.major, p.minor, p.inode, p.path, p.deleted]),
          mappings.map((m) => [
            `${BigInt(`0x${m.start}`).toString(16)}-${BigInt(`0x${m.start}`).toString(16)}`,
            m.major,
            m.minor,
            m.inode,
            `/x/${m.name}`,
            m.deleted,
          ]),
        );
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (text) => {
        try {
          for (const m of parseProcMaps(text)) assert.ok(m.path.startsWith("/"));
        } catch (error) {
          assert.ok(launchError("measurement-failed")(error), String(error));
        }
      }),
      { numRuns: 500 },
    );
  });

  test("this process: the node executable is mapped, with the device and inode stat gives", async () => {
    const mappings = await readProcMaps();
    const exe = mappings.find((m) => m.path === process.execPath);
    assert.ok(exe, "node is mapped");
    const id = await identityOf(process.execPath);
    assert.deepEqual([exe.major, exe.minor, exe.inode], [id.major, id.minor, id.inode]);
  });
});

describe("mapped engine files", { skip: haveAddon ? false : "no prebuilt llama.cpp addon" }, () => {
  let copy: string;
  let mappings: FileMapping[];
  let pins: PinnedEngineFile[];

  before(async () => {
    // A copy of the prebuilt engine in a directory named like node-llama-cpp's, loaded as the engine loads it.
    copy = path.join(dir, "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64");
    cpSync(PREBUILT, copy, { recursive: true });
    // As the server does: every engine file pinned before the engine loads.
    pins = await pinEngineFiles(path.join(dir, "node_modules"));
    process.dlopen({ exports: {} }, path.join(copy, "llama-addon.node"));
    mappings = (await engineFileMappings()).filter((m) => m.path.startsWith(copy));
  });

  after(async () => {
    await closeEngineFiles(pins);
  });

  test("pinned before loading: every mapped file is one of them, and all are measured, CPU variants included", async () => {
    assertEngineMappingsPinned(mappings, pins);
    assert.ok(
      pins.some((p) => p.name.endsWith("/libggml-cpu-zen4.so")),
      "unmapped variants are pinned too",
    );
    assert.ok(pins.length > mappings.length);
    const measured = await measureEngineBinaries(pins);
    for (const [i, m] of measured.entries()) {
      assert.equal(m.name, pins[i]!.name);
      assert.equal(m.digest, sha256(await readFile(pins[i]!.path)), m.name);
    }
    // A mapped library that was not pinned (loaded from elsewhere, or planted after pinning): refused.
    const withoutAddon = pins.filter((p) => !p.name.endsWith("llama-addon.node"));
    assert.throws(() => assertEngineMappingsPinned(mappings, withoutAddon), launchError("file-replaced"));
  });

  test("a CPU variant replaced after pinning (loaded to be scored, then unloaded): file-replaced", async () => {
    const zen4 = pins.find((p) => p.name.endsWith("/libggml-cpu-zen4.so"))!;
    const swap = path.join(copy, "zen4.tmp");
    await writeFile(swap, await readFile(zen4.path));
    await rename(swap, zen4.path);
    await assert.rejects(measureEngineBinaries([zen4]), launchError("file-replaced"));
  });

  test("the addon and its libraries are found mapped and hashed from the mapped file", async () => {
    const names = mappings.map((m) => path.basename(m.path));
    assert.ok(names.includes("llama-addon.node") && names.some((n) => n.startsWith("libllama")), names.join());
    const inputs = mappedEngineBinaryInputs(mappings, path.join(dir, "node_modules"));
    assert.ok(inputs.some((i) => i.name === "@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node"));
    const measured = await measureEngineBinaries(inputs);
    for (const [i, m] of measured.entries()) {
      assert.equal(m.digest, sha256(await readFile(inputs[i]!.path)), m.name);
    }
  });

  test("without map_files (a range the kernel does not know) the path is opened, and its inode must match", async () => {
    const addon = mappings.find((m) => m.path.endsWith("llama-addon.node"))!;
    const viaPath = await openMappedFile({ ...addon, range: "0-1" }, "addon");
    await viaPath.close();
    await assert.rejects(
      openMappedFile({ ...addon, range: "0-1", inode: addon.inode + 1n }, "addon"),
      launchError("file-replaced"),
    );
  });

  test("a library renamed over after mapping: refused, with the (deleted) mark or the inode", async () => {
    const target = path.join(copy, "libggml-base.so");
    const genuine = await readFile(target);
    // The attacker keeps the genuine bytes at the path, so a by-path hash would attest the genuine digest.
    const evil = path.join(copy, "evil.tmp");
    await writeFile(evil, genuine);
    await rename(evil, target);
    const after = (await engineFileMappings()).filter((m) => m.path.startsWith(copy));
    const base = after.find((m) => m.path === target)!;
    assert.equal(base.deleted, true);
    const inputs = mappedEngineBinaryInputs(after, path.join(dir, "node_modules"));
    await assert.rejects(measureEngineBinaries(inputs), (e: unknown) => {
      return launchError("file-replaced")(e) && (e as Error).message.includes("libggml-base.so");
    });
    // The mapping as it was before the swap (not yet marked deleted): the path's inode differs.
    const before = mappings.find((m) => m.path === target)!;
    await assert.rejects(openMappedFile(before, "libggml-base.so"), launchError("file-replaced"));
  });

  test("a library replaced while a hard link keeps the old inode alive: still refused", async () => {
    const target = path.join(copy, "libllama.v0.5.0.so");
    await link(target, path.join(copy, "kept.so"));
    const replacement = path.join(copy, "replacement.tmp");
    await writeFile(replacement, await readFile(target));
    await rename(replacement, target);
    const mapping = (await engineFileMappings()).find((m) => m.path === target)!;
    // The kernel marks the mapping by its name's dentry, not the inode's link count: (deleted) all the same.
    await assert.rejects(openMappedFile(mapping, "libllama"), launchError("file-replaced"));
    await assert.rejects(openMappedFile({ ...mapping, deleted: false }, "libllama"), launchError("file-replaced"));
  });

  test("a library deleted after mapping: refused", async () => {
    const target = path.join(copy, "libggml.v0.5.0.so");
    await rm(target);
    const mapping = (await engineFileMappings()).find((m) => m.path === target)!;
    assert.equal(mapping.deleted, true);
    await assert.rejects(openMappedFile(mapping, "libggml"), launchError("file-replaced"));
  });
});

describe("the runtime, as mapped", { skip: process.platform === "linux" ? false : "Linux only" }, () => {
  test("this node: the digest of the running executable", async () => {
    const rt = await measureRuntime();
    assert.equal(rt.digest, sha256(await readFile(process.execPath)));
  });

  test("a node binary replaced on disk after it started: file-replaced, not the new file's digest", async () => {
    const node = path.join(dir, "node");
    cpSync(process.execPath, node);
    const index = path.resolve("packages/server/dist/src/launch/index.js");
    const script = [
      `const { measureRuntime } = await import(${JSON.stringify(index)});`,
      'const { copyFileSync, renameSync } = await import("node:fs");',
      // The same bytes at the path: a by-path hash would attest the genuine digest.
      `copyFileSync(process.execPath, process.execPath + ".new");`,
      `renameSync(process.execPath + ".new", process.execPath);`,
      "try { await measureRuntime(); console.log('measured'); } catch (e) { console.log(e.code); }",
    ].join("\n");
    const r = spawnSync(node, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "file-replaced");
  });
});

describe("the model, pinned across the load", () => {
  const MODEL = sharedPath("models", "stories260K.gguf");
  let modelCopy: string;
  let genuine: Buffer;

  before(async () => {
    genuine = await readFile(MODEL);
    modelCopy = path.join(dir, "model.gguf");
  });

  test("unchanged: hashed from the pinned descriptor, equal to the file's SHA-256", async () => {
    await writeFile(modelCopy, genuine);
    const pinned = await pinFile(modelCopy, "model");
    try {
      const m = await measureModel({ id: "stories260K", path: modelCopy, pinned });
      assert.equal(m.digest, sha256(genuine));
      assert.equal(m.size, genuine.length);
    } finally {
      await pinned.close();
    }
  });

  test("swapped at its path during the load, written into, or mapped from another file: file-replaced", async () => {
    await writeFile(modelCopy, genuine);
    let pinned = await pinFile(modelCopy, "model");
    const evil = path.join(dir, "evil.gguf");
    await writeFile(evil, genuine);
    await rename(evil, modelCopy);
    await assert.rejects(measureModel({ id: "m", path: modelCopy, pinned }), launchError("file-replaced"));
    await pinned.close();

    await writeFile(modelCopy, genuine);
    pinned = await pinFile(modelCopy, "model");
    await appendFile(modelCopy, "x");
    await assert.rejects(measureModel({ id: "m", path: modelCopy, pinned }), launchError("file-replaced"));
    await pinned.close();

    await writeFile(modelCopy, genuine);
    pinned = await pinFile(modelCopy, "model");
    const id = pinned.identity;
    const mapping = (inode: bigint, deleted: boolean): FileMapping => ({
      range: "1000-2000",
      major: id.major,
      minor: id.minor,
      inode,
      path: modelCopy,
      deleted,
    });
    // The engine mapped another file at this path (swapped in for the load, swapped back since).
    await assert.rejects(
      assertPinnedFileLoaded(pinned, "model", [mapping(id.inode + 1n, false)]),
      launchError("file-replaced"),
    );
    await assert.rejects(
      assertPinnedFileLoaded(pinned, "model", [mapping(id.inode, true)]),
      launchError("file-replaced"),
    );
    await assertPinnedFileLoaded(pinned, "model", [mapping(id.inode, false)]);
    await pinned.close();
  });

  test("a model that is not a regular file is refused when pinned", async () => {
    await assert.rejects(pinFile(dir, "model"), launchError("measurement-failed"));
    await assert.rejects(pinFile(path.join(dir, "missing.gguf"), "model"), launchError("measurement-failed"));
  });
});
