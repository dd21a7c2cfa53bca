import { DER_TAG, type DerElement, DerReader, MalformedError, readOid, toHex } from "@veritee/core";

/** One AttributeTypeAndValue of a distinguished name (RFC 5280 §4.1.2.4). */
export interface NameAttribute {
  /** The attribute type OID in dotted form, e.g. "2.5.4.3" (commonName). */
  readonly oid: string;
  /** The value as text when it is a string type, otherwise `#` and the hex of its DER. */
  readonly value: string;
}

/** A decoded X.501 Name. Chain building compares `der`, not the rendering. */
export interface DistinguishedName {
  /** The Name's DER encoding (SEQUENCE OF RelativeDistinguishedName). */
  readonly der: Uint8Array;
  /** Attributes in encoded order, RDNs flattened. */
  readonly attributes: readonly NameAttribute[];
  /** A readable rendering in encoded order, e.g. "C=US, O=Google LLC, CN=…"; for display only. */
  readonly text: string;
}

const SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  ["2.5.4.3", "CN"],
  ["2.5.4.5", "serialNumber"],
  ["2.5.4.6", "C"],
  ["2.5.4.7", "L"],
  ["2.5.4.8", "ST"],
  ["2.5.4.10", "O"],
  ["2.5.4.11", "OU"],
  // TCG EK Credential Profile §3.1.3: TPM manufacturer, model and version attributes.
  ["2.23.133.2.1", "tpmManufacturer"],
  ["2.23.133.2.2", "tpmModel"],
  ["2.23.133.2.3", "tpmVersion"],
]);

/** The most attributes one Name may carry; real names have fewer than 16. */
const MAX_ATTRIBUTES = 64;

/** Decode a directory string value to text, or undefined if it is not a string type. */
export function directoryStringText(el: DerElement, what: string): string | undefined {
  const c = el.content;
  switch (el.tag) {
    case DER_TAG.UTF8_STRING:
      try {
        return new TextDecoder("utf-8", { fatal: true }).decode(c);
      } catch (cause) {
        throw new MalformedError("bad-value", what, "invalid UTF-8", { cause });
      }
    case DER_TAG.PRINTABLE_STRING:
    case DER_TAG.IA5_STRING:
    case DER_TAG.VISIBLE_STRING:
      for (const b of c) if (b > 0x7f) throw new MalformedError("bad-value", what, "non-ASCII byte in an ASCII string");
      return new TextDecoder("latin1").decode(c);
    case DER_TAG.T61_STRING:
      // Teletex is rarely used; read it as Latin-1, as most decoders do.
      return new TextDecoder("latin1").decode(c);
    case DER_TAG.BMP_STRING:
      if (c.length % 2 !== 0) throw new MalformedError("bad-length", what, "BMPString of odd length");
      return new TextDecoder("utf-16be").decode(c);
    case DER_TAG.UNIVERSAL_STRING: {
      if (c.length % 4 !== 0) throw new MalformedError("bad-length", what, "UniversalString not a multiple of 4");
      let out = "";
      const view = new DataView(c.buffer, c.byteOffset, c.byteLength);
      for (let i = 0; i < c.length; i += 4) {
        const cp = view.getUint32(i, false);
        if (cp > 0x10ffff) throw new MalformedError("bad-value", what, "code point out of range");
        out += String.fromCodePoint(cp);
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** Decode a Name element (RFC 5280 §4.1.2.4) read from a certificate. */
export function decodeName(el: DerElement, what: string): DistinguishedName {
  if (el.tag !== DER_TAG.SEQUENCE) throw new MalformedError("bad-value", what, "Name must be a SEQUENCE");
  const rdns = new DerReader(el.content, what, 1);
  const attributes: NameAttribute[] = [];
  while (!rdns.done) {
    const rdn = rdns.nested(DER_TAG.SET, "rdn");
    if (rdn.done) throw new MalformedError("bad-length", `${what}.rdn`, "empty RelativeDistinguishedName");
    while (!rdn.done) {
      if (attributes.length >= MAX_ATTRIBUTES) throw new MalformedError("too-large", what, "too many attributes");
      const atv = rdn.sequence("attribute");
      const oid = readOid(atv, "type");
      const valueEl = atv.any("value");
      atv.end();
      const text = directoryStringText(valueEl, `${what}.value`);
      attributes.push({ oid, value: text ?? `#${toHex(valueEl.encoded)}` });
    }
  }
  const text = attributes.map((a) => `${SHORT_NAMES.get(a.oid) ?? a.oid}=${a.value}`).join(", ");
  return { der: el.encoded, attributes, text };
}
