import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type CollateralSource, cachedCollateral } from "../../src/collateral/source.js";
import { directoryCollateral } from "../../src/node/directory-collateral.js";

describe("collateral sources", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "veritee-collateral-"));
    await mkdir(path.join(dir, "tdx-tcb-info"));
    await writeFile(path.join(dir, "tdx-tcb-info", "50806f000000"), "tcb");
    await writeFile(path.join(dir, "secret"), "outside");
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it("reads <dir>/<kind>/<key>; a missing item is undefined", async () => {
    const s = directoryCollateral(dir);
    assert.equal(new TextDecoder().decode(await s.get("tdx-tcb-info", "50806f000000")), "tcb");
    assert.equal(await s.get("tdx-tcb-info", "00906ed50000"), undefined);
    assert.equal(await s.get("pck-crl", "platform"), undefined);
  });
  it("refuses kinds and keys that could leave the directory", async () => {
    const s = directoryCollateral(dir);
    for (const [kind, key] of [
      ["tdx-tcb-info", "../secret"],
      ["..", "secret"],
      ["tdx-tcb-info", ".."],
      ["tdx-tcb-info", "a/b"],
      ["Upper", "x"],
      ["tdx-tcb-info", ""],
    ] as const) {
      await assert.rejects(s.get(kind, key), TypeError);
    }
  });
  it("the cache fetches once, shares concurrent fetches, evicts the least recently used, and hands out copies", async () => {
    let calls = 0;
    const inner: CollateralSource = {
      async get(_kind, key) {
        calls++;
        return key === "none" ? undefined : new TextEncoder().encode(key);
      },
    };
    const c = cachedCollateral(inner, { maxEntries: 2 });
    const [a, b] = await Promise.all([c.get("k", "a"), c.get("k", "a")]);
    assert.equal(calls, 1);
    a![0] = 0;
    assert.equal(new TextDecoder().decode(b), "a");
    assert.equal(new TextDecoder().decode(await c.get("k", "a")), "a");
    await c.get("k", "b");
    await c.get("k", "a");
    await c.get("k", "c"); // evicts b, the least recently used
    assert.equal(c.size, 2);
    const before = calls;
    await c.get("k", "a");
    assert.equal(calls, before);
    await c.get("k", "b");
    assert.equal(calls, before + 1);
    assert.equal(await c.get("k", "none"), undefined);
    assert.equal(await c.get("k", "none"), undefined);
    assert.equal(calls, before + 3, "misses are not cached");
    assert.throws(() => cachedCollateral(inner, { maxEntries: 0 }), RangeError);
  });
  it("a failed fetch is not cached", async () => {
    let fail = true;
    const c = cachedCollateral(
      {
        async get() {
          if (fail) throw new Error("io");
          return Uint8Array.of(1);
        },
      },
      { maxEntries: 4 },
    );
    await assert.rejects(c.get("k", "x"), /io/);
    fail = false;
    assert.deepEqual(await c.get("k", "x"), Uint8Array.of(1));
  });
});
