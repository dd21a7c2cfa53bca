import { toHex } from "@veritee/core";
import { checkEventData, decodeEventLog, EV, replayEventLog } from "@veritee/evidence";
import type { Command } from "commander";
import { out, readInputFile } from "../io.js";

/** `veritee eventlog replay FILE`: replay a TCG PC Client event log to PCR values. */
export function registerEventlog(program: Command): void {
  const eventlog = program.command("eventlog").description("TCG PC Client event logs (crypto-agile and legacy SHA-1)");

  eventlog
    .command("replay")
    .description(
      "decode a raw event log (e.g. /sys/kernel/security/tpm0/binary_bios_measurements), check each event's data against its digests, and print, per bank, the replayed value of every PCR it touches and the events whose data is unverified",
    )
    .argument("<file>", "the raw binary event log")
    .option("--json", 'print {"<bank>": {"<pcr>": "<hex>"}} instead of text')
    .option("--allow-padding", "accept trailing 0x00/0xFF padding after the last event")
    .action(async (file: string, opts: { json?: boolean; allowPadding?: boolean }) => {
      const log = decodeEventLog(await readInputFile(file, "FILE"), { allowPadding: opts.allowPadding ?? false });
      const replayed = replayEventLog(log);
      // Event data the PFP says a digest hashes must match it (a VerificationError otherwise, exit 11);
      // the rest is listed as unverified: nothing unchecked is shown as checked.
      const measured = log.events.filter((e) => e.eventType !== EV.NO_ACTION);
      const unverified = measured
        .map((e) => ({ event: e, check: checkEventData(e, log.banks) }))
        .filter((c) => c.check !== "digest-matches");
      if (opts.json) {
        const banks: Record<string, Record<string, string>> = {};
        for (const [bank, pcrs] of replayed) {
          const values: Record<string, string> = {};
          for (const [index, value] of pcrs) values[String(index)] = toHex(value);
          banks[bank] = values;
        }
        out(JSON.stringify(banks, null, 2));
        return;
      }
      out(`# ${log.format} event log, ${log.events.length} events`);
      for (const [bank, pcrs] of replayed) {
        out(`${bank}:`);
        for (const [index, value] of pcrs) out(`  ${String(index).padStart(2)}: ${toHex(value)}`);
      }
      out(
        `events: ${measured.length} measured, ${measured.length - unverified.length} with data that hashes to their digests, ${unverified.length} with unverified data`,
      );
      for (const { event, check } of unverified) {
        const what =
          check === "variable-data-matches"
            ? "only VariableData hashed: variable name and GUID unverified"
            : "digest not derivable from the data: unverified";
        out(`  ? record ${event.index} PCR ${event.pcrIndex} ${event.eventTypeName} (${what})`);
      }
    });
}
