/**
 * The Intel SGX extensions of a PCK certificate (Intel SGX PCK Certificate
 * and Certificate Revocation List Profile Specification §3.5, OID
 * 1.2.840.113741.1.13.1): the platform's TCB component SVNs, PCE SVN,
 * CPUSVN, PCE ID and FMSPC, which select and match its TCB level in Intel's
 * TCB info. Decoding only; the certificate is trusted once its chain verifies.
 */
import { DER_TAG, DerReader, MalformedError, readBoolean, readOid, readSmallInteger, toHex } from "@veritee/core";
import type { DecodedCertificate } from "../x509/certificate.js";

/** The SGX extension OID and its sub-OIDs. */
export const SGX_EXTENSION_OID = "1.2.840.113741.1.13.1";
const OID = {
  ppid: `${SGX_EXTENSION_OID}.1`,
  tcb: `${SGX_EXTENSION_OID}.2`,
  pceId: `${SGX_EXTENSION_OID}.3`,
  fmspc: `${SGX_EXTENSION_OID}.4`,
  sgxType: `${SGX_EXTENSION_OID}.5`,
  platformInstanceId: `${SGX_EXTENSION_OID}.6`,
  configuration: `${SGX_EXTENSION_OID}.7`,
} as const;

/** What a PCK certificate says about its platform. */
export interface PckExtensions {
  /** PPID (16). */
  readonly ppid: Uint8Array;
  /** SGX TCB component SVNs 1..16, in order. */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  /** CPUSVN (16). */
  readonly cpuSvn: Uint8Array;
  /** PCE ID as hex (2 bytes). */
  readonly pceId: string;
  /** FMSPC as hex (6 bytes), the platform family the TCB info is for. */
  readonly fmspc: string;
  /** 0 Standard, 1 Scalable, 2 Scalable with integrity. */
  readonly sgxType: number;
  /** Platform CA certificates only (16). */
  readonly platformInstanceId?: Uint8Array;
  /** Platform CA certificates only. */
  readonly configuration?: {
    readonly dynamicPlatform?: boolean;
    readonly cachedKeys?: boolean;
    readonly smtEnabled?: boolean;
  };
}

function octets(r: DerReader, field: string, size: number): Uint8Array {
  const el = r.expect(DER_TAG.OCTET_STRING, field);
  if (el.content.length !== size) {
    throw new MalformedError("bad-length", `${r.what}.${field}`, `${el.content.length} bytes, expected ${size}`);
  }
  return el.content;
}

function decodeTcb(r: DerReader): { components: number[]; pceSvn: number; cpuSvn: Uint8Array } {
  const components: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const e = r.sequence(`comp${i}`);
    if (readOid(e, "oid") !== `${OID.tcb}.${i}`) throw new MalformedError("bad-value", `${r.what}.comp${i}`, "order");
    const v = readSmallInteger(e.any("svn"), `${r.what}.comp${i}`);
    if (v > 255) throw new MalformedError("bad-value", `${r.what}.comp${i}`, "SVN above 255");
    components.push(v);
    e.end();
  }
  const p = r.sequence("pcesvn");
  if (readOid(p, "oid") !== `${OID.tcb}.17`) throw new MalformedError("bad-value", `${r.what}.pcesvn`, "order");
  const pceSvn = readSmallInteger(p.any("svn"), `${r.what}.pcesvn`);
  if (pceSvn > 0xffff) throw new MalformedError("bad-value", `${r.what}.pcesvn`, "above 65535");
  p.end();
  const c = r.sequence("cpusvn");
  if (readOid(c, "oid") !== `${OID.tcb}.18`) throw new MalformedError("bad-value", `${r.what}.cpusvn`, "order");
  const cpuSvn = octets(c, "value", 16);
  c.end();
  r.end();
  return { components, pceSvn, cpuSvn };
}

function decodeConfiguration(r: DerReader): NonNullable<PckExtensions["configuration"]> {
  const out: { dynamicPlatform?: boolean; cachedKeys?: boolean; smtEnabled?: boolean } = {};
  const names = ["dynamicPlatform", "cachedKeys", "smtEnabled"] as const;
  let last = 0;
  while (!r.done) {
    const e = r.sequence("entry");
    const oid = readOid(e, "oid");
    const index = names.findIndex((_, i) => oid === `${OID.configuration}.${i + 1}`);
    if (index < 0 || index + 1 <= last)
      throw new MalformedError("bad-value", `${r.what}.entry`, "unknown or out of order");
    last = index + 1;
    out[names[index]!] = readBoolean(e.expect(DER_TAG.BOOLEAN, "value"), `${r.what}.${names[index]}`);
    e.end();
  }
  return Object.freeze(out);
}

/**
 * Decode the SGX extensions of a PCK certificate. Strict: each known
 * element once, in the profile's order, with its exact size; unknown
 * elements are refused. Throws `MalformedError` (also when the extension
 * is missing).
 *
 * @example
 * const ext = decodePckExtensions(chain.leaf);
 * ext.fmspc; // "50806f000000"
 */
export function decodePckExtensions(cert: DecodedCertificate): PckExtensions {
  const ext = cert.extensions.find((e) => e.oid === SGX_EXTENSION_OID);
  if (ext === undefined) throw new MalformedError("bad-value", "PCK certificate", "no SGX extension");
  const outer = new DerReader(ext.value, "PCK SGX extension");
  const r = outer.sequence("value");
  outer.end();
  const expectNext = (oid: string, field: string): DerReader => {
    const e = r.sequence(field);
    if (readOid(e, "oid") !== oid) throw new MalformedError("bad-value", `${r.what}.${field}`, "unexpected element");
    return e;
  };
  const ppidEl = expectNext(OID.ppid, "ppid");
  const ppid = octets(ppidEl, "value", 16);
  ppidEl.end();
  const tcbEl = expectNext(OID.tcb, "tcb");
  const tcb = decodeTcb(tcbEl.sequence("value"));
  tcbEl.end();
  const pceEl = expectNext(OID.pceId, "pceId");
  const pceId = toHex(octets(pceEl, "value", 2));
  pceEl.end();
  const fmspcEl = expectNext(OID.fmspc, "fmspc");
  const fmspc = toHex(octets(fmspcEl, "value", 6));
  fmspcEl.end();
  const typeEl = expectNext(OID.sgxType, "sgxType");
  const t = typeEl.expect(0x0a, "value");
  if (t.content.length !== 1 || t.content[0]! > 2) throw new MalformedError("bad-value", "PCK SGX extension.sgxType");
  typeEl.end();
  let platformInstanceId: Uint8Array | undefined;
  let configuration: PckExtensions["configuration"];
  if (!r.done) {
    const e = expectNext(OID.platformInstanceId, "platformInstanceId");
    platformInstanceId = octets(e, "value", 16);
    e.end();
    const c = expectNext(OID.configuration, "configuration");
    configuration = decodeConfiguration(c.sequence("value"));
    c.end();
  }
  r.end();
  return Object.freeze({
    ppid,
    sgxTcbComponents: Object.freeze(tcb.components),
    pceSvn: tcb.pceSvn,
    cpuSvn: tcb.cpuSvn,
    pceId,
    fmspc,
    sgxType: t.content[0]!,
    ...(platformInstanceId === undefined ? {} : { platformInstanceId }),
    ...(configuration === undefined ? {} : { configuration }),
  });
}
