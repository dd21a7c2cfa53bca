/**
 * Encoding of TCG PC Client event logs, the inverse of `decode.ts`: for
 * building logs in tests and for forging ones that break a single rule.
 * Layouts are those of the PFP (version 1.06 rev 52) §10.2.1, §10.2.2 and
 * §10.4.5.1, all integers little-endian.
 */
import { ByteWriter, digestSize, type HashAlg, tpmAlgFromHash } from "@veritee/core";
import { type EventLogFormat, SPEC_ID_SIGNATURE, type SpecIdAlgorithm, STARTUP_LOCALITY_SIGNATURE } from "./decode.js";
import { EV } from "./event-types.js";

/** One record to encode; a decoded {@link TcgEvent} is one. */
export interface EventInput {
  readonly pcrIndex: number;
  readonly eventType: number;
  /** Written in map order, then `otherDigests`; a SHA-1 log writes only the `sha1` entry. */
  readonly digests: ReadonlyMap<HashAlg, Uint8Array>;
  /** Digests by raw TPM_ALG_ID, e.g. for an algorithm the Spec ID event does not declare. */
  readonly otherDigests?: ReadonlyMap<number, Uint8Array>;
  readonly data: Uint8Array;
}

/** The Spec ID event to encode; a decoded {@link SpecIdEvent} is one. Omitted fields take the values shown. */
export interface SpecIdInput {
  /** Default 0 (client). */
  readonly platformClass?: number;
  /** Default 0. */
  readonly specVersionMinor?: number;
  /** Default 2. */
  readonly specVersionMajor?: number;
  /** Default 0. */
  readonly specErrata?: number;
  /** Default 2 (UINT64). */
  readonly uintnSize?: number;
  readonly algorithms: readonly SpecIdAlgorithm[];
  /** Default empty. */
  readonly vendorInfo?: Uint8Array;
}

/** A log to encode; a decoded {@link EventLog} is one. */
export interface EventLogInput {
  readonly format: EventLogFormat;
  /** Required for `"crypto-agile"`, ignored for `"sha1"`. */
  readonly specId?: SpecIdInput | undefined;
  /** The records after the Spec ID header (all records of a SHA-1 log). */
  readonly events: readonly EventInput[];
}

/**
 * Encode an event log. It writes exactly what it is given and checks none of
 * the rules `decodeEventLog` enforces (digest counts, algorithms, PCR
 * indices), so a test can forge a log that breaks one of them.
 *
 * @throws RangeError when the input cannot be laid out at all: a crypto-agile
 * log without a Spec ID event, or a SHA-1 log event without a 20-byte SHA-1
 * digest.
 * @example
 * const bytes = encodeEventLog({
 *   format: "crypto-agile",
 *   specId: specIdForBanks(["sha256"]),
 *   events: [{ pcrIndex: 7, eventType: EV.SEPARATOR, digests: new Map([["sha256", d]]), data: sep }],
 * });
 */
export function encodeEventLog(log: EventLogInput): Uint8Array {
  const w = new ByteWriter();
  if (log.format === "crypto-agile") {
    if (log.specId === undefined) throw new RangeError("a crypto-agile log needs a Spec ID event");
    // Record 0: a TCG_PCR_EVENT in PCR 0, EV_NO_ACTION, zero SHA-1 digest (PFP §10.4.5.1).
    writeLegacyEvent(w, 0, EV.NO_ACTION, new Uint8Array(20), encodeSpecIdEvent(log.specId));
    for (const e of log.events) {
      const other = e.otherDigests ?? new Map<number, Uint8Array>();
      w.u32le(e.pcrIndex)
        .u32le(e.eventType)
        .u32le(e.digests.size + other.size);
      for (const [alg, digest] of e.digests) w.u16le(tpmAlgFromHash(alg)).bytes(digest);
      for (const [algorithmId, digest] of other) w.u16le(algorithmId).bytes(digest);
      w.u32le(e.data.length).bytes(e.data);
    }
  } else {
    for (const e of log.events) {
      const digest = e.digests.get("sha1");
      if (digest === undefined || digest.length !== 20) throw new RangeError("a SHA-1 log event needs a SHA-1 digest");
      writeLegacyEvent(w, e.pcrIndex, e.eventType, digest, e.data);
    }
  }
  return w.finish();
}

/** A TCG_EfiSpecIdEvent (PFP §10.4.5.1), the data of a crypto-agile log's first record. */
export function encodeSpecIdEvent(specId: SpecIdInput): Uint8Array {
  const vendorInfo = specId.vendorInfo ?? new Uint8Array(0);
  if (vendorInfo.length > 0xff) throw new RangeError("vendorInfo is longer than 255 bytes");
  const w = new ByteWriter()
    .bytes(SPEC_ID_SIGNATURE)
    .u32le(specId.platformClass ?? 0)
    .u8(specId.specVersionMinor ?? 0)
    .u8(specId.specVersionMajor ?? 2)
    .u8(specId.specErrata ?? 0)
    .u8(specId.uintnSize ?? 2)
    .u32le(specId.algorithms.length);
  for (const a of specId.algorithms) w.u16le(a.algorithmId).u16le(a.digestSize);
  return w.u8(vendorInfo.length).bytes(vendorInfo).finish();
}

/** The Spec ID event of a log with one bank per hash in `banks`, in that order. */
export function specIdForBanks(banks: readonly HashAlg[]): SpecIdInput {
  return { algorithms: banks.map((h) => ({ algorithmId: tpmAlgFromHash(h), digestSize: digestSize(h) })) };
}

/**
 * The data of a StartupLocality event (PFP §10.4.5.3): "StartupLocality\0"
 * then the locality byte. Logged as EV_NO_ACTION in PCR 0, it sets PCR 0's
 * reset value to the locality TPM2_Startup came from.
 */
export function startupLocalityEventData(locality: number): Uint8Array {
  const out = new Uint8Array(STARTUP_LOCALITY_SIGNATURE.length + 1);
  out.set(STARTUP_LOCALITY_SIGNATURE);
  out[STARTUP_LOCALITY_SIGNATURE.length] = locality;
  return out;
}

/** A TCG_PCR_EVENT (PFP §10.2.1). */
function writeLegacyEvent(
  w: ByteWriter,
  pcrIndex: number,
  eventType: number,
  digest: Uint8Array,
  data: Uint8Array,
): void {
  w.u32le(pcrIndex).u32le(eventType).bytes(digest).u32le(data.length).bytes(data);
}
