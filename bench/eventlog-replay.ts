/**
 * Event-log replay throughput against two floors, on every real-hardware log
 * in ../shared:
 *  - the floor: one SHA-256 pass over the same log bytes;
 *  - the per-extend floor: as many one-shot SHA-256 calls over 64 bytes as the
 *    replay makes (PCR_new = H(PCR_old || digest) is one hash call per event
 *    and bank; each call costs Node's per-call overhead however short its input).
 */
import { readdirSync, readFileSync } from "node:fs";
import { hash } from "@veritee/core";
import { decodeEventLog, replayEventLog } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import { compare, fmt } from "./harness.js";

export async function benchEventlogReplay(): Promise<void> {
  console.log("\n## Event-log replay (SHA-256 bank) vs raw SHA-256 of the log bytes, and vs the per-extend floor");
  console.log(
    "| log | bytes | events | decode+replay µs | replay µs | SHA-256(log) µs | ratio decode+replay / SHA-256(log) | ratio replay / SHA-256(log) | ratio replay / per-extend floor | all banks µs |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  const dir = sharedPath("vectors", "tpm", "eventlogs");
  for (const name of readdirSync(dir).sort()) {
    const bytes = new Uint8Array(readFileSync(`${dir}/${name}`));
    const log = decodeEventLog(bytes);
    const bank = log.banks.includes("sha256") ? "sha256" : "sha1";
    const extends_ = log.events.filter((e) => e.eventType !== 3 /* EV_NO_ACTION */).length;
    const block = new Uint8Array(64);
    const opts = { rounds: 5, roundMs: 150 };
    const full = await compare(
      () => replayEventLog(decodeEventLog(bytes), [bank]),
      () => hash("sha256", bytes),
      opts,
    );
    const replay = await compare(
      () => replayEventLog(log, [bank]),
      () => hash("sha256", bytes),
      opts,
    );
    const perExtend = await compare(
      () => replayEventLog(log, [bank]),
      () => {
        for (let i = 0; i < extends_; i++) hash(bank, block);
      },
      opts,
    );
    const all = await compare(
      () => replayEventLog(log),
      () => hash("sha256", bytes),
      { rounds: 3, roundMs: 100 },
    );
    console.log(
      `| ${name} (${bank}) | ${bytes.length} | ${log.events.length} | ${fmt(full.subject.meanMicros)} | ${fmt(replay.subject.meanMicros)} | ${fmt(replay.baseline.meanMicros)} | ${fmt(full.ratio)}× | ${fmt(replay.ratio)}× | ${fmt(perExtend.ratio)}× | ${fmt(all.subject.meanMicros)} (${log.banks.join(",")}) |`,
    );
  }
}
