/**
 * The SEV-SNP certificate table a host hands its guest with an extended
 * report (GHCB specification 2.0 §4.1.8.1, "SNP Extended Guest Request"; the
 * configfs-tsm `auxblob` of provider `sev_guest`):
 *
 *     entry × n   { GUID (16 bytes, RFC 9562 byte order) ‖ offset (u32 LE) ‖ length (u32 LE) }
 *     terminator  24 zero bytes
 *     data        the certificates (DER), at offset/length from the start of the table
 *
 * The certificates are evidence inputs, not trusted: the client verifies the
 * VCEK chain to AMD's root itself. Decoding is strict so that a malformed
 * table is reported instead of passing odd bytes on.
 */
import { ByteReader, MalformedError, toHex } from "@veritee/core";

/** Certificate GUIDs the GHCB specification assigns (Table 9 of GHCB 2.0). */
export const SNP_CERT_GUID = Object.freeze({
  vcek: "63da758d-e664-4564-adc5-f4b93be8accd",
  vlek: "a8074bc2-a25a-483e-aae6-39c045a0b8a1",
  ask: "4ab7b379-bbac-4fe4-a02f-05aef327c782",
  ark: "c0b406a4-a803-4952-9743-3fb6014cd0ae",
});

/** A decoded certificate table. */
export interface SnpCertTable {
  /** Certificates by role where the GUID is a known one. */
  readonly vcek?: Uint8Array;
  readonly vlek?: Uint8Array;
  readonly ask?: Uint8Array;
  readonly ark?: Uint8Array;
  /** Every entry, known or not, by GUID (lower-case text form), in table order. */
  readonly entries: ReadonlyMap<string, Uint8Array>;
}

const ENTRY_SIZE = 24;
/** More entries than any platform has (VCEK/VLEK, ASK, ARK, a few vendor extras). */
const MAX_ENTRIES = 32;
/** A certificate larger than this is not one. */
const MAX_CERT_SIZE = 16 * 1024;

function guidText(bytes: Uint8Array): string {
  const h = toHex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Decode a certificate table: a terminator within {@link MAX_ENTRIES}
 * entries, every certificate inside the blob after the table, none empty,
 * none overlapping another, no GUID twice.
 *
 * @throws MalformedError naming the field.
 */
export function decodeSnpCertTable(bytes: Uint8Array): SnpCertTable {
  const r = new ByteReader(bytes, "SnpCertTable");
  const raw: { guid: string; offset: number; length: number }[] = [];
  for (;;) {
    if (raw.length > MAX_ENTRIES)
      throw new MalformedError("too-large", "SnpCertTable", `more than ${MAX_ENTRIES} entries`);
    const guid = r.bytes(16, "guid");
    const offset = r.u32le("offset");
    const length = r.u32le("length");
    if (guid.every((b) => b === 0)) {
      if (offset !== 0 || length !== 0)
        throw new MalformedError("bad-value", "SnpCertTable.terminator", "not all zero");
      break;
    }
    raw.push({ guid: guidText(guid), offset, length });
  }
  const tableEnd = (raw.length + 1) * ENTRY_SIZE;
  const entries = new Map<string, Uint8Array>();
  const spans: [number, number][] = [];
  for (const { guid, offset, length } of raw) {
    if (entries.has(guid)) throw new MalformedError("bad-value", "SnpCertTable.guid", `${guid} appears twice`);
    if (length === 0 || length > MAX_CERT_SIZE)
      throw new MalformedError("bad-length", "SnpCertTable.length", `a certificate of ${length} bytes`);
    if (offset < tableEnd || offset + length > bytes.length)
      throw new MalformedError("bad-value", "SnpCertTable.offset", "a certificate outside the data area");
    for (const [start, end] of spans) {
      if (offset < end && start < offset + length)
        throw new MalformedError("bad-value", "SnpCertTable.offset", "certificates overlap");
    }
    spans.push([offset, offset + length]);
    entries.set(guid, bytes.slice(offset, offset + length));
  }
  const pick = (guid: string) => entries.get(guid);
  const table: SnpCertTable = {
    entries,
    ...(pick(SNP_CERT_GUID.vcek) ? { vcek: pick(SNP_CERT_GUID.vcek)! } : {}),
    ...(pick(SNP_CERT_GUID.vlek) ? { vlek: pick(SNP_CERT_GUID.vlek)! } : {}),
    ...(pick(SNP_CERT_GUID.ask) ? { ask: pick(SNP_CERT_GUID.ask)! } : {}),
    ...(pick(SNP_CERT_GUID.ark) ? { ark: pick(SNP_CERT_GUID.ark)! } : {}),
  };
  return Object.freeze(table);
}

/** Encode a certificate table (the host's side; used by tests and the development provider). */
export function encodeSnpCertTable(certs: readonly { readonly guid: string; readonly der: Uint8Array }[]): Uint8Array {
  const tableSize = (certs.length + 1) * ENTRY_SIZE;
  const total = tableSize + certs.reduce((n, c) => n + c.der.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let data = tableSize;
  certs.forEach((cert, i) => {
    const hex = cert.guid.replaceAll("-", "");
    if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError("a GUID is 32 lower-case hex digits with dashes");
    for (let j = 0; j < 16; j++) out[i * ENTRY_SIZE + j] = Number.parseInt(hex.slice(j * 2, j * 2 + 2), 16);
    view.setUint32(i * ENTRY_SIZE + 16, data, true);
    view.setUint32(i * ENTRY_SIZE + 20, cert.der.length, true);
    out.set(cert.der, data);
    data += cert.der.length;
  });
  return out;
}
