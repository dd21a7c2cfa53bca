/**
 * Decoding of the `attest.Attestation` protobuf message of google/go-tpm-tools
 * (proto/attest.proto, proto/tpm.proto), which a Google Compute Engine
 * Shielded/Confidential VM's agent produces. Decoding only: nothing here is
 * verified (see `verify.ts`).
 *
 * The schema is mapped by hand onto the wire format (protobuf encoding guide,
 * "Message Structure") with `@bufbuild/protobuf`'s `BinaryReader`. Stricter
 * than protobuf itself, since every byte is evidence: a known field with the
 * wrong wire type, a repeated singular field, an unknown field number, a
 * duplicate map key or an out-of-range value is a `MalformedError`.
 */
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { digestSize, type HashAlg, MalformedError } from "@veritee/core";

/** `attest.GCEInstanceInfo`: which VM this is, as the VM itself claims (not attested by the TPM). */
export interface GceInstanceInfo {
  readonly zone: string;
  readonly projectId: string;
  readonly projectNumber: bigint;
  readonly instanceName: string;
  readonly instanceId: bigint;
}

/** `tpm.PCRs`: the values of one PCR bank. */
export interface GcePcrs {
  readonly hash: HashAlg;
  /** PCR index → value (each `digestSize(hash)` bytes). */
  readonly values: ReadonlyMap<number, Uint8Array>;
}

/** `tpm.Quote`: one TPM2_Quote over one bank. */
export interface GceQuote {
  /** The TPMS_ATTEST bytes as the TPM signed them. */
  readonly quote: Uint8Array;
  /** The TPMT_SIGNATURE bytes. */
  readonly rawSig: Uint8Array;
  /** The claimed values of the quoted bank, if present. */
  readonly pcrs: GcePcrs | undefined;
}

/** The TEE report of a Confidential VM (`tee_attestation` oneof), kept as bytes: not decoded here. */
export interface GceTeeAttestation {
  readonly kind: "sev-snp" | "tdx";
  /** The serialized `sevsnp.Attestation` or `tdx.QuoteV4` message. */
  readonly message: Uint8Array;
}

/** A decoded, unverified `attest.Attestation`. */
export interface GceAttestation {
  /** The AK's public area, a TPMT_PUBLIC (no TPM2B size prefix). */
  readonly akPub: Uint8Array;
  /** Quotes over the supported PCR banks. */
  readonly quotes: readonly GceQuote[];
  /** The raw TCG event log (SHA-1 or crypto-agile format). */
  readonly eventLog: Uint8Array;
  readonly instanceInfo: GceInstanceInfo | undefined;
  /** A TCG canonical event log, if sent; not used by the verifier. */
  readonly canonicalEventLog: Uint8Array | undefined;
  /** The AK certificate (DER), if sent. */
  readonly akCert: Uint8Array | undefined;
  /** Intermediate CA certificates (DER) for the AK certificate. */
  readonly intermediateCerts: readonly Uint8Array[];
  readonly teeAttestation: GceTeeAttestation | undefined;
}

/** Bounds that keep a hostile message from costing more than a real one could. */
export const GCE_ATTESTATION_LIMITS = {
  /** Whole message; real ones are tens of KiB, dominated by the event log. */
  maxMessageBytes: 32 * 1024 * 1024,
  maxQuotes: 8,
  maxIntermediateCerts: 16,
  /** PCR indices are below 32 (TPM2B PCR selections are at most 4 bytes, Part 2 §10.6.2). */
  maxPcrIndex: 31,
} as const;

/** `tpm.HashAlgo` values: TPM_ALG_IDs (TCG Algorithm Registry), of which these hashes are supported. */
const HASH_ALGO: ReadonlyMap<number, HashAlg> = new Map([
  [0x0004, "sha1"],
  [0x000b, "sha256"],
  [0x000c, "sha384"],
  [0x000d, "sha512"],
]);

const WIRE_NAMES: Readonly<Record<number, string>> = {
  [WireType.Varint]: "varint",
  [WireType.Bit64]: "64-bit",
  [WireType.LengthDelimited]: "length-delimited",
  [WireType.StartGroup]: "group",
  [WireType.EndGroup]: "group end",
  [WireType.Bit32]: "32-bit",
};

/**
 * A strict cursor over one message's fields. Every read is bounds-checked and
 * any error from the underlying reader becomes a `MalformedError` naming the
 * message; byte fields are copied.
 */
class PbMessage {
  private readonly r: BinaryReader;
  private readonly seen = new Set<number>();

  constructor(
    bytes: Uint8Array,
    readonly what: string,
  ) {
    this.r = new BinaryReader(bytes);
  }

  private guard<T>(field: string, read: () => T): T {
    let value: T;
    try {
      value = read();
    } catch (cause) {
      if (cause instanceof MalformedError) throw cause;
      throw new MalformedError("truncated", `${this.what}.${field}`, "bad protobuf encoding", { cause });
    }
    if (this.r.pos > this.r.len) throw new MalformedError("truncated", `${this.what}.${field}`, "runs past the end");
    return value;
  }

  /** The next field's number and wire type, or undefined at the end of the message. */
  next(): { field: number; wire: WireType } | undefined {
    if (this.r.pos >= this.r.len) return undefined;
    const [field, wire] = this.guard("tag", () => this.r.tag());
    return { field, wire };
  }

  /**
   * Require the wire type a field's schema gives it, and, for a singular
   * field, that it appears once. (Protobuf lets the last of repeated singular
   * fields win; evidence with two different AKs is refused instead.)
   */
  expect(field: { field: number; wire: WireType }, name: string, wire: WireType, singular: boolean): void {
    if (field.wire !== wire) {
      throw new MalformedError(
        "bad-value",
        `${this.what}.${name}`,
        `wire type ${WIRE_NAMES[field.wire] ?? field.wire}, expected ${WIRE_NAMES[wire]}`,
      );
    }
    if (singular) {
      if (this.seen.has(field.field)) throw new MalformedError("bad-value", `${this.what}.${name}`, "appears twice");
      this.seen.add(field.field);
    }
  }

  bytes(name: string): Uint8Array {
    return this.guard(name, () => this.r.bytes()).slice();
  }

  string(name: string): string {
    const raw = this.bytes(name);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch (cause) {
      throw new MalformedError("bad-value", `${this.what}.${name}`, "invalid UTF-8", { cause });
    }
  }

  uint32(name: string): number {
    return this.guard(name, () => this.r.uint32());
  }

  uint64(name: string): bigint {
    return BigInt(this.guard(name, () => this.r.uint64()));
  }

  unknown(field: { field: number }): never {
    throw new MalformedError("unsupported", `${this.what}.field${field.field}`, "unknown field");
  }
}

function decodeInstanceInfo(bytes: Uint8Array): GceInstanceInfo {
  const m = new PbMessage(bytes, "GCEInstanceInfo");
  let zone = "";
  let projectId = "";
  let projectNumber = 0n;
  let instanceName = "";
  let instanceId = 0n;
  for (let f = m.next(); f; f = m.next()) {
    switch (f.field) {
      case 1:
        m.expect(f, "zone", WireType.LengthDelimited, true);
        zone = m.string("zone");
        break;
      case 2:
        m.expect(f, "project_id", WireType.LengthDelimited, true);
        projectId = m.string("project_id");
        break;
      case 3:
        m.expect(f, "project_number", WireType.Varint, true);
        projectNumber = m.uint64("project_number");
        break;
      case 4:
        m.expect(f, "instance_name", WireType.LengthDelimited, true);
        instanceName = m.string("instance_name");
        break;
      case 5:
        m.expect(f, "instance_id", WireType.Varint, true);
        instanceId = m.uint64("instance_id");
        break;
      default:
        m.unknown(f);
    }
  }
  return { zone, projectId, projectNumber, instanceName, instanceId };
}

/** One `map<uint32, bytes>` entry: key field 1, value field 2 (either may be omitted as default). */
function decodePcrEntry(bytes: Uint8Array): { index: number; value: Uint8Array } {
  const m = new PbMessage(bytes, "PCRs.pcrs");
  let index = 0;
  let value: Uint8Array = new Uint8Array(0);
  for (let f = m.next(); f; f = m.next()) {
    switch (f.field) {
      case 1:
        m.expect(f, "key", WireType.Varint, true);
        index = m.uint32("key");
        break;
      case 2:
        m.expect(f, "value", WireType.LengthDelimited, true);
        value = m.bytes("value");
        break;
      default:
        m.unknown(f);
    }
  }
  return { index, value };
}

function decodePcrs(bytes: Uint8Array): GcePcrs {
  const m = new PbMessage(bytes, "PCRs");
  let hashId = 0;
  const entries: { index: number; value: Uint8Array }[] = [];
  for (let f = m.next(); f; f = m.next()) {
    switch (f.field) {
      case 1:
        m.expect(f, "hash", WireType.Varint, true);
        hashId = m.uint32("hash");
        break;
      case 2:
        m.expect(f, "pcrs", WireType.LengthDelimited, false);
        if (entries.length > GCE_ATTESTATION_LIMITS.maxPcrIndex) {
          throw new MalformedError("too-large", "PCRs.pcrs", "more entries than PCRs");
        }
        entries.push(decodePcrEntry(m.bytes("pcrs")));
        break;
      default:
        m.unknown(f);
    }
  }
  // HASH_INVALID (0) is also what an absent field decodes to.
  const hash = HASH_ALGO.get(hashId);
  if (!hash) throw new MalformedError("unsupported", "PCRs.hash", "not a supported hash algorithm");
  const values = new Map<number, Uint8Array>();
  for (const { index, value } of entries) {
    if (index > GCE_ATTESTATION_LIMITS.maxPcrIndex) throw new MalformedError("bad-value", "PCRs.pcrs.key", "PCR index");
    if (values.has(index)) throw new MalformedError("bad-value", "PCRs.pcrs.key", "duplicate PCR index");
    if (value.length !== digestSize(hash)) {
      throw new MalformedError("bad-length", "PCRs.pcrs.value", `not a ${hash} digest`);
    }
    values.set(index, value);
  }
  return { hash, values: new Map([...values].sort((a, b) => a[0] - b[0])) };
}

function decodeQuote(bytes: Uint8Array): GceQuote {
  const m = new PbMessage(bytes, "Quote");
  let quote: Uint8Array = new Uint8Array(0);
  let rawSig: Uint8Array = new Uint8Array(0);
  let pcrs: GcePcrs | undefined;
  for (let f = m.next(); f; f = m.next()) {
    switch (f.field) {
      case 1:
        m.expect(f, "quote", WireType.LengthDelimited, true);
        quote = m.bytes("quote");
        break;
      case 2:
        m.expect(f, "raw_sig", WireType.LengthDelimited, true);
        rawSig = m.bytes("raw_sig");
        break;
      case 3:
        m.expect(f, "pcrs", WireType.LengthDelimited, true);
        pcrs = decodePcrs(m.bytes("pcrs"));
        break;
      default:
        m.unknown(f);
    }
  }
  if (quote.length === 0) throw new MalformedError("bad-length", "Quote.quote", "empty");
  if (rawSig.length === 0) throw new MalformedError("bad-length", "Quote.raw_sig", "empty");
  return { quote, rawSig, pcrs };
}

/**
 * Decode a serialized `attest.Attestation` (go-tpm-tools proto/attest.proto).
 * Throws `MalformedError` for anything that is not exactly such a message with
 * an AK public area, at least one quote and an event log.
 *
 * @example
 * const att = decodeGceAttestation(readFileSync("attestation.pb"));
 * att.quotes.map((q) => q.pcrs?.hash); // ["sha1", "sha256", "sha384"]
 */
export function decodeGceAttestation(bytes: Uint8Array): GceAttestation {
  if (bytes.length > GCE_ATTESTATION_LIMITS.maxMessageBytes) {
    throw new MalformedError("too-large", "Attestation", "message too large");
  }
  const m = new PbMessage(bytes, "Attestation");
  let akPub: Uint8Array = new Uint8Array(0);
  const quotes: GceQuote[] = [];
  let eventLog: Uint8Array = new Uint8Array(0);
  let instanceInfo: GceInstanceInfo | undefined;
  let canonicalEventLog: Uint8Array | undefined;
  let akCert: Uint8Array | undefined;
  const intermediateCerts: Uint8Array[] = [];
  let teeAttestation: GceTeeAttestation | undefined;
  for (let f = m.next(); f; f = m.next()) {
    switch (f.field) {
      case 1:
        m.expect(f, "ak_pub", WireType.LengthDelimited, true);
        akPub = m.bytes("ak_pub");
        break;
      case 2:
        m.expect(f, "quotes", WireType.LengthDelimited, false);
        if (quotes.length >= GCE_ATTESTATION_LIMITS.maxQuotes) {
          throw new MalformedError("too-large", "Attestation.quotes", "too many quotes");
        }
        quotes.push(decodeQuote(m.bytes("quotes")));
        break;
      case 3:
        m.expect(f, "event_log", WireType.LengthDelimited, true);
        eventLog = m.bytes("event_log");
        break;
      case 4:
        m.expect(f, "instance_info", WireType.LengthDelimited, true);
        instanceInfo = decodeInstanceInfo(m.bytes("instance_info"));
        break;
      case 5:
        m.expect(f, "canonical_event_log", WireType.LengthDelimited, true);
        canonicalEventLog = m.bytes("canonical_event_log");
        break;
      case 6:
        m.expect(f, "ak_cert", WireType.LengthDelimited, true);
        akCert = m.bytes("ak_cert");
        break;
      case 7:
        m.expect(f, "intermediate_certs", WireType.LengthDelimited, false);
        if (intermediateCerts.length >= GCE_ATTESTATION_LIMITS.maxIntermediateCerts) {
          throw new MalformedError("too-large", "Attestation.intermediate_certs", "too many certificates");
        }
        intermediateCerts.push(m.bytes("intermediate_certs"));
        break;
      case 8:
      case 9: {
        // The oneof tee_attestation: at most one of sev_snp_attestation (8) and tdx_attestation (9).
        const kind = f.field === 8 ? "sev-snp" : "tdx";
        m.expect(f, kind === "sev-snp" ? "sev_snp_attestation" : "tdx_attestation", WireType.LengthDelimited, true);
        if (teeAttestation) throw new MalformedError("bad-value", "Attestation.tee_attestation", "two TEE reports");
        teeAttestation = { kind, message: m.bytes("tee_attestation") };
        break;
      }
      default:
        m.unknown(f);
    }
  }
  if (akPub.length === 0) throw new MalformedError("bad-length", "Attestation.ak_pub", "missing");
  if (quotes.length === 0) throw new MalformedError("bad-length", "Attestation.quotes", "no quote");
  if (eventLog.length === 0) throw new MalformedError("bad-length", "Attestation.event_log", "missing");
  return {
    akPub,
    quotes,
    eventLog,
    instanceInfo,
    canonicalEventLog,
    akCert: akCert && akCert.length > 0 ? akCert : undefined,
    intermediateCerts,
    teeAttestation,
  };
}
