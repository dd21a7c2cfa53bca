/**
 * Replay of a decoded event log into the PCR values it claims: each PCR
 * starts at its reset value and each measuring event extends it,
 * PCR_new = H(PCR_old || digest) (TPM 2.0 Part 1 §17.2 "Extend of a PCR";
 * Part 3 §22.2 TPM2_PCR_Extend), bank by bank.
 */
import { digestSize, type HashAlg, hash, MalformedError } from "@veritee/core";
import { type EventLog, PCR_COUNT } from "./decode.js";
import { EV } from "./event-types.js";

/** PCR values by bank, then by PCR index (ascending). */
export type ReplayedPcrs = ReadonlyMap<HashAlg, ReadonlyMap<number, Uint8Array>>;

/** The D-RTM PCRs 17–22, which a PC Client TPM resets to all ones rather than zeros. */
const FIRST_DRTM_PCR = 17;
const LAST_DRTM_PCR = 22;

/**
 * The value a PCR holds after TPM2_Startup(CLEAR) before anything extends it:
 * all zeros, except the D-RTM PCRs 17–22, which a PC Client TPM resets to all
 * ones until a D-RTM launch (TPM 2.0 Part 1 §17.2 lets a platform choose
 * either; the PC Client PTP chooses ones for 17–22). PCR 0's reset value can
 * instead carry a locality (see {@link EventLog.startupLocality}).
 */
export function pcrResetValue(bank: HashAlg, pcrIndex: number): Uint8Array {
  const out = new Uint8Array(digestSize(bank));
  if (pcrIndex >= FIRST_DRTM_PCR && pcrIndex <= LAST_DRTM_PCR) out.fill(0xff);
  return out;
}

/**
 * Replay `log` into the PCR values it leads to, for each bank of `banks`
 * (default: every bank the log carries). Banks the log has no digests for are
 * left out of the result; `verifyEventLogAgainstPcrs` reports them.
 *
 * Each bank lists only the PCRs the log touches: those some event extends,
 * and PCR 0 when a StartupLocality event sets its reset value, which is then
 * 0…0 || locality (PFP §10.4.5.3; 0…04 after an H-CRTM, TPM 2.0 Part 1
 * §34.3). Other PCRs start at their reset value ({@link pcrResetValue}).
 * EV_NO_ACTION events are never extended (PFP §10.4.5).
 *
 * @throws MalformedError when an event lacks a digest of the right size for a
 * replayed bank or names no PCR, which a log from `decodeEventLog` never does.
 * @example
 * const pcrs = replayEventLog(decodeEventLog(bytes), ["sha256"]);
 * toHex(pcrs.get("sha256")!.get(7)!);
 */
export function replayEventLog(log: EventLog, banks: readonly HashAlg[] = log.banks): ReplayedPcrs {
  const out = new Map<HashAlg, ReadonlyMap<number, Uint8Array>>();
  for (const bank of banks) {
    if (log.banks.includes(bank) && !out.has(bank)) out.set(bank, replayBank(log, bank));
  }
  return out;
}

/**
 * One bank. The hot path: one hash per extend, over a scratch buffer that
 * holds PCR_old || digest, reused across events; no other allocation.
 */
function replayBank(log: EventLog, bank: HashAlg): ReadonlyMap<number, Uint8Array> {
  const size = digestSize(bank);
  const values: (Uint8Array | undefined)[] = new Array(PCR_COUNT).fill(undefined);
  if (log.startupLocality !== undefined) {
    const pcr0 = new Uint8Array(size);
    pcr0[size - 1] = log.startupLocality;
    values[0] = pcr0;
  }
  const scratch = new Uint8Array(2 * size);
  const zeros = pcrResetValue(bank, 0);
  const ones = pcrResetValue(bank, FIRST_DRTM_PCR);
  for (const event of log.events) {
    if (event.eventType === EV.NO_ACTION) continue;
    const pcr = event.pcrIndex;
    const digest = event.digests.get(bank);
    if (digest === undefined || digest.length !== size || !(pcr >= 0 && pcr < PCR_COUNT)) {
      throw new MalformedError("bad-value", "TcgEvent", `record ${event.index} cannot be replayed in ${bank}`);
    }
    scratch.set(values[pcr] ?? (pcr >= FIRST_DRTM_PCR && pcr <= LAST_DRTM_PCR ? ones : zeros), 0);
    scratch.set(digest, size);
    values[pcr] = hash(bank, scratch);
  }
  const result = new Map<number, Uint8Array>();
  for (let pcr = 0; pcr < PCR_COUNT; pcr++) {
    const v = values[pcr];
    if (v !== undefined) result.set(pcr, v);
  }
  return result;
}
