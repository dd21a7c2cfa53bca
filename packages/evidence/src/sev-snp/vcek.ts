/**
 * AMD's X.509 extensions on VCEK and VLEK certificates (AMD VCEK Certificate
 * and KDS Interface Specification, publication 57230, §3.1 Table 9 "VCEK
 * Certificate Extensions"). Decoding only.
 */
import { DER_TAG, DerReader, MalformedError, readSmallInteger } from "@veritee/core";
import type { DecodedCertificate } from "../x509/certificate.js";

/** AMD's extension OIDs under 1.3.6.1.4.1.3704 (57230 Table 9). */
export const AMD_VCEK_OID = {
  structVersion: "1.3.6.1.4.1.3704.1.1",
  productName: "1.3.6.1.4.1.3704.1.2",
  blSpl: "1.3.6.1.4.1.3704.1.3.1",
  teeSpl: "1.3.6.1.4.1.3704.1.3.2",
  snpSpl: "1.3.6.1.4.1.3704.1.3.3",
  ucodeSpl: "1.3.6.1.4.1.3704.1.3.8",
  fmcSpl: "1.3.6.1.4.1.3704.1.3.9",
  hwId: "1.3.6.1.4.1.3704.1.4",
  cspId: "1.3.6.1.4.1.3704.1.5",
} as const;

/** The AMD-specific content of a VCEK or VLEK certificate. */
export interface SnpEndorsementExtensions {
  /** "vcek" when the certificate carries a hwID, "vlek" when it carries a CSP id. */
  readonly kind: "vcek" | "vlek";
  /** productName, e.g. "Milan-B0"; undefined when absent. */
  readonly productName: string | undefined;
  /** The security patch levels the key was derived for; undefined for an absent extension. */
  readonly tcb: {
    readonly bootloader: number | undefined;
    readonly tee: number | undefined;
    readonly snp: number | undefined;
    readonly microcode: number | undefined;
    readonly fmc: number | undefined;
  };
  /** hwID: the CHIP_ID the VCEK belongs to (VCEK only). */
  readonly hwId: Uint8Array | undefined;
  /** The cloud provider's id (VLEK only). */
  readonly cspId: string | undefined;
}

function spl(cert: DecodedCertificate, oid: string, field: string): number | undefined {
  const value = cert.extensions.find((e) => e.oid === oid)?.value;
  if (value === undefined) return undefined;
  const r = new DerReader(value, `VCEK.${field}`);
  const n = readSmallInteger(r.any("value"), `VCEK.${field}`);
  r.end();
  // An SPL is one byte of TCB_VERSION (56860 Table 3).
  if (n > 0xff) throw new MalformedError("bad-value", `VCEK.${field}`, "SPL above 255");
  return n;
}

function ia5(cert: DecodedCertificate, oid: string, field: string): string | undefined {
  const value = cert.extensions.find((e) => e.oid === oid)?.value;
  if (value === undefined) return undefined;
  const r = new DerReader(value, `VCEK.${field}`);
  const el = r.any("value");
  r.end();
  // 57230 encodes these as IA5String; a UTF8String of the same ASCII text is accepted too.
  if (el.tag !== DER_TAG.IA5_STRING && el.tag !== DER_TAG.UTF8_STRING) {
    throw new MalformedError("bad-value", `VCEK.${field}`, "expected IA5String");
  }
  if (el.content.length === 0 || el.content.length > 64 || el.content.some((b) => b < 0x20 || b > 0x7e)) {
    throw new MalformedError("bad-value", `VCEK.${field}`, "must be 1..64 printable ASCII characters");
  }
  return String.fromCharCode(...el.content);
}

/**
 * Read AMD's extensions from a decoded VCEK or VLEK certificate. Throws
 * `MalformedError` for an extension that does not decode, and for a
 * certificate that is neither (no hwID and no CSP id) or claims to be both.
 */
export function decodeSnpEndorsementExtensions(cert: DecodedCertificate): SnpEndorsementExtensions {
  const hwIdExt = cert.extensions.find((e) => e.oid === AMD_VCEK_OID.hwId);
  // hwID's extnValue is the raw CHIP_ID (64 bytes; Turin KDS uses the first 8), not DER.
  const hwId = hwIdExt?.value.slice();
  if (hwId !== undefined && hwId.length !== 64 && hwId.length !== 8) {
    throw new MalformedError("bad-length", "VCEK.hwID", "must be 64 or 8 bytes");
  }
  const cspId = ia5(cert, AMD_VCEK_OID.cspId, "cspID");
  if ((hwId === undefined) === (cspId === undefined)) {
    throw new MalformedError("bad-value", "VCEK", "needs exactly one of hwID (VCEK) and cspID (VLEK)");
  }
  return Object.freeze({
    kind: hwId !== undefined ? "vcek" : "vlek",
    productName: ia5(cert, AMD_VCEK_OID.productName, "productName"),
    tcb: Object.freeze({
      bootloader: spl(cert, AMD_VCEK_OID.blSpl, "blSPL"),
      tee: spl(cert, AMD_VCEK_OID.teeSpl, "teeSPL"),
      snp: spl(cert, AMD_VCEK_OID.snpSpl, "snpSPL"),
      microcode: spl(cert, AMD_VCEK_OID.ucodeSpl, "ucodeSPL"),
      fmc: spl(cert, AMD_VCEK_OID.fmcSpl, "fmcSPL"),
    }),
    hwId,
    cspId,
  });
}
