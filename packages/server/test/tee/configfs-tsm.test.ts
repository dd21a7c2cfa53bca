import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import { FakeTsm } from "@veritee/testkit/tsm";
import { readTsmReport, tsmAvailable } from "../../src/tee/configfs-tsm.js";
import { TeeError } from "../../src/tee/errors.js";

const ROOT = "/sys/kernel/config/tsm";

describe("configfs-tsm reports", () => {
  test("a report answers our report data, from an instance of our own that is removed afterwards", async () => {
    const fs = new FakeTsm(ROOT);
    const data = Uint8Array.from({ length: 64 }, (_, i) => i);
    const report = await readTsmReport(data, { fs, privlevel: 2 });
    assert.equal(report.provider, "sev_guest");
    assert.equal(report.outblob[0], 0xaa);
    assert.equal(report.outblob[1], 2);
    assert.deepEqual(report.outblob.subarray(2), data);
    assert.deepEqual(report.auxblob, Uint8Array.of(1, 2, 3));
    assert.equal(fs.dirs.size, 0, "the instance is removed");
    assert.equal(fs.removed.length, 1);
    assert.match(path.basename(fs.removed[0]!), /^veritee-[0-9a-f]{16}$/);
  });

  test("a provider without auxblob (TDX) gives undefined", async () => {
    const fs = new FakeTsm(ROOT, "tdx_guest", null);
    const report = await readTsmReport(new Uint8Array(64), { fs });
    assert.equal(report.provider, "tdx_guest");
    assert.equal(report.auxblob, undefined);
  });

  test("a concurrent writer is detected by the generation check and the read retried", async () => {
    const fs = new FakeTsm(ROOT);
    let races = 1;
    fs.onOutblobRead = (dir) => {
      if (races-- > 0) fs.dirs.get(dir)!.generation += 1;
    };
    const report = await readTsmReport(Uint8Array.of(7), { fs });
    assert.equal(report.outblob[2], 7);
  });

  test("a writer that never stops racing fails with race, and the instance is still removed", async () => {
    const fs = new FakeTsm(ROOT);
    fs.onOutblobRead = (dir) => {
      fs.dirs.get(dir)!.generation += 1;
    };
    await assert.rejects(readTsmReport(Uint8Array.of(7), { fs }), (e) => e instanceof TeeError && e.code === "race");
    assert.equal(fs.dirs.size, 0);
  });

  test("bad input is refused before touching configfs", async () => {
    const fs = new FakeTsm(ROOT);
    await assert.rejects(
      readTsmReport(new Uint8Array(65), { fs }),
      (e) => e instanceof TeeError && e.code === "bad-input",
    );
    await assert.rejects(
      readTsmReport(new Uint8Array(1), { fs, privlevel: 4 }),
      (e) => e instanceof TeeError && e.code === "bad-input",
    );
    assert.equal(fs.removed.length, 0);
  });

  test("no configfs-tsm: unavailable, and tsmAvailable says so", async () => {
    const fs = new FakeTsm("/elsewhere");
    assert.equal(await tsmAvailable(ROOT, fs), false);
    assert.equal(await tsmAvailable("/elsewhere", fs), true);
    await assert.rejects(
      readTsmReport(new Uint8Array(1), { fs }),
      (e) => e instanceof TeeError && e.code === "unavailable",
    );
    // And on this machine's real file system, which is not a confidential VM:
    assert.equal(await tsmAvailable("/nonexistent-veritee-test"), false);
  });

  test("concurrent calls are serialized, each on its own instance", async () => {
    const fs = new FakeTsm(ROOT);
    const reports = await Promise.all([1, 2, 3, 4].map((n) => readTsmReport(Uint8Array.of(n), { fs })));
    assert.deepEqual(
      reports.map((r) => r.outblob[2]),
      [1, 2, 3, 4],
    );
    assert.equal(new Set(fs.removed).size, 4);
  });
});
