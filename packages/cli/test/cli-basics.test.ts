/** `--help` everywhere, and `veritee eventlog replay` on real-hardware logs. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { decodeEventLog, EV, encodeEventLog } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import { EXIT } from "../src/exit-codes.js";
import { buildProgram } from "../src/main.js";
import { veritee } from "./run-cli.js";

test("every command has --help", async () => {
  const paths: string[][] = [];
  const walk = (cmd: ReturnType<typeof buildProgram>, prefix: string[]) => {
    paths.push(prefix);
    for (const sub of cmd.commands) walk(sub, [...prefix, sub.name()]);
  };
  walk(buildProgram(), []);
  assert.ok(paths.length >= 8);
  for (const p of paths) {
    const r = await veritee(...p, "--help");
    assert.equal(r.code, 0, `${p.join(" ")} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage: veritee/);
  }
});

test("an unknown command is a usage error", async () => {
  const r = await veritee("frobnicate");
  assert.equal(r.code, EXIT.usage);
});

const LOGS = sharedPath("vectors", "tpm", "eventlogs");

test("eventlog replay --json prints every touched PCR per bank, equal to tpm2_eventlog's", async () => {
  for (const name of readdirSync(LOGS)) {
    const file = `${LOGS}/${name}`;
    const r = await veritee("eventlog", "replay", file, "--json");
    assert.equal(r.code, 0, r.stderr);
    const banks = JSON.parse(r.stdout) as Record<string, Record<string, string>>;
    const tools = spawnSync("tpm2_eventlog", [file], { encoding: "utf8", maxBuffer: 64 << 20 });
    assert.equal(tools.status, 0);
    const pcrsSection = tools.stdout.slice(tools.stdout.lastIndexOf("pcrs:"));
    for (const [bank, pcrs] of Object.entries(banks)) {
      for (const [index, value] of Object.entries(pcrs)) {
        assert.match(value, /^[0-9a-f]+$/);
        // tpm2_eventlog prints "    N  : 0x<HEX>" per PCR under each bank.
        assert.match(
          pcrsSection,
          new RegExp(`\\n {4}${index} *: 0x${value}\\n`, "i"),
          `${name} ${bank} PCR ${index} differs from tpm2_eventlog`,
        );
      }
    }
  }
});

test("eventlog replay prints text by default and rejects a truncated log (exit 10)", async () => {
  const r = await veritee("eventlog", "replay", `${LOGS}/debian-10.bin`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# sha1 event log, \d+ events\nsha1:\n {2}\s?0: [0-9a-f]{40}\n/);
  // Events whose data the digests do not bind are listed apart, marked "?".
  assert.match(
    r.stdout,
    /\nevents: \d+ measured, \d+ with data that hashes to their digests, [1-9]\d* with unverified data\n/,
  );
  assert.match(
    r.stdout,
    /\n {2}\? record \d+ PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION \(digest not derivable from the data: unverified\)\n/,
  );
  assert.match(r.stdout, /\n {2}\? record \d+ PCR 1 EV_EFI_VARIABLE_BOOT \(only VariableData hashed/);
  assert.doesNotMatch(r.stdout, /\? record \d+ PCR \d+ EV_SEPARATOR/);

  const { mkdtempSync, readFileSync, writeFileSync } = await import("node:fs");
  const tmp = mkdtempSync("/tmp/veritee-el-");
  const bytes = readFileSync(`${LOGS}/rhel8-uefi.bin`);
  writeFileSync(`${tmp}/cut.bin`, bytes.subarray(0, bytes.length - 7));
  const cut = await veritee("eventlog", "replay", `${tmp}/cut.bin`);
  assert.equal(cut.code, EXIT.malformed);
  assert.match(cut.stderr, /malformed error truncated/);

  // PCR 7's EV_SEPARATOR with its data changed, its digest kept: the replay is the same, the data check
  // fails (exit 11).
  const log = decodeEventLog(new Uint8Array(readFileSync(`${LOGS}/debian-10.bin`)));
  const events = log.events.map((e) =>
    e.eventType === EV.SEPARATOR && e.pcrIndex === 7 ? { ...e, data: Uint8Array.of(1, 0, 0, 0) } : e,
  );
  writeFileSync(`${tmp}/forged.bin`, encodeEventLog({ ...log, events }));
  const bad = await veritee("eventlog", "replay", `${tmp}/forged.bin`);
  assert.equal(bad.code, EXIT.verification, bad.stderr);
  assert.match(bad.stderr, /eventlog-data-mismatch: record \d+ \(EV_SEPARATOR, PCR 7\)/);
});
