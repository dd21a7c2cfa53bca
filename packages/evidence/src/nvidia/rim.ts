/**
 * NVIDIA reference integrity manifests (RIMs): SWID tags (ISO/IEC
 * 19770-2:2015) following the TCG RIM Information Model, one per driver or
 * VBIOS release, whose Payload lists the expected SPDM measurements:
 *
 *     <Resource type="Measurement" index="3" active="True" alternatives="1"
 *               ns2:Hash0="73bb…" name="…" size="48"/>
 *
 * `index` counts from 0 and names SPDM measurement block `index + 1` (as
 * NVIDIA's verifier reads it); `HashN` (namespace
 * http://www.w3.org/2001/04/xmlenc#sha384) are the allowed SHA-384 values;
 * only `active="True"` entries are reference values. The tag's Meta
 * `colloquialVersion` is the driver or VBIOS version it describes.
 *
 * Parsing only. The tag's enveloped XML-DSig signature (C14N 1.1, ECDSA
 * P-384) is NOT verified here: a RIM is trusted because the policy author
 * chose the file, exactly as a reference digest typed into a policy is.
 */
import { fromHex, MalformedError, toHex } from "@veritee/core";
import { parseXml, type XmlElement, xmlAttribute, xmlChild } from "./xml.js";

/** The SWID tag namespace (ISO/IEC 19770-2:2015). */
export const SWID_NAMESPACE = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd";
/** The namespace of the RIM's SHA-384 `HashN` attributes (XML Encryption's SHA-384 identifier). */
export const RIM_SHA384_NAMESPACE = "http://www.w3.org/2001/04/xmlenc#sha384";

/** The most alternatives one measurement may list. */
const MAX_ALTERNATIVES = 64;
/** The most measurement resources a RIM may hold (SPDM indices 1..0xFE). */
const MAX_RESOURCES = 254;

/** One active reference measurement of a RIM. */
export interface RimMeasurement {
  /** The SPDM measurement block index it applies to (the RIM's `index` + 1). */
  readonly spdmIndex: number;
  /** The resource's name, e.g. "HashedMeasurement_3_FSP". */
  readonly name: string;
  /** The allowed values, lower-case hex of 48-byte SHA-384 digests. */
  readonly alternatives: readonly string[];
}

/** The reference values of one RIM. */
export interface GpuRim {
  /** The SWID tagId. */
  readonly tagId: string;
  /** The product, e.g. "GH100". */
  readonly product: string;
  /** The driver or VBIOS version this RIM describes (Meta colloquialVersion), e.g. "96.00.5E.00.01". */
  readonly version: string;
  /** Active reference measurements by SPDM index. */
  readonly measurements: ReadonlyMap<number, RimMeasurement>;
}

const WHAT = "NVIDIA RIM";

function required(element: XmlElement, local: string, what: string): string {
  const value = xmlAttribute(element, "", local);
  if (value === undefined) throw new MalformedError("bad-value", `${what}.${local}`, "missing");
  return value;
}

function decimal(text: string, what: string, max: number): number {
  if (!/^(0|[1-9][0-9]{0,5})$/.test(text)) throw new MalformedError("bad-value", what, "not a decimal number");
  const n = Number(text);
  if (n > max) throw new MalformedError("bad-value", what, `above ${max}`);
  return n;
}

function resource(el: XmlElement, position: number): { active: boolean; measurement: RimMeasurement } | undefined {
  const what = `${WHAT}.Payload.Resource[${position}]`;
  if (el.ns !== SWID_NAMESPACE || el.local !== "Resource") {
    throw new MalformedError("bad-value", what, "not a SWID Resource");
  }
  if (required(el, "type", what) !== "Measurement") return undefined;
  const index = decimal(required(el, "index", what), `${what}.index`, 0xfd);
  const activeText = required(el, "active", what);
  if (activeText !== "True" && activeText !== "False") {
    throw new MalformedError("bad-value", `${what}.active`, 'not "True" or "False"');
  }
  const count = decimal(required(el, "alternatives", what), `${what}.alternatives`, MAX_ALTERNATIVES);
  if (count === 0) throw new MalformedError("bad-value", `${what}.alternatives`, "zero");
  const size = decimal(required(el, "size", what), `${what}.size`, 64);
  if (size !== 48) throw new MalformedError("unsupported", `${what}.size`, "not a SHA-384 digest size");
  const alternatives: string[] = [];
  for (let i = 0; i < count; i++) {
    const value = xmlAttribute(el, RIM_SHA384_NAMESPACE, `Hash${i}`);
    if (value === undefined) throw new MalformedError("bad-value", `${what}.Hash${i}`, "missing");
    const bytes = fromHex(value, `${what}.Hash${i}`);
    if (bytes.length !== size) throw new MalformedError("bad-length", `${what}.Hash${i}`, `not ${size} bytes`);
    alternatives.push(toHex(bytes));
  }
  // Exactly `alternatives` hashes: an extra HashN would be a value nobody listed.
  if (el.attributes.some((a) => a.ns === RIM_SHA384_NAMESPACE && !/^Hash([0-9]|[1-5][0-9]|6[0-3])$/.test(a.local))) {
    throw new MalformedError("bad-value", what, "an unexpected hash attribute");
  }
  if (el.attributes.filter((a) => a.ns === RIM_SHA384_NAMESPACE).length !== count) {
    throw new MalformedError("bad-value", what, "more hashes than alternatives");
  }
  return {
    active: activeText === "True",
    measurement: Object.freeze({
      spdmIndex: index + 1,
      name: xmlAttribute(el, "", "name") ?? "",
      alternatives: Object.freeze(alternatives),
    }),
  };
}

/**
 * Parse an NVIDIA RIM (SWID tag XML) into its reference values. Each
 * measurement index may appear once; inactive entries are dropped.
 *
 * @throws MalformedError naming the field; nothing else, whatever the input.
 * @example
 * const rim = decodeGpuRim(readFileSync("g520_0200_885_9600740001_PROD.swidtag", "utf8"));
 * rim.version; // "96.00.74.00.01"
 * rim.measurements.get(4)?.alternatives; // ["73bbf358…"]
 */
export function decodeGpuRim(xml: string): GpuRim {
  const root = parseXml(xml);
  if (root.ns !== SWID_NAMESPACE || root.local !== "SoftwareIdentity") {
    throw new MalformedError("bad-magic", `${WHAT}.SoftwareIdentity`, "not a SWID tag");
  }
  const tagId = required(root, "tagId", `${WHAT}.SoftwareIdentity`);
  const meta = xmlChild(root, SWID_NAMESPACE, "Meta");
  if (!meta) throw new MalformedError("bad-value", `${WHAT}.Meta`, "missing");
  const version = required(meta, "colloquialVersion", `${WHAT}.Meta`);
  const product = required(meta, "product", `${WHAT}.Meta`);
  if (version.length === 0 || version.length > 64)
    throw new MalformedError("bad-length", `${WHAT}.Meta.colloquialVersion`);
  const payloads = root.children.filter((c) => c.ns === SWID_NAMESPACE && c.local === "Payload");
  if (payloads.length !== 1) throw new MalformedError("bad-value", `${WHAT}.Payload`, "not exactly one Payload");
  const resources = payloads[0]!.children;
  if (resources.length > MAX_RESOURCES) throw new MalformedError("too-large", `${WHAT}.Payload`, "too many resources");
  const measurements = new Map<number, RimMeasurement>();
  const seen = new Set<number>();
  resources.forEach((el, i) => {
    const r = resource(el, i);
    if (!r) return;
    if (seen.has(r.measurement.spdmIndex)) {
      throw new MalformedError("bad-value", `${WHAT}.Payload.Resource[${i}].index`, "appears twice");
    }
    seen.add(r.measurement.spdmIndex);
    if (r.active) measurements.set(r.measurement.spdmIndex, r.measurement);
  });
  return Object.freeze({ tagId, product, version, measurements });
}
