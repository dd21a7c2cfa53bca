/**
 * Decoding of TCG PC Client event logs (the measured-boot log that UEFI
 * firmware hands to the OS, e.g. /sys/kernel/security/tpm0/binary_bios_measurements).
 * Section numbers are those of the TCG PC Client Platform Firmware Profile
 * (PFP), version 1.06 rev 52. Every integer in these structures is
 * little-endian (PFP §10.2: they are UEFI structures).
 *
 * Decoding checks structure only: it does not check that any digest matches
 * its event data or any PCR value. Replay (`replay.ts`) and
 * `verifyEventLogAgainstPcrs` (`verify.ts`) do that.
 */
import { ByteReader, digestSize, type HashAlg, hashAlgFromTpm, MalformedError, utf8 } from "@veritee/core";
import { EV, eventTypeName } from "./event-types.js";

/**
 * The two log formats. `"crypto-agile"`: a TCG_PCR_EVENT header carrying the
 * Spec ID event, then TCG_PCR_EVENT2 records with one digest per PCR bank
 * (PFP §10.2.2). `"sha1"`: TCG_PCR_EVENT records with one SHA-1 digest each
 * (PFP §10.2.1), as TPM 1.2 firmware and some TPM 2.0 firmware write them.
 */
export type EventLogFormat = "crypto-agile" | "sha1";

/** One entry of the Spec ID event's digest-size list (PFP §10.4.5.1, TCG_EfiSpecIdEventAlgorithmSize). */
export interface SpecIdAlgorithm {
  /** TPM_ALG_ID of the bank (TPM 2.0 Part 2 §6.3). */
  readonly algorithmId: number;
  /** Size in bytes of this bank's digests in every TCG_PCR_EVENT2. */
  readonly digestSize: number;
}

/** The TCG_EfiSpecIdEvent at the head of a crypto-agile log (PFP §10.4.5.1). */
export interface SpecIdEvent {
  /** 0 for a client platform, 1 for a server platform. */
  readonly platformClass: number;
  readonly specVersionMinor: number;
  readonly specVersionMajor: number;
  readonly specErrata: number;
  /** 1 when UINTN is 32 bits, 2 when it is 64 bits. */
  readonly uintnSize: number;
  /** The banks, in log order; every TCG_PCR_EVENT2 carries one digest for each. */
  readonly algorithms: readonly SpecIdAlgorithm[];
  readonly vendorInfo: Uint8Array;
}

/** One measurement record of the log. */
export interface TcgEvent {
  /**
   * The record's position in the log, counting from 0. In a crypto-agile log
   * record 0 is the Spec ID header, so the first event has index 1 (the same
   * numbering as tpm2_eventlog's `EventNum`).
   */
  readonly index: number;
  /** The PCR extended, or for EV_NO_ACTION a value with no PCR meaning. */
  readonly pcrIndex: number;
  /** The event type (PFP §10.4.1); see {@link EV}. */
  readonly eventType: number;
  /** The PFP name of `eventType`, e.g. `"EV_SEPARATOR"` (see {@link eventTypeName}). */
  readonly eventTypeName: string;
  /** The digest of each bank this project can hash, by bank. */
  readonly digests: ReadonlyMap<HashAlg, Uint8Array>;
  /** Digests of banks listed in the Spec ID event that this project cannot hash (e.g. SM3_256), by TPM_ALG_ID. */
  readonly otherDigests: ReadonlyMap<number, Uint8Array>;
  /** The event data (a copy). Not bound to `digests` by decoding. */
  readonly data: Uint8Array;
}

/** A decoded event log. */
export interface EventLog {
  readonly format: EventLogFormat;
  /** The Spec ID event of a crypto-agile log; undefined for a SHA-1 log. */
  readonly specId: SpecIdEvent | undefined;
  /** The banks the log can be replayed into: the hashable Spec ID algorithms, or `["sha1"]`. */
  readonly banks: readonly HashAlg[];
  /** The records after the Spec ID header, in log order. */
  readonly events: readonly TcgEvent[];
  /**
   * The locality indicator PCR 0 was reset to: the value of a StartupLocality
   * event (PFP §10.4.5.3), or 4 when an H-CRTM measured first (TPM 2.0 Part 1
   * §34.3). Undefined when the log has neither: PCR 0 then starts at zero.
   */
  readonly startupLocality: number | undefined;
  /** Bytes of 0x00 or 0xFF padding after the last record (only with `allowPadding`). */
  readonly paddingLength: number;
}

/** Options of {@link decodeEventLog}. */
export interface DecodeEventLogOptions {
  /**
   * Accept a tail of 0x00 bytes or of 0xFF bytes after the last record, as a
   * log read out of its whole ACPI log area (TCPA/TPM2 table LAML) has.
   * Default false: securityfs and the TCG2 protocol return the exact log, so
   * anything after the last record is an error.
   */
  readonly allowPadding?: boolean;
}

/** The largest event data accepted; real events are at most a few hundred KiB (a `db` variable). */
export const MAX_EVENT_DATA_SIZE = 16 * 1024 * 1024;

/**
 * PCRs per bank of a PC Client TPM (PFP §3.3.4: PCRs 0–23). Measuring events
 * must name one of them; EV_NO_ACTION events are exempt, since they are never
 * extended and some (e.g. NV-extend records) put other values there.
 */
export const PCR_COUNT = 24;

/** The most banks a Spec ID event may list: no TPM implements more than 8 hashes. */
export const MAX_SPEC_ID_ALGORITHMS = 8;

/** The largest digest of any TPM hash (SHA-512, SHA3-512). */
const MAX_DIGEST_SIZE = 64;

/** TCG_EfiSpecIDEvent.signature, NUL included (PFP §10.4.5.1). */
export const SPEC_ID_SIGNATURE: Uint8Array = utf8("Spec ID Event03\0");

/** TCG_EfiStartupLocalityEvent.Signature, NUL included (PFP §10.4.5.3). */
export const STARTUP_LOCALITY_SIGNATURE: Uint8Array = utf8("StartupLocality\0");

/** The highest TPM locality (TPM 2.0 Part 1 §31.2). */
const MAX_LOCALITY = 4;

/** A SHA-1 digest in a TCG_PCR_EVENT. */
const SHA1_SIZE = 20;

/** The reader's name: fields are named "EventLog.TCG_PCR_EVENT2.eventSize" and so on. */
const LOG = "EventLog";

const NO_OTHER_DIGESTS: ReadonlyMap<number, Uint8Array> = new Map();

/** A bank as the Spec ID event declares it, resolved for decoding. */
interface Bank {
  readonly size: number;
  readonly hashAlg: HashAlg | undefined;
  readonly position: number;
}

/**
 * Decode a raw event log, detecting its format: a first record that is an
 * EV_NO_ACTION TCG_PCR_EVENT whose data starts with "Spec ID Event03" makes it
 * crypto-agile (PFP §10.4.5.1: the Spec ID event is always first), anything
 * else makes it a SHA-1 log.
 *
 * Strict: every record must fit, event data is at most
 * {@link MAX_EVENT_DATA_SIZE}, measuring events name a PCR below
 * {@link PCR_COUNT}, each TCG_PCR_EVENT2 carries exactly one digest for each
 * bank of the Spec ID event, a StartupLocality event comes before any PCR 0
 * measurement, and nothing follows the last record (see `allowPadding`).
 * A tail of one byte value, 0x00 or 0xFF, from a record boundary on is
 * always read as padding, so a SHA-1 log cannot end with an all-zero record
 * (PCR 0, EV_PREBOOT_CERT, zero digest, no data), which no firmware writes.
 *
 * @throws MalformedError naming the record (its index) and field.
 * @example
 * const log = decodeEventLog(readFileSync("/sys/kernel/security/tpm0/binary_bios_measurements"));
 * for (const e of log.events) console.log(e.pcrIndex, e.eventTypeName);
 */
export function decodeEventLog(input: Uint8Array, options: DecodeEventLogOptions = {}): EventLog {
  // A plain view: a Node Buffer's slice() shares memory, and decoded fields must be copies.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const padStart = paddingStart(bytes);
  if (bytes.length > 0 && padStart === 0) {
    throw new MalformedError("bad-value", LOG, "only padding bytes, no record");
  }
  const r = new ByteReader(bytes, LOG);
  const state: LocalityState = { locality: undefined, pcr0Measured: false };
  const events: TcgEvent[] = [];
  let format: EventLogFormat;
  let specId: SpecIdEvent | undefined;
  let index = 0;
  try {
    // Record 0 is always a TCG_PCR_EVENT (PFP §10.2.1).
    const first = readLegacyEvent(r, 0, state, true);
    if (first.eventType === EV.NO_ACTION && startsWith(first.data, SPEC_ID_SIGNATURE)) {
      format = "crypto-agile";
      specId = checkSpecIdHeader(first);
    } else {
      format = "sha1";
      // Record 0 was read before the format was known; check it as the measurement it is.
      checkMeasurement(first.pcrIndex, first.eventType, first.data, state, F1);
      events.push(first);
    }
    const bankById = new Map<number, Bank>();
    specId?.algorithms.forEach((a, position) => {
      bankById.set(a.algorithmId, { size: a.digestSize, hashAlg: hashAlgFromTpm(a.algorithmId), position });
    });
    for (index = 1; r.remaining > 0 && r.position < padStart; index++) {
      events.push(
        format === "crypto-agile" ? readEvent2(r, index, bankById, state) : readLegacyEvent(r, index, state, false),
      );
    }
  } catch (err) {
    throw inRecord(err, index);
  }
  // Only a run of one byte value, 0x00 or 0xFF, that starts at a record boundary is left.
  const paddingLength = r.remaining;
  if (paddingLength > 0 && !options.allowPadding) {
    throw new MalformedError("trailing-data", LOG, `${paddingLength} padding bytes after record ${index - 1}`);
  }
  const banks: HashAlg[] = [];
  if (specId === undefined) banks.push("sha1");
  for (const a of specId?.algorithms ?? []) {
    const h = hashAlgFromTpm(a.algorithmId);
    if (h !== undefined) banks.push(h);
  }
  return Object.freeze({
    format,
    specId,
    banks: Object.freeze(banks),
    events: Object.freeze(events),
    startupLocality: state.locality,
    paddingLength,
  });
}

/** What the log says about PCR 0's reset value, tracked while reading. */
interface LocalityState {
  locality: number | undefined;
  pcr0Measured: boolean;
}

/** Field names, fixed strings so that reading allocates none. */
const F1 = {
  pcrIndex: "TCG_PCR_EVENT.pcrIndex",
  eventType: "TCG_PCR_EVENT.eventType",
  digest: "TCG_PCR_EVENT.digest",
  eventSize: "TCG_PCR_EVENT.eventSize",
  event: "TCG_PCR_EVENT.event",
} as const;

const F2 = {
  pcrIndex: "TCG_PCR_EVENT2.pcrIndex",
  eventType: "TCG_PCR_EVENT2.eventType",
  count: "TCG_PCR_EVENT2.digests.count",
  algorithmId: "TCG_PCR_EVENT2.digests.hashAlg",
  digest: "TCG_PCR_EVENT2.digests.digest",
  eventSize: "TCG_PCR_EVENT2.eventSize",
  event: "TCG_PCR_EVENT2.event",
} as const;

/**
 * A TCG_PCR_EVENT (PFP §10.2.1): pcrIndex, eventType, a SHA-1 digest,
 * eventSize, event. `header` marks record 0 of a log whose format is not yet
 * known, which is checked once the format is.
 */
function readLegacyEvent(r: ByteReader, index: number, state: LocalityState, header: boolean): TcgEvent {
  const pcrIndex = r.u32le(F1.pcrIndex);
  const eventType = r.u32le(F1.eventType);
  const digest = r.bytes(SHA1_SIZE, F1.digest);
  const data = readEventData(r, F1.eventSize, F1.event);
  if (!header) checkMeasurement(pcrIndex, eventType, data, state, F1);
  return makeEvent(index, pcrIndex, eventType, new Map([["sha1", digest]]), NO_OTHER_DIGESTS, data);
}

/**
 * A TCG_PCR_EVENT2 (PFP §10.2.2): pcrIndex, eventType, a TPML_DIGEST_VALUES
 * (count, then count TPMT_HA of algorithm ID and digest), eventSize, event.
 * Digest sizes come from the Spec ID event, which is what lets a parser skip
 * digests of algorithms it does not implement (PFP §10.4.5.1).
 */
function readEvent2(r: ByteReader, index: number, bankById: ReadonlyMap<number, Bank>, state: LocalityState): TcgEvent {
  const pcrIndex = r.u32le(F2.pcrIndex);
  const eventType = r.u32le(F2.eventType);
  const count = r.u32le(F2.count);
  // PFP §10.2.2: the list holds a digest for each bank the Spec ID event
  // declares; each exactly once, so every bank replays every event.
  if (count !== bankById.size) {
    throw new MalformedError(
      "bad-value",
      `${LOG}.${F2.count}`,
      `${count} digests, the Spec ID event declares ${bankById.size}`,
    );
  }
  const digests = new Map<HashAlg, Uint8Array>();
  let otherDigests: Map<number, Uint8Array> | undefined;
  let seen = 0;
  for (let i = 0; i < count; i++) {
    const algorithmId = r.u16le(F2.algorithmId);
    const bank = bankById.get(algorithmId);
    if (bank === undefined) {
      throw new MalformedError(
        "bad-value",
        `${LOG}.${F2.algorithmId}`,
        "an algorithm the Spec ID event does not declare",
      );
    }
    if (seen & (1 << bank.position)) {
      throw new MalformedError("bad-value", `${LOG}.${F2.algorithmId}`, "an algorithm listed twice");
    }
    seen |= 1 << bank.position;
    const digest = r.bytes(bank.size, F2.digest);
    if (bank.hashAlg !== undefined) {
      digests.set(bank.hashAlg, digest);
    } else {
      otherDigests ??= new Map();
      otherDigests.set(algorithmId, digest);
    }
  }
  const data = readEventData(r, F2.eventSize, F2.event);
  checkMeasurement(pcrIndex, eventType, data, state, F2);
  return makeEvent(index, pcrIndex, eventType, digests, otherDigests ?? NO_OTHER_DIGESTS, data);
}

function readEventData(r: ByteReader, sizeField: string, dataField: string): Uint8Array {
  const size = r.u32le(sizeField);
  if (size > MAX_EVENT_DATA_SIZE) {
    throw new MalformedError("too-large", `${LOG}.${sizeField}`, `${size} bytes exceeds ${MAX_EVENT_DATA_SIZE}`);
  }
  return r.bytes(size, dataField);
}

/**
 * Rules a record must follow to be replayed unambiguously: a measuring event
 * names a real PCR; a StartupLocality event (PFP §10.4.5.3) is in PCR 0, has
 * exactly its 17 bytes, names a TPM locality, appears once, and precedes every
 * PCR 0 measurement (it records PCR 0's reset value, which a later
 * measurement has already built on); an H-CRTM event (the EV_EFI_HCRTM_EVENT
 * of PFP §10.4.1) is PCR 0's first measurement, because the H-CRTM runs
 * before TPM2_Startup and resets PCR 0 to locality 4 (TPM 2.0 Part 1 §34.3).
 */
function checkMeasurement(
  pcrIndex: number,
  eventType: number,
  data: Uint8Array,
  state: LocalityState,
  f: { readonly pcrIndex: string; readonly event: string },
): void {
  if (eventType === EV.NO_ACTION) {
    if (!startsWith(data, STARTUP_LOCALITY_SIGNATURE)) return;
    if (pcrIndex !== 0)
      throw new MalformedError("bad-value", `${LOG}.${f.pcrIndex}`, "a StartupLocality event outside PCR 0");
    if (data.length !== STARTUP_LOCALITY_SIGNATURE.length + 1) {
      throw new MalformedError(
        "bad-length",
        `${LOG}.${f.event}`,
        `a StartupLocality event of ${data.length} bytes, not 17`,
      );
    }
    const locality = data[STARTUP_LOCALITY_SIGNATURE.length]!;
    if (locality > MAX_LOCALITY)
      throw new MalformedError("bad-value", `${LOG}.${f.event}`, `startup locality ${locality}`);
    if (state.locality !== undefined)
      throw new MalformedError("bad-value", `${LOG}.${f.event}`, "a second StartupLocality event");
    if (state.pcr0Measured) {
      throw new MalformedError("bad-value", `${LOG}.${f.event}`, "a StartupLocality event after a PCR 0 measurement");
    }
    state.locality = locality;
    return;
  }
  if (pcrIndex >= PCR_COUNT)
    throw new MalformedError("bad-value", `${LOG}.${f.pcrIndex}`, `PCR ${pcrIndex} does not exist`);
  if (pcrIndex !== 0) return;
  if (eventType === EV.EFI_HCRTM_EVENT) {
    if (state.pcr0Measured)
      throw new MalformedError("bad-value", `${LOG}.${f.pcrIndex}`, "an H-CRTM event after PCR 0 measurements");
    if (state.locality !== undefined && state.locality !== MAX_LOCALITY) {
      throw new MalformedError(
        "bad-value",
        `${LOG}.${f.pcrIndex}`,
        "an H-CRTM event after a StartupLocality other than 4",
      );
    }
    state.locality = MAX_LOCALITY;
  }
  state.pcr0Measured = true;
}

/**
 * Record 0 of a crypto-agile log: a TCG_PCR_EVENT in PCR 0 with a zero SHA-1
 * digest whose data is a TCG_EfiSpecIdEvent (PFP §10.4.5.1).
 */
function checkSpecIdHeader(header: TcgEvent): SpecIdEvent {
  if (header.pcrIndex !== 0)
    throw new MalformedError("bad-value", `${LOG}.${F1.pcrIndex}`, "the Spec ID event is not in PCR 0");
  if (header.digests.get("sha1")!.some((b) => b !== 0)) {
    throw new MalformedError("bad-value", `${LOG}.${F1.digest}`, "the Spec ID event's digest is not zero");
  }
  return decodeSpecIdEvent(header.data);
}

/**
 * A TCG_EfiSpecIdEvent (PFP §10.4.5.1): signature, platformClass (u32),
 * specVersionMinor, specVersionMajor, specErrata, uintnSize (u8 each),
 * numberOfAlgorithms (u32), that many {algorithmId u16, digestSize u16},
 * vendorInfoSize (u8), vendorInfo. It must fill the event data exactly.
 */
export function decodeSpecIdEvent(data: Uint8Array): SpecIdEvent {
  const r = new ByteReader(data, "TCG_EfiSpecIdEvent");
  const signature = r.borrow(SPEC_ID_SIGNATURE.length, "signature");
  if (!startsWith(signature, SPEC_ID_SIGNATURE)) {
    throw new MalformedError("bad-magic", "TCG_EfiSpecIdEvent.signature", "not Spec ID Event03");
  }
  const platformClass = r.u32le("platformClass");
  const specVersionMinor = r.u8("specVersionMinor");
  const specVersionMajor = r.u8("specVersionMajor");
  const specErrata = r.u8("specErrata");
  const uintnSize = r.u8("uintnSize");
  // PFP §10.4.5.1: this structure is version 2.0 of the format.
  if (specVersionMajor !== 2 || specVersionMinor !== 0) {
    throw new MalformedError("unsupported", "TCG_EfiSpecIdEvent.specVersion", "not 2.0");
  }
  if (uintnSize !== 1 && uintnSize !== 2) {
    throw new MalformedError("bad-value", "TCG_EfiSpecIdEvent.uintnSize", "neither 1 (UINT32) nor 2 (UINT64)");
  }
  const count = r.u32le("numberOfAlgorithms");
  if (count === 0) throw new MalformedError("bad-value", "TCG_EfiSpecIdEvent.numberOfAlgorithms", "no algorithms");
  if (count > MAX_SPEC_ID_ALGORITHMS) {
    throw new MalformedError(
      "too-large",
      "TCG_EfiSpecIdEvent.numberOfAlgorithms",
      `more than ${MAX_SPEC_ID_ALGORITHMS}`,
    );
  }
  const algorithms: SpecIdAlgorithm[] = [];
  for (let i = 0; i < count; i++) {
    const algorithmId = r.u16le("digestSizes.algorithmId");
    const size = r.u16le("digestSizes.digestSize");
    if (algorithms.some((a) => a.algorithmId === algorithmId)) {
      throw new MalformedError("bad-value", "TCG_EfiSpecIdEvent.digestSizes.algorithmId", "an algorithm listed twice");
    }
    const h = hashAlgFromTpm(algorithmId);
    if (h !== undefined ? size !== digestSize(h) : size === 0 || size > MAX_DIGEST_SIZE) {
      throw new MalformedError("bad-length", "TCG_EfiSpecIdEvent.digestSizes.digestSize", `${size} bytes`);
    }
    algorithms.push(Object.freeze({ algorithmId, digestSize: size }));
  }
  const vendorInfoSize = r.u8("vendorInfoSize");
  const vendorInfo = r.bytes(vendorInfoSize, "vendorInfo");
  r.end();
  return Object.freeze({
    platformClass,
    specVersionMinor,
    specVersionMajor,
    specErrata,
    uintnSize,
    algorithms: Object.freeze(algorithms),
    vendorInfo,
  });
}

function makeEvent(
  index: number,
  pcrIndex: number,
  eventType: number,
  digests: ReadonlyMap<HashAlg, Uint8Array>,
  otherDigests: ReadonlyMap<number, Uint8Array>,
  data: Uint8Array,
): TcgEvent {
  return Object.freeze({
    index,
    pcrIndex,
    eventType,
    eventTypeName: eventTypeName(eventType),
    digests,
    otherDigests,
    data,
  });
}

/**
 * Where a run of 0x00 (or of 0xFF) bytes that ends the buffer starts; the
 * buffer's length when it ends otherwise. A record boundary at or past this
 * point has only padding after it.
 */
function paddingStart(bytes: Uint8Array): number {
  let i = bytes.length;
  const last = bytes[i - 1];
  if (last !== 0x00 && last !== 0xff) return i;
  while (i > 0 && bytes[i - 1] === last) i--;
  return i;
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/** A MalformedError from reading record `index`, with the index added to its message. */
function inRecord(err: unknown, index: number): unknown {
  if (!(err instanceof MalformedError)) return err;
  const prefix = `${err.code}: ${err.what}: `;
  const detail = err.message.startsWith(prefix) ? `: ${err.message.slice(prefix.length)}` : "";
  return new MalformedError(err.code, err.what, `record ${index}${detail}`, { cause: err });
}
