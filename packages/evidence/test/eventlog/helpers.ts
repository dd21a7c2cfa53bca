/** Shared helpers of the event-log tests: vectors, the tpm2_eventlog oracle, error matchers. */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type MalformedCode, MalformedError } from "@veritee/core";
import { sharedPath } from "@veritee/testkit";
import { EventLogVerificationError } from "../../src/index.js";

/** The real-hardware logs in ../shared/vectors/tpm/eventlogs (see PROVENANCE.md). */
export const VECTORS = [
  "arch-linux-workstation.bin",
  "cos-85-amd-sev.bin",
  "debian-10.bin",
  "rhel8-uefi.bin",
  "ubuntu-2404-amd-sevsnp.bin",
] as const;

export function vectorPath(name: string): string {
  return sharedPath("vectors", "tpm", "eventlogs", name);
}

export function loadVector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(vectorPath(name)));
}

/** Whether tpm2-tools' tpm2_eventlog can be run here. */
export const HAVE_TPM2_EVENTLOG: boolean = spawnSync("tpm2_eventlog", ["--version"]).status === 0;

/** One event as tpm2_eventlog prints it. */
export interface ToolEvent {
  readonly pcrIndex: number;
  readonly eventType: string;
  /** Lower-case hex digests by bank name. */
  readonly digests: ReadonlyMap<string, string>;
}

/** What tpm2_eventlog (tpm2-tools 5.4) prints for a log: its events (header excluded) and replayed PCRs. */
export interface ToolOutput {
  readonly events: readonly ToolEvent[];
  /** Bank name → PCR index → lower-case hex. */
  readonly pcrs: ReadonlyMap<string, ReadonlyMap<number, string>>;
}

/**
 * Run `tpm2_eventlog FILE` and parse its YAML: events are `PCRIndex:`,
 * `EventType:` and digests (`- AlgorithmId:` then `Digest:`, or a bare
 * `Digest:` for SHA-1 records) at fixed indentation; the crypto-agile header
 * (EventNum 0, with a `SpecID:` block) is dropped; `pcrs:` ends the output
 * with `  bank:` and `    N : 0xHEX` lines.
 */
export function runTpm2Eventlog(file: string): ToolOutput {
  const text = execFileSync("tpm2_eventlog", [file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const lines = text.split("\n");
  const pcrsAt = lines.indexOf("pcrs:");
  assert.ok(pcrsAt > 0, "tpm2_eventlog printed no pcrs: section");

  const events: { pcrIndex: number; eventType: string; digests: Map<string, string>; header: boolean }[] = [];
  let alg: string | undefined;
  for (const line of lines.slice(0, pcrsAt)) {
    const start = /^(?:- | {2})PCRIndex: (\d+)$/.exec(line);
    if (start) {
      events.push({ pcrIndex: Number(start[1]), eventType: "", digests: new Map(), header: false });
      continue;
    }
    const current = events.at(-1);
    if (current === undefined) continue;
    const type = /^ {2}EventType: (\S+)$/.exec(line);
    const algorithm = /^ {2}- AlgorithmId: (\w+)$/.exec(line);
    const bankDigest = /^ {4}Digest: "([0-9a-f]+)"$/.exec(line);
    const sha1Digest = /^ {2}Digest: "([0-9a-f]+)"$/.exec(line);
    if (type) current.eventType = type[1]!;
    else if (algorithm) alg = algorithm[1];
    else if (bankDigest && alg !== undefined) {
      current.digests.set(alg, bankDigest[1]!);
      alg = undefined;
    } else if (sha1Digest) current.digests.set("sha1", sha1Digest[1]!);
    else if (/^ {2}SpecID:$/.test(line)) current.header = true;
  }

  const pcrs = new Map<string, Map<number, string>>();
  let bank: Map<number, string> | undefined;
  for (const line of lines.slice(pcrsAt + 1)) {
    const bankLine = /^ {2}(\w+):$/.exec(line);
    const pcrLine = /^ {4}(\d+)\s*: 0x([0-9a-f]+)$/.exec(line);
    if (bankLine) {
      bank = new Map();
      pcrs.set(bankLine[1]!, bank);
    } else if (pcrLine && bank !== undefined) {
      bank.set(Number(pcrLine[1]), pcrLine[2]!);
    }
  }
  return { events: events.filter((e) => !e.header), pcrs };
}

/** A predicate for assert.throws: a MalformedError, with `code` when given. */
export function malformed(code?: MalformedCode): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof MalformedError, `expected MalformedError, got ${String(e)}`);
    if (code !== undefined) assert.equal(e.code, code, e.message);
    return true;
  };
}

/** A predicate for assert.throws: an EventLogVerificationError with this code, bank and PCR. */
export function logVerificationError(
  code: EventLogVerificationError["code"],
  bank: string,
  pcrIndex?: number,
): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof EventLogVerificationError, `expected EventLogVerificationError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.bank, bank, e.message);
    assert.equal(e.pcrIndex, pcrIndex, e.message);
    if (pcrIndex !== undefined) assert.match(e.message, new RegExp(`PCR ${pcrIndex} of the ${bank} bank`));
    return true;
  };
}

/** One protobuf field (wire types 0 and 2 only, as attest.proto uses). */
interface PbField {
  readonly field: number;
  readonly value: number | Uint8Array;
}

/** A minimal protobuf reader, enough to pull the event log and PCR values out of the GCE vector. */
function pbFields(bytes: Uint8Array): PbField[] {
  const out: PbField[] = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (i < bytes.length) {
    const key = varint();
    if ((key & 7) === 0) out.push({ field: Math.floor(key / 8), value: varint() });
    else if ((key & 7) === 2) {
      const length = varint();
      out.push({ field: Math.floor(key / 8), value: bytes.subarray(i, i + length) });
      i += length;
    } else throw new Error(`wire type ${key & 7} not expected in attest.Attestation`);
  }
  return out;
}

/**
 * The event log and the quoted PCR values of the GCE vector
 * (vectors/tpm/gce/gce-cos-85-nonce9009.pb, an attest.Attestation: field 2
 * quotes { 3: pcrs { 1: hash, 2: map<uint32, bytes> } }, field 3 the event log),
 * read without checking the quotes, which the GCE verifier does.
 */
export function gceVectorEventLogAndPcrs(): {
  eventLog: Uint8Array;
  quoted: Map<string, Map<number, Uint8Array>>;
} {
  const top = pbFields(new Uint8Array(readFileSync(sharedPath("vectors", "tpm", "gce", "gce-cos-85-nonce9009.pb"))));
  const bankNames: Record<number, string> = { 4: "sha1", 11: "sha256", 12: "sha384" };
  const quoted = new Map<string, Map<number, Uint8Array>>();
  for (const quote of top.filter((f) => f.field === 2)) {
    const pcrs = pbFields(quote.value as Uint8Array).find((f) => f.field === 3)!.value as Uint8Array;
    const fields = pbFields(pcrs);
    const bank = new Map<number, Uint8Array>();
    for (const entry of fields.filter((f) => f.field === 2)) {
      const kv = pbFields(entry.value as Uint8Array);
      bank.set(kv.find((f) => f.field === 1)!.value as number, kv.find((f) => f.field === 2)!.value as Uint8Array);
    }
    quoted.set(bankNames[fields.find((f) => f.field === 1)!.value as number]!, bank);
  }
  return { eventLog: top.find((f) => f.field === 3)!.value as Uint8Array, quoted };
}
