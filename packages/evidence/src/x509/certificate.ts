/**
 * Decoding of X.509 v3 certificates (RFC 5280 §4.1) from DER. Decoding only:
 * nothing here checks a signature, a validity window or a constraint; that is
 * `chain.ts`. A `DecodedCertificate` is therefore untrusted data.
 */
import {
  contextConstructed,
  contextPrimitive,
  DER_TAG,
  type DerElement,
  DerReader,
  type HashAlg,
  MalformedError,
  readBoolean,
  readNamedBits,
  readOctetAlignedBitString,
  readOid,
  readSmallInteger,
  readTime,
  type SignatureScheme,
  toHex,
} from "@veritee/core";
import { type DistinguishedName, decodeName } from "./name.js";
import { decodeSpkiElement, type PublicKeyInfo } from "./public-key.js";

/** Extension OIDs this module decodes (RFC 5280 §4.2.1). */
export const EXTENSION_OID = {
  subjectDirectoryAttributes: "2.5.29.9",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  certificatePolicies: "2.5.29.32",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
} as const;

/** KeyUsage bits (RFC 5280 §4.2.1.3), as masks of `DecodedCertificate.keyUsage`. */
export const KEY_USAGE = {
  digitalSignature: 1 << 0,
  nonRepudiation: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

/** The TCG EK certificate extended key usage, tcg-kp-EKCertificate (TCG EK Credential Profile 2.5 §3.2.16). */
export const TCG_KP_EK_CERTIFICATE = "2.23.133.8.1";

/** A certificate's signature algorithm (RFC 5280 §4.1.1.2). */
export interface CertificateSignatureAlgorithm {
  /** The algorithm OID, e.g. "1.2.840.113549.1.1.11". */
  readonly oid: string;
  /** The scheme to verify with, or undefined for an algorithm this verifier does not support. */
  readonly scheme: SignatureScheme | undefined;
}

/** One extension as encoded (RFC 5280 §4.1.2.9). */
export interface CertificateExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content (the extension's own DER). */
  readonly value: Uint8Array;
}

/** The TPM identity in an EK certificate's subjectAltName directoryName (TCG EK Credential Profile §3.2.9). */
export interface TpmDeviceAttributes {
  readonly manufacturer?: string;
  readonly model?: string;
  readonly version?: string;
}

/** A decoded, unverified X.509 certificate. */
export interface DecodedCertificate {
  /** The whole certificate's DER. */
  readonly der: Uint8Array;
  /** The DER of tbsCertificate, the signed bytes. */
  readonly tbs: Uint8Array;
  /** 1, 2 or 3. */
  readonly version: number;
  /**
   * The serial number's INTEGER content octets as hex. Kept as encoded (sign
   * and leading bytes included): some TPM EK certificates carry negative or
   * non-minimal serials, which identify them just as well.
   */
  readonly serialHex: string;
  readonly signatureAlgorithm: CertificateSignatureAlgorithm;
  readonly signature: Uint8Array;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  readonly publicKey: PublicKeyInfo;
  readonly extensions: readonly CertificateExtension[];
  /** basicConstraints (RFC 5280 §4.2.1.9), if present. */
  readonly basicConstraints?: { readonly ca: boolean; readonly pathLen?: number };
  /** keyUsage bits (see {@link KEY_USAGE}), if the extension is present. */
  readonly keyUsage?: number;
  /** extKeyUsage OIDs (RFC 5280 §4.2.1.12), if the extension is present. */
  readonly extendedKeyUsage?: readonly string[];
  readonly subjectKeyId?: Uint8Array;
  /** The keyIdentifier of authorityKeyIdentifier (RFC 5280 §4.2.1.1), if present. */
  readonly authorityKeyId?: Uint8Array;
  /** directoryName entries of subjectAltName (RFC 5280 §4.2.1.6); other name forms are not decoded. */
  readonly subjectAltDirectoryNames?: readonly DistinguishedName[];
  /** TPM manufacturer/model/version from the subjectAltName, for EK certificates. */
  readonly tpmDevice?: TpmDeviceAttributes;
}

/** Certificates larger than this are refused before parsing; real ones are under 4 KiB. */
export const MAX_CERTIFICATE_SIZE = 64 * 1024;

const HASH_OIDS: ReadonlyMap<string, HashAlg> = new Map([
  ["1.3.14.3.2.26", "sha1"],
  ["2.16.840.1.101.3.4.2.1", "sha256"],
  ["2.16.840.1.101.3.4.2.2", "sha384"],
  ["2.16.840.1.101.3.4.2.3", "sha512"],
]);
const RSA_PKCS1: ReadonlyMap<string, HashAlg> = new Map([
  ["1.2.840.113549.1.1.5", "sha1"],
  ["1.2.840.113549.1.1.11", "sha256"],
  ["1.2.840.113549.1.1.12", "sha384"],
  ["1.2.840.113549.1.1.13", "sha512"],
]);
const ECDSA: ReadonlyMap<string, HashAlg> = new Map([
  ["1.2.840.10045.4.1", "sha1"],
  ["1.2.840.10045.4.3.2", "sha256"],
  ["1.2.840.10045.4.3.3", "sha384"],
  ["1.2.840.10045.4.3.4", "sha512"],
]);
const OID_RSASSA_PSS = "1.2.840.113549.1.1.10";
const OID_MGF1 = "1.2.840.113549.1.1.8";

/** AlgorithmIdentifier { OID, hash params } where params may be NULL or absent (RFC 4055 §2.1). */
function readHashAlgorithm(r: DerReader, field: string): HashAlg | undefined {
  const alg = r.sequence(field);
  const oid = readOid(alg, "algorithm");
  const params = alg.optional(DER_TAG.NULL, "parameters");
  if (params && params.content.length !== 0) throw new MalformedError("bad-value", `${r.what}.${field}`, "NULL");
  alg.end();
  return HASH_OIDS.get(oid);
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1). Only MGF1 with the same hash as the
 * message digest and trailerField 1 are supported, which is what Node's
 * verifier implements; anything else decodes as an unsupported scheme.
 */
function readPssParams(el: DerElement | undefined, what: string): SignatureScheme | undefined {
  if (!el || el.tag !== DER_TAG.SEQUENCE) throw new MalformedError("bad-value", what, "RSASSA-PSS needs parameters");
  const r = new DerReader(el.content, what, 2);
  let hashAlg: HashAlg | undefined = "sha1";
  let mgfHash: HashAlg | undefined = "sha1";
  let saltLength = 20;
  let trailer = 1;
  const h = r.optional(contextConstructed(0), "hashAlgorithm");
  if (h) {
    hashAlg = readHashAlgorithm(r.child(h, "hashAlgorithm"), "hashAlgorithm");
  }
  const m = r.optional(contextConstructed(1), "maskGenAlgorithm");
  if (m) {
    const mr = r.child(m, "maskGenAlgorithm").sequence("mgf");
    const mgfOid = readOid(mr, "algorithm");
    mgfHash = mgfOid === OID_MGF1 ? readHashAlgorithm(mr, "parameters") : undefined;
    mr.end();
  }
  const s = r.optional(contextConstructed(2), "saltLength");
  if (s) {
    const sr = r.child(s, "saltLength");
    saltLength = readSmallInteger(sr.any("value"), `${what}.saltLength`);
    sr.end();
  }
  const t = r.optional(contextConstructed(3), "trailerField");
  if (t) {
    const tr = r.child(t, "trailerField");
    trailer = readSmallInteger(tr.any("value"), `${what}.trailerField`);
    tr.end();
  }
  r.end();
  if (!hashAlg || mgfHash !== hashAlg || trailer !== 1) return undefined;
  return { kind: "rsa-pss", hash: hashAlg, saltLength };
}

/** Read an AlgorithmIdentifier of a signature (RFC 5280 §4.1.1.2); shared with CRL decoding. */
export function readSignatureAlgorithm(
  r: DerReader,
  field: string,
): CertificateSignatureAlgorithm & { encoded: Uint8Array } {
  const el = r.expect(DER_TAG.SEQUENCE, field);
  const what = `${r.what}.${field}`;
  const alg = r.child(el, field);
  const oid = readOid(alg, "algorithm");
  const params = alg.done ? undefined : alg.any("parameters");
  alg.end();
  let scheme: SignatureScheme | undefined;
  const rsaHash = RSA_PKCS1.get(oid);
  const ecHash = ECDSA.get(oid);
  if (rsaHash) {
    // RFC 4055 §5: NULL parameters; absent ones are tolerated, as many verifiers do.
    if (params && (params.tag !== DER_TAG.NULL || params.content.length !== 0)) {
      throw new MalformedError("bad-value", `${what}.parameters`, "must be NULL");
    }
    scheme = { kind: "rsassa-pkcs1", hash: rsaHash };
  } else if (ecHash) {
    // RFC 5758 §3.2: the parameters field is absent.
    if (params) throw new MalformedError("bad-value", `${what}.parameters`, "must be absent for ECDSA");
    scheme = { kind: "ecdsa-der", hash: ecHash };
  } else if (oid === OID_RSASSA_PSS) {
    scheme = readPssParams(params, `${what}.parameters`);
  }
  return { oid, scheme, encoded: el.encoded };
}

function decodeBasicConstraints(value: Uint8Array): { ca: boolean; pathLen?: number } {
  const outer = new DerReader(value, "basicConstraints");
  const r = outer.sequence("value");
  outer.end();
  const caEl = r.optional(DER_TAG.BOOLEAN, "cA");
  const ca = caEl ? readBoolean(caEl, "basicConstraints.cA") : false;
  const pathEl = r.optional(DER_TAG.INTEGER, "pathLenConstraint");
  r.end();
  return pathEl ? { ca, pathLen: readSmallInteger(pathEl, "basicConstraints.pathLenConstraint") } : { ca };
}

function decodeExtendedKeyUsage(value: Uint8Array): string[] {
  const outer = new DerReader(value, "extKeyUsage");
  const r = outer.sequence("value");
  outer.end();
  const oids: string[] = [];
  while (!r.done) oids.push(readOid(r, "keyPurposeId"));
  // RFC 5280 §4.2.1.12: SEQUENCE SIZE (1..MAX).
  if (oids.length === 0) throw new MalformedError("bad-length", "extKeyUsage", "empty");
  return oids;
}

function decodeAuthorityKeyId(value: Uint8Array): Uint8Array | undefined {
  const outer = new DerReader(value, "authorityKeyIdentifier");
  const r = outer.sequence("value");
  outer.end();
  const keyId = r.optional(contextPrimitive(0), "keyIdentifier");
  r.optional(contextConstructed(1), "authorityCertIssuer");
  r.optional(contextPrimitive(2), "authorityCertSerialNumber");
  r.end();
  return keyId?.content;
}

function decodeOctetString(value: Uint8Array, what: string): Uint8Array {
  const r = new DerReader(value, what);
  const el = r.expect(DER_TAG.OCTET_STRING, "value");
  r.end();
  return el.content;
}

function decodeKeyUsage(value: Uint8Array): number {
  const r = new DerReader(value, "keyUsage");
  const el = r.any("value");
  r.end();
  return readNamedBits(el, "keyUsage");
}

/** GeneralNames (RFC 5280 §4.2.1.6); only directoryName [4] is decoded. */
function decodeSubjectAltName(value: Uint8Array): DistinguishedName[] {
  const outer = new DerReader(value, "subjectAltName");
  const r = outer.sequence("value");
  outer.end();
  const names: DistinguishedName[] = [];
  let count = 0;
  while (!r.done) {
    const el = r.any("generalName");
    if (++count > 64) throw new MalformedError("too-large", "subjectAltName", "too many names");
    // Context tags 0..8; directoryName is [4] EXPLICIT Name.
    if ((el.tag & 0xc0) !== 0x80 || (el.tag & 0x1f) > 8) {
      throw new MalformedError("bad-value", "subjectAltName.generalName", "not a GeneralName");
    }
    if (el.tag === contextConstructed(4)) {
      const dr = r.child(el, "directoryName");
      names.push(decodeName(dr.any("name"), "subjectAltName.directoryName"));
      dr.end();
    }
  }
  if (count === 0) throw new MalformedError("bad-length", "subjectAltName", "empty");
  return names;
}

function tpmDeviceFrom(names: readonly DistinguishedName[]): TpmDeviceAttributes | undefined {
  const attrs = names.flatMap((n) => n.attributes);
  const get = (oid: string) => attrs.find((a) => a.oid === oid)?.value;
  const manufacturer = get("2.23.133.2.1");
  const model = get("2.23.133.2.2");
  const version = get("2.23.133.2.3");
  if (manufacturer === undefined && model === undefined && version === undefined) return undefined;
  return {
    ...(manufacturer !== undefined ? { manufacturer } : {}),
    ...(model !== undefined ? { model } : {}),
    ...(version !== undefined ? { version } : {}),
  };
}

/** The most extensions one certificate may carry; real ones have about ten. */
const MAX_EXTENSIONS = 64;

/** Read an Extensions SEQUENCE (RFC 5280 §4.1.2.9); shared with CRL decoding. */
export function readExtensions(r: DerReader): CertificateExtension[] {
  const list = r.sequence("extensions");
  const out: CertificateExtension[] = [];
  const seen = new Set<string>();
  while (!list.done) {
    if (out.length >= MAX_EXTENSIONS) throw new MalformedError("too-large", "extensions", "too many extensions");
    const ext = list.sequence("extension");
    const oid = readOid(ext, "extnID");
    const critEl = ext.optional(DER_TAG.BOOLEAN, "critical");
    const critical = critEl ? readBoolean(critEl, "extension.critical") : false;
    const value = ext.expect(DER_TAG.OCTET_STRING, "extnValue").content;
    ext.end();
    // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
    if (seen.has(oid)) throw new MalformedError("bad-value", "extensions", "duplicate extension");
    seen.add(oid);
    out.push({ oid, critical, value });
  }
  // RFC 5280 §4.1: Extensions ::= SEQUENCE SIZE (1..MAX).
  if (out.length === 0) throw new MalformedError("bad-length", "extensions", "empty");
  return out;
}

/**
 * Decode a DER X.509 certificate (RFC 5280 §4.1) without verifying anything.
 * Throws `MalformedError` for bytes that are not one certificate exactly.
 *
 * @example
 * const cert = decodeCertificate(der);
 * cert.subject.text; // "CN=swtpm-localca"
 */
export function decodeCertificate(der: Uint8Array): DecodedCertificate {
  if (der.length > MAX_CERTIFICATE_SIZE) throw new MalformedError("too-large", "Certificate", "over 64 KiB");
  const top = new DerReader(der, "Certificate");
  const certEl = top.expect(DER_TAG.SEQUENCE, "certificate");
  top.end();
  const cert = top.child(certEl, "certificate");
  const tbsEl = cert.expect(DER_TAG.SEQUENCE, "tbsCertificate");
  const outerAlg = readSignatureAlgorithm(cert, "signatureAlgorithm");
  const signature = readOctetAlignedBitString(cert.any("signatureValue"), "Certificate.signatureValue");
  cert.end();

  const tbs = cert.child(tbsEl, "tbsCertificate");
  let version = 1;
  const versionEl = tbs.optional(contextConstructed(0), "version");
  if (versionEl) {
    const vr = tbs.child(versionEl, "version");
    version = readSmallInteger(vr.any("value"), "Certificate.version") + 1;
    vr.end();
    if (version > 3) throw new MalformedError("unsupported", "Certificate.version", "not v1, v2 or v3");
  }
  const serialEl = tbs.expect(DER_TAG.INTEGER, "serialNumber");
  // RFC 5280 §4.1.2.2 allows 20 octets; some TPM vendors exceed it, so allow more but stay bounded.
  if (serialEl.content.length === 0 || serialEl.content.length > 64) {
    throw new MalformedError("bad-length", "Certificate.serialNumber", "0 or more than 64 bytes");
  }
  const innerAlg = readSignatureAlgorithm(tbs, "signature");
  // RFC 5280 §4.1.1.2: the outer algorithm MUST equal the signed one.
  if (toHex(innerAlg.encoded) !== toHex(outerAlg.encoded)) {
    throw new MalformedError("bad-value", "Certificate.signatureAlgorithm", "differs from tbsCertificate.signature");
  }
  const issuer = decodeName(tbs.any("issuer"), "Certificate.issuer");
  const validity = tbs.sequence("validity");
  const notBefore = readTime(validity.any("notBefore"), "Certificate.notBefore");
  const notAfter = readTime(validity.any("notAfter"), "Certificate.notAfter");
  validity.end();
  const subject = decodeName(tbs.any("subject"), "Certificate.subject");
  const spkiEl = tbs.expect(DER_TAG.SEQUENCE, "subjectPublicKeyInfo");
  const publicKey = decodeSpkiElement(spkiEl, "Certificate.subjectPublicKeyInfo");
  // issuerUniqueID [1] and subjectUniqueID [2] (RFC 5280 §4.1.2.8): v2+ only, unused here.
  if (tbs.optional(contextPrimitive(1), "issuerUniqueID") && version < 2) {
    throw new MalformedError("bad-value", "Certificate.issuerUniqueID", "only in v2 or v3");
  }
  if (tbs.optional(contextPrimitive(2), "subjectUniqueID") && version < 2) {
    throw new MalformedError("bad-value", "Certificate.subjectUniqueID", "only in v2 or v3");
  }
  let extensions: CertificateExtension[] = [];
  const extEl = tbs.optional(contextConstructed(3), "extensions");
  if (extEl) {
    if (version !== 3) throw new MalformedError("bad-value", "Certificate.extensions", "only in v3");
    const er = tbs.child(extEl, "extensions");
    extensions = readExtensions(er);
    er.end();
  }
  tbs.end();

  const find = (oid: string) => extensions.find((e) => e.oid === oid)?.value;
  const bc = find(EXTENSION_OID.basicConstraints);
  const ku = find(EXTENSION_OID.keyUsage);
  const eku = find(EXTENSION_OID.extKeyUsage);
  const ski = find(EXTENSION_OID.subjectKeyIdentifier);
  const aki = find(EXTENSION_OID.authorityKeyIdentifier);
  const san = find(EXTENSION_OID.subjectAltName);
  const authorityKeyId = aki ? decodeAuthorityKeyId(aki) : undefined;
  const subjectAltDirectoryNames = san ? decodeSubjectAltName(san) : undefined;
  const tpmDevice = subjectAltDirectoryNames ? tpmDeviceFrom(subjectAltDirectoryNames) : undefined;

  return {
    der: der.slice(),
    tbs: tbsEl.encoded,
    version,
    serialHex: toHex(serialEl.content),
    signatureAlgorithm: { oid: outerAlg.oid, scheme: outerAlg.scheme },
    signature,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki: spkiEl.encoded,
    publicKey,
    extensions,
    ...(bc ? { basicConstraints: decodeBasicConstraints(bc) } : {}),
    ...(ku ? { keyUsage: decodeKeyUsage(ku) } : {}),
    ...(eku ? { extendedKeyUsage: decodeExtendedKeyUsage(eku) } : {}),
    ...(ski ? { subjectKeyId: decodeOctetString(ski, "subjectKeyIdentifier") } : {}),
    ...(authorityKeyId ? { authorityKeyId } : {}),
    ...(subjectAltDirectoryNames ? { subjectAltDirectoryNames } : {}),
    ...(tpmDevice ? { tpmDevice } : {}),
  };
}
