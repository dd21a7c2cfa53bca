/**
 * X.509 certificate revocation lists (RFC 5280 §5): a strict DER decoder
 * (PEM accepted too), signature verification by the issuing CA at a pinned
 * time, and revocation look-up by serial number. Used for Intel's PCK and
 * root CA CRLs and AMD's VCEK CRLs.
 *
 * Critical extensions: RFC 5280 §5.2 requires rejecting a CRL with a
 * critical extension the verifier does not process. Only cRLNumber and
 * authorityKeyIdentifier are processed (neither is critical in practice);
 * a critical issuingDistributionPoint or deltaCRLIndicator (partitioned or
 * delta CRLs, which change what the list means) is refused. The same goes
 * for critical entry extensions; reasonCode is decoded.
 */
import {
  bytesEqual,
  DER_TAG,
  DerReader,
  decodePemBlock,
  importPublicJwk,
  MalformedError,
  readOctetAlignedBitString,
  readSmallInteger,
  readTime,
  toHex,
  verifySignature,
} from "@veritee/core";
import { VerificationError } from "../errors.js";
import {
  type CertificateExtension,
  type CertificateSignatureAlgorithm,
  type DecodedCertificate,
  EXTENSION_OID,
  KEY_USAGE,
  readExtensions,
  readSignatureAlgorithm,
} from "./certificate.js";
import { type DistinguishedName, decodeName } from "./name.js";
import { publicKeyToJwk } from "./public-key.js";

/** CRLs larger than this are refused before parsing (Intel's PCK CRL is under 3 KiB; AMD's under 1 KiB). */
export const MAX_CRL_SIZE = 1024 * 1024;
/** The most revoked entries one CRL may list. */
export const MAX_CRL_ENTRIES = 100_000;

/** CRL extension OIDs (RFC 5280 §5.2, §5.3). */
export const CRL_EXTENSION_OID = {
  cRLNumber: "2.5.29.20",
  reasonCode: "2.5.29.21",
  invalidityDate: "2.5.29.24",
  deltaCRLIndicator: "2.5.29.27",
  issuingDistributionPoint: "2.5.29.28",
  authorityKeyIdentifier: EXTENSION_OID.authorityKeyIdentifier,
} as const;

const PROCESSED_CRL_EXTENSIONS: ReadonlySet<string> = new Set([
  CRL_EXTENSION_OID.cRLNumber,
  CRL_EXTENSION_OID.authorityKeyIdentifier,
]);
const PROCESSED_ENTRY_EXTENSIONS: ReadonlySet<string> = new Set([
  CRL_EXTENSION_OID.reasonCode,
  CRL_EXTENSION_OID.invalidityDate,
]);

/** One revoked certificate (RFC 5280 §5.1.2.6). */
export interface RevokedCertificate {
  /** The serial number's INTEGER content octets as hex, as `DecodedCertificate.serialHex`. */
  readonly serialHex: string;
  readonly revocationDate: Date;
  /** CRLReason (RFC 5280 §5.3.1), if given: 1 = keyCompromise, ... */
  readonly reason?: number;
  readonly extensions: readonly CertificateExtension[];
}

/** A decoded, unverified CRL. */
export interface DecodedCrl {
  /** The whole CRL's DER. */
  readonly der: Uint8Array;
  /** tbsCertList's DER, the signed bytes. */
  readonly tbs: Uint8Array;
  /** 1 (v1, no version field) or 2. */
  readonly version: 1 | 2;
  readonly signatureAlgorithm: CertificateSignatureAlgorithm;
  readonly signature: Uint8Array;
  readonly issuer: DistinguishedName;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  /** Revoked entries by serial hex. */
  readonly revoked: ReadonlyMap<string, RevokedCertificate>;
  readonly extensions: readonly CertificateExtension[];
  /** cRLNumber as a decimal string, if present. */
  readonly crlNumber?: string;
  /** authorityKeyIdentifier's keyIdentifier, if present. */
  readonly authorityKeyId?: Uint8Array;
}

/** PEM X509 CRL (RFC 7468 §6) through core's strict PEM decoder. */
function pemToDer(input: string | Uint8Array): Uint8Array {
  return decodePemBlock(input, { label: "X509 CRL", what: "CRL", maxBytes: MAX_CRL_SIZE });
}

function readInteger(el: { tag: number; content: Uint8Array }, what: string): string {
  if (el.tag !== DER_TAG.INTEGER) throw new MalformedError("bad-value", what, "expected INTEGER");
  const c = el.content;
  if (c.length === 0) throw new MalformedError("bad-length", what, "empty INTEGER");
  if (c.length > 20 + 1) throw new MalformedError("too-large", what, "more than 20 octets");
  return toHex(c);
}

function decodeReason(ext: CertificateExtension): number {
  const r = new DerReader(ext.value, "CRL entry reasonCode");
  const el = r.any("value");
  r.end();
  // CRLReason ::= ENUMERATED (RFC 5280 §5.3.1), one octet: 0..10, 7 unused.
  if (el.tag !== 0x0a || el.content.length !== 1 || el.content[0]! > 10 || el.content[0] === 7) {
    throw new MalformedError("bad-value", "CRL entry reasonCode");
  }
  return el.content[0]!;
}

function decodeEntries(r: DerReader): Map<string, RevokedCertificate> {
  const out = new Map<string, RevokedCertificate>();
  while (!r.done) {
    if (out.size >= MAX_CRL_ENTRIES) throw new MalformedError("too-large", "CRL.revokedCertificates");
    const e = r.sequence("entry");
    const serialHex = readInteger(e.any("userCertificate"), "CRL entry.userCertificate");
    const revocationDate = readTime(e.any("revocationDate"), "CRL entry.revocationDate");
    const extensions = e.done ? [] : readExtensions(e);
    e.end();
    let reason: number | undefined;
    for (const ext of extensions) {
      if (ext.oid === CRL_EXTENSION_OID.reasonCode) reason = decodeReason(ext);
    }
    if (out.has(serialHex)) throw new MalformedError("bad-value", "CRL.revokedCertificates", "a serial listed twice");
    out.set(
      serialHex,
      Object.freeze({
        serialHex,
        revocationDate,
        ...(reason === undefined ? {} : { reason }),
        extensions: Object.freeze(extensions),
      }),
    );
  }
  // RFC 5280 §5.1.2.6: when there are no revoked certificates the list MUST be absent.
  if (out.size === 0) throw new MalformedError("bad-length", "CRL.revokedCertificates", "empty list");
  return out;
}

/**
 * Decode a CRL from DER, or from PEM text (`-----BEGIN X509 CRL-----`) given
 * as a string or as bytes. Strict: one CertificateList exactly, v2 when
 * extensions are present, entries unique. Verifies nothing; throws
 * `MalformedError` naming the field.
 *
 * @example
 * const crl = decodeCrl(readFileSync("pckcrl"));
 * crl.revoked.has(cert.serialHex);
 */
export function decodeCrl(input: Uint8Array | string): DecodedCrl {
  let der: Uint8Array;
  if (typeof input === "string") der = pemToDer(input);
  else if (input.length > 0 && input[0] === DER_TAG.SEQUENCE) der = Uint8Array.prototype.slice.call(input);
  else der = pemToDer(input);
  if (der.length > MAX_CRL_SIZE) throw new MalformedError("too-large", "CRL", `${der.length} bytes`);
  const top = new DerReader(der, "CRL");
  const list = top.sequence("certificateList");
  top.end();
  const tbsEl = list.expect(DER_TAG.SEQUENCE, "tbsCertList");
  const outerAlg = readSignatureAlgorithm(list, "signatureAlgorithm");
  const signature = readOctetAlignedBitString(list.any("signatureValue"), "CRL.signatureValue");
  list.end();

  const tbs = list.child(tbsEl, "tbsCertList");
  let version: 1 | 2 = 1;
  const versionEl = tbs.optional(DER_TAG.INTEGER, "version");
  if (versionEl) {
    // RFC 5280 §5.1.2.1: if present, version MUST be v2 (1).
    if (readSmallInteger(versionEl, "CRL.version") !== 1) throw new MalformedError("unsupported", "CRL.version");
    version = 2;
  }
  const innerAlg = readSignatureAlgorithm(tbs, "signature");
  // RFC 5280 §5.1.1.2: the two algorithm identifiers MUST be equal.
  if (!bytesEqual(innerAlg.encoded, outerAlg.encoded)) {
    throw new MalformedError("bad-value", "CRL.signatureAlgorithm", "differs from tbsCertList.signature");
  }
  const issuer = decodeName(tbs.expect(DER_TAG.SEQUENCE, "issuer"), "CRL.issuer");
  const thisUpdate = readTime(tbs.any("thisUpdate"), "CRL.thisUpdate");
  const next = tbs.peekTag();
  const nextUpdate =
    next === DER_TAG.UTC_TIME || next === DER_TAG.GENERALIZED_TIME
      ? readTime(tbs.any("nextUpdate"), "CRL.nextUpdate")
      : undefined;
  const entriesEl = tbs.optional(DER_TAG.SEQUENCE, "revokedCertificates");
  const revoked = entriesEl ? decodeEntries(tbs.child(entriesEl, "revokedCertificates")) : new Map();
  const extEl = tbs.optional(0xa0, "crlExtensions");
  let extensions: CertificateExtension[] = [];
  if (extEl) {
    if (version !== 2) throw new MalformedError("bad-value", "CRL.crlExtensions", "extensions need version 2");
    const inner = tbs.child(extEl, "crlExtensions");
    extensions = readExtensions(inner);
    inner.end();
  }
  tbs.end();
  let crlNumber: string | undefined;
  let authorityKeyId: Uint8Array | undefined;
  for (const ext of extensions) {
    if (ext.oid === CRL_EXTENSION_OID.cRLNumber) {
      const r = new DerReader(ext.value, "CRL.cRLNumber");
      crlNumber = BigInt(`0x${readInteger(r.any("value"), "CRL.cRLNumber")}`).toString(10);
      r.end();
    } else if (ext.oid === CRL_EXTENSION_OID.authorityKeyIdentifier) {
      const r = new DerReader(ext.value, "CRL.authorityKeyIdentifier");
      const s = r.sequence("value");
      r.end();
      authorityKeyId = s.optional(0x80, "keyIdentifier")?.content;
      // authorityCertIssuer and serial (RFC 5280 §4.2.1.1) are allowed but unused.
    }
  }
  return Object.freeze({
    der,
    tbs: tbsEl.encoded,
    version,
    signatureAlgorithm: Object.freeze({ oid: outerAlg.oid, scheme: outerAlg.scheme }),
    signature,
    issuer,
    thisUpdate,
    ...(nextUpdate === undefined ? {} : { nextUpdate }),
    revoked,
    extensions: Object.freeze(extensions),
    ...(crlNumber === undefined ? {} : { crlNumber }),
    ...(authorityKeyId === undefined ? {} : { authorityKeyId }),
  });
}

const CONSTRUCT: unique symbol = Symbol("VerifiedCrl");

/**
 * A CRL that {@link verifyCrl} proved: signed by `issuer`, current at
 * `verifiedAt`, with no unprocessed critical extension. Only the verifier
 * constructs it; revocation questions go through it.
 */
export class VerifiedCrl {
  readonly crl: DecodedCrl;
  /** The CA certificate that signed the CRL. */
  readonly issuer: DecodedCertificate;
  readonly verifiedAt: Date;

  /** @internal Use {@link verifyCrl}. */
  constructor(token: typeof CONSTRUCT, crl: DecodedCrl, issuer: DecodedCertificate, at: Date) {
    if (token !== CONSTRUCT) throw new TypeError("VerifiedCrl is created by verifyCrl only");
    this.crl = crl;
    this.issuer = issuer;
    this.verifiedAt = new Date(at.getTime());
    Object.freeze(this);
  }

  /** True when `cert` (issued by this CRL's issuer) is listed as revoked. */
  isRevoked(cert: DecodedCertificate): boolean {
    return bytesEqual(cert.issuer.der, this.crl.issuer.der) && this.crl.revoked.has(cert.serialHex);
  }

  /**
   * Throw `VerificationError("cert-revoked")` when `cert` is revoked, and
   * `crl-issuer-mismatch` when this CRL is not in scope for `cert` (another
   * CA issued it), so a CRL of a sibling CA cannot vouch for a certificate.
   */
  assertNotRevoked(cert: DecodedCertificate, position: string): void {
    if (!bytesEqual(cert.issuer.der, this.crl.issuer.der)) {
      throw new VerificationError("crl-issuer-mismatch", `the CRL is not issued by the issuer of ${position}`);
    }
    if (this.crl.revoked.has(cert.serialHex)) throw new VerificationError("cert-revoked", `${position} is revoked`);
  }
}

/** Inputs of {@link verifyCrl}. */
export interface VerifyCrlOptions {
  /** The CRL (DER or PEM), or one already decoded. */
  readonly crl: Uint8Array | string | DecodedCrl;
  /** The CA that must have signed it, e.g. from a verified chain's path. */
  readonly issuer: DecodedCertificate;
  /** The time the CRL must be current at. */
  readonly at: Date;
}

/**
 * Verify a CRL (RFC 5280 §6.3.3 (a)–(g), for a complete CRL): the issuer
 * name equals the CA's subject and the key identifiers agree; the CA may
 * sign CRLs (keyUsage cRLSign, when keyUsage is present); the signature
 * verifies; `thisUpdate ≤ at ≤ nextUpdate` (a CRL without nextUpdate is
 * refused as expired: RFC 5280 §5.1.2.5 makes it mandatory); no unprocessed
 * critical extension. Throws `VerificationError` (crl-issuer-mismatch,
 * cert-key-usage, crl-signature-invalid, unsupported-algorithm,
 * crl-not-yet-valid, crl-expired, crl-unknown-critical-extension) or
 * `MalformedError`.
 *
 * @example
 * const crl = await verifyCrl({ crl: pckCrlDer, issuer: chain.path[1]!, at });
 * crl.assertNotRevoked(chain.leaf, "the PCK certificate");
 */
export async function verifyCrl(options: VerifyCrlOptions): Promise<VerifiedCrl> {
  const { issuer, at } = options;
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new TypeError("`at` must be a valid Date");
  const crl =
    typeof options.crl === "string" || options.crl instanceof Uint8Array ? decodeCrl(options.crl) : options.crl;
  if (!bytesEqual(crl.issuer.der, issuer.subject.der)) {
    throw new VerificationError("crl-issuer-mismatch", "the CRL's issuer is not the given CA");
  }
  if (crl.authorityKeyId && issuer.subjectKeyId && !bytesEqual(crl.authorityKeyId, issuer.subjectKeyId)) {
    throw new VerificationError("crl-issuer-mismatch", "the CRL's authority key identifier is not the CA's");
  }
  if (issuer.keyUsage !== undefined && (issuer.keyUsage & KEY_USAGE.cRLSign) === 0) {
    throw new VerificationError("cert-key-usage", "the CRL issuer lacks cRLSign");
  }
  const scheme = crl.signatureAlgorithm.scheme;
  if (!scheme || scheme.hash === "sha1") {
    throw new VerificationError("unsupported-algorithm", `CRL signature algorithm ${crl.signatureAlgorithm.oid}`);
  }
  const key = issuer.publicKey;
  const wantsRsa = scheme.kind === "rsassa-pkcs1" || scheme.kind === "rsa-pss";
  if (key.kind === "other" || wantsRsa !== (key.kind === "rsa")) {
    throw new VerificationError("crl-signature-invalid", "the CRL's signature algorithm does not fit the issuer key");
  }
  let ok: boolean;
  try {
    ok = await verifySignature(scheme, importPublicJwk(publicKeyToJwk(key)), crl.tbs, crl.signature);
  } catch (cause) {
    throw new VerificationError("crl-signature-invalid", "the CRL issuer key is unusable", { cause });
  }
  if (!ok) throw new VerificationError("crl-signature-invalid", "the CRL has a bad signature");
  for (const ext of crl.extensions) {
    if (ext.critical && !PROCESSED_CRL_EXTENSIONS.has(ext.oid)) {
      throw new VerificationError("crl-unknown-critical-extension", `critical CRL extension ${ext.oid}`);
    }
  }
  for (const entry of crl.revoked.values()) {
    for (const ext of entry.extensions) {
      if (ext.critical && !PROCESSED_ENTRY_EXTENSIONS.has(ext.oid)) {
        throw new VerificationError("crl-unknown-critical-extension", `critical CRL entry extension ${ext.oid}`);
      }
    }
  }
  if (at.getTime() < crl.thisUpdate.getTime()) {
    throw new VerificationError("crl-not-yet-valid", "the CRL's thisUpdate is after the validation time");
  }
  if (crl.nextUpdate === undefined || at.getTime() > crl.nextUpdate.getTime()) {
    throw new VerificationError("crl-expired", "the CRL's nextUpdate is before the validation time");
  }
  return new VerifiedCrl(CONSTRUCT, crl, issuer, at);
}
