/**
 * `@veritee/testkit/x509`: a small DER encoder and X.509 certificate builder
 * for tests. It forges certificates with any one field changed, signed with
 * keys made in the test, under test roots (TPM EK chains, AMD- and
 * Intel-shaped chains for TEE evidence).
 */
import * as nodeCrypto from "node:crypto";
import { derOid, derTlv } from "@veritee/core";

/** Core's DER writer: tests build with the encoder the project ships (and forge by editing its output). */
export const tlv: (tag: number, content: Uint8Array) => Uint8Array = derTlv;

export function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

export const seq = (...parts: Uint8Array[]) => tlv(0x30, cat(...parts));
export const set = (...parts: Uint8Array[]) => tlv(0x31, cat(...parts));
export const octets = (b: Uint8Array) => tlv(0x04, b);
export const bool = (v: boolean) => tlv(0x01, Uint8Array.of(v ? 0xff : 0));
export const nul = () => tlv(0x05, new Uint8Array(0));
export const utf8 = (s: string) => tlv(0x0c, new TextEncoder().encode(s));
export const explicit = (n: number, inner: Uint8Array) => tlv(0xa0 | n, inner);
export const bitString = (b: Uint8Array) => tlv(0x03, cat(Uint8Array.of(0), b));

export const oid: (dotted: string) => Uint8Array = derOid;

/** A minimally encoded non-negative INTEGER. */
export function int(v: number | bigint): Uint8Array {
  let x = BigInt(v);
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  } while (x > 0n);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

/** UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). */
export function time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}Z`;
  if (y >= 1950 && y < 2050) return tlv(0x17, new TextEncoder().encode(pad(y % 100, 2) + rest));
  return tlv(0x18, new TextEncoder().encode(pad(y, 4) + rest));
}

/** A Name with one CN (and optionally O) attribute. */
export function name(cn: string, o?: string): Uint8Array {
  const rdns = [];
  if (o !== undefined) rdns.push(set(seq(oid("2.5.4.10"), utf8(o))));
  rdns.push(set(seq(oid("2.5.4.3"), utf8(cn))));
  return seq(...rdns);
}

export interface Ext {
  oid: string;
  critical?: boolean;
  value: Uint8Array;
}

export function extension(e: Ext): Uint8Array {
  return seq(oid(e.oid), ...(e.critical ? [bool(true)] : []), octets(e.value));
}

export const ext = {
  basicConstraints: (ca: boolean, pathLen?: number, critical = true): Ext => ({
    oid: "2.5.29.19",
    critical,
    value: seq(...(ca ? [bool(true)] : []), ...(pathLen !== undefined ? [int(pathLen)] : [])),
  }),
  /** keyUsage from bit numbers (0 = digitalSignature, 5 = keyCertSign, ...). */
  keyUsage: (bits: number[], critical = true): Ext => {
    let mask = 0;
    for (const b of bits) mask |= 0x8000 >> b;
    const bytes = mask & 0xff ? [mask >> 8, mask & 0xff] : [mask >> 8];
    const last = bytes[bytes.length - 1]!;
    let unused = 0;
    while (unused < 7 && last !== 0 && (last & (1 << unused)) === 0) unused++;
    return { oid: "2.5.29.15", critical, value: tlv(0x03, Uint8Array.of(unused, ...bytes)) };
  },
  eku: (...oids: string[]): Ext => ({ oid: "2.5.29.37", value: seq(...oids.map(oid)) }),
  ski: (id: Uint8Array): Ext => ({ oid: "2.5.29.14", value: octets(id) }),
  aki: (id: Uint8Array): Ext => ({ oid: "2.5.29.35", value: seq(tlv(0x80, id)) }),
  /** subjectAltName with a TPM directoryName (TCG EK Credential Profile §3.2.9). */
  tpmSan: (manufacturer: string, model: string, version: string): Ext => ({
    oid: "2.5.29.17",
    critical: true,
    value: seq(
      explicit(
        4,
        seq(
          set(seq(oid("2.23.133.2.1"), utf8(manufacturer))),
          set(seq(oid("2.23.133.2.2"), utf8(model))),
          set(seq(oid("2.23.133.2.3"), utf8(version))),
        ),
      ),
    ),
  }),
  custom: (dotted: string, critical: boolean): Ext => ({ oid: dotted, critical, value: nul() }),
};

export type SigAlg = "rsa-sha256" | "rsa-sha1" | "rsa-pss-sha256" | "rsa-pss-sha384" | "ecdsa-sha256" | "ecdsa-sha384";

function algorithmIdentifier(alg: SigAlg): Uint8Array {
  switch (alg) {
    case "rsa-sha256":
      return seq(oid("1.2.840.113549.1.1.11"), nul());
    case "rsa-sha1":
      return seq(oid("1.2.840.113549.1.1.5"), nul());
    case "rsa-pss-sha256":
      return seq(
        oid("1.2.840.113549.1.1.10"),
        seq(
          explicit(0, seq(oid("2.16.840.1.101.3.4.2.1"), nul())),
          explicit(1, seq(oid("1.2.840.113549.1.1.8"), seq(oid("2.16.840.1.101.3.4.2.1"), nul()))),
          explicit(2, int(32)),
        ),
      );
    case "rsa-pss-sha384":
      // AMD's ARK/ASK/VCEK certificates: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48 (RFC 4055 §3.1).
      return seq(
        oid("1.2.840.113549.1.1.10"),
        seq(
          explicit(0, seq(oid("2.16.840.1.101.3.4.2.2"), nul())),
          explicit(1, seq(oid("1.2.840.113549.1.1.8"), seq(oid("2.16.840.1.101.3.4.2.2"), nul()))),
          explicit(2, int(48)),
        ),
      );
    case "ecdsa-sha256":
      return seq(oid("1.2.840.10045.4.3.2"));
    case "ecdsa-sha384":
      return seq(oid("1.2.840.10045.4.3.3"));
  }
}

function sign(alg: SigAlg, key: nodeCrypto.KeyObject, data: Uint8Array): Uint8Array {
  switch (alg) {
    case "rsa-sha256":
      return nodeCrypto.sign("sha256", data, key);
    case "rsa-sha1":
      return nodeCrypto.sign("sha1", data, key);
    case "rsa-pss-sha256":
      return nodeCrypto.sign("sha256", data, {
        key,
        padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    case "rsa-pss-sha384":
      return nodeCrypto.sign("sha384", data, {
        key,
        padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 48,
      });
    case "ecdsa-sha256":
      return nodeCrypto.sign("sha256", data, { key, dsaEncoding: "der" });
    case "ecdsa-sha384":
      return nodeCrypto.sign("sha384", data, { key, dsaEncoding: "der" });
  }
}

export interface CertSpec {
  subject: Uint8Array;
  issuer: Uint8Array;
  publicKey: nodeCrypto.KeyObject;
  signingKey: nodeCrypto.KeyObject;
  sigAlg?: SigAlg;
  /** Raw INTEGER content octets of the serial; default 01. */
  serial?: Uint8Array;
  notBefore?: Date;
  notAfter?: Date;
  extensions?: Ext[];
  /** Replace the outer signatureAlgorithm (to forge a mismatch). */
  outerSigAlg?: SigAlg;
}

export const DEFAULT_NOT_BEFORE = new Date("2024-01-01T00:00:00Z");
export const DEFAULT_NOT_AFTER = new Date("2034-01-01T00:00:00Z");

/** Build and sign a v3 certificate. */
export function buildCertificate(spec: CertSpec): Uint8Array {
  const sigAlg = spec.sigAlg ?? (spec.signingKey.asymmetricKeyType === "rsa" ? "rsa-sha256" : "ecdsa-sha256");
  const spki = Uint8Array.from(spec.publicKey.export({ format: "der", type: "spki" }));
  const exts = spec.extensions ?? [];
  const tbs = seq(
    explicit(0, int(2)),
    tlv(0x02, spec.serial ?? Uint8Array.of(1)),
    algorithmIdentifier(sigAlg),
    spec.issuer,
    seq(time(spec.notBefore ?? DEFAULT_NOT_BEFORE), time(spec.notAfter ?? DEFAULT_NOT_AFTER)),
    spec.subject,
    spki,
    ...(exts.length > 0 ? [explicit(3, seq(...exts.map(extension)))] : []),
  );
  const signature = sign(sigAlg, spec.signingKey, tbs);
  return seq(tbs, algorithmIdentifier(spec.outerSigAlg ?? sigAlg), bitString(signature));
}

export interface KeyPair {
  publicKey: nodeCrypto.KeyObject;
  privateKey: nodeCrypto.KeyObject;
}

// Keys are generated with their encodings made inside the generation job and
// re-imported: exporting from the KeyObject a job made deadlocked Node 20 once
// (see core's generateX25519).
function reimport(pair: { publicKey: Buffer; privateKey: Buffer }): KeyPair {
  return {
    publicKey: nodeCrypto.createPublicKey({ key: pair.publicKey, format: "der", type: "spki" }),
    privateKey: nodeCrypto.createPrivateKey({ key: pair.privateKey, format: "der", type: "pkcs8" }),
  };
}

/** A fresh EC key pair. */
export function ecKey(curve: "P-256" | "P-384" = "P-256"): KeyPair {
  return reimport(
    nodeCrypto.generateKeyPairSync("ec", {
      namedCurve: curve,
      publicKeyEncoding: { type: "spki", format: "der" },
      privateKeyEncoding: { type: "pkcs8", format: "der" },
    }),
  );
}

/** A fresh RSA key pair. */
export function rsaKey(bits = 2048): KeyPair {
  return reimport(
    nodeCrypto.generateKeyPairSync("rsa", {
      modulusLength: bits,
      publicKeyEncoding: { type: "spki", format: "der" },
      privateKeyEncoding: { type: "pkcs8", format: "der" },
    }),
  );
}

/** A subject key identifier: SHA-1 of the public key bits, as RFC 5280 §4.2.1.2 method (1) suggests. */
export function keyId(key: nodeCrypto.KeyObject): Uint8Array {
  return Uint8Array.from(
    nodeCrypto
      .createHash("sha1")
      .update(key.export({ format: "der", type: "spki" }))
      .digest(),
  );
}

export interface Ca {
  name: Uint8Array;
  key: KeyPair;
  cert: Uint8Array;
}

/** A self-signed root CA. */
export function makeRoot(cn: string, key: KeyPair = ecKey(), extra: Partial<CertSpec> = {}): Ca {
  const n = name(cn, "Veritee Test");
  const cert = buildCertificate({
    subject: n,
    issuer: n,
    publicKey: key.publicKey,
    signingKey: key.privateKey,
    extensions: [ext.basicConstraints(true), ext.keyUsage([5, 6]), ext.ski(keyId(key.publicKey))],
    ...extra,
  });
  return { name: n, key, cert };
}

/** An intermediate CA issued by `parent`. */
export function makeIntermediate(cn: string, parent: Ca, key: KeyPair = ecKey(), extra: Partial<CertSpec> = {}): Ca {
  const n = name(cn, "Veritee Test");
  const cert = buildCertificate({
    subject: n,
    issuer: parent.name,
    publicKey: key.publicKey,
    signingKey: parent.key.privateKey,
    extensions: [
      ext.basicConstraints(true),
      ext.keyUsage([5, 6]),
      ext.ski(keyId(key.publicKey)),
      ext.aki(keyId(parent.key.publicKey)),
    ],
    ...extra,
  });
  return { name: n, key, cert };
}

/** A TPM-style leaf (empty subject, critical TPM subjectAltName, EK EKU) issued by `parent`. */
export function makeLeaf(parent: Ca, key: KeyPair = ecKey(), extra: Partial<CertSpec> = {}): Uint8Array {
  return buildCertificate({
    subject: seq(),
    issuer: parent.name,
    publicKey: key.publicKey,
    signingKey: parent.key.privateKey,
    serial: Uint8Array.of(0x12, 0x34),
    extensions: [
      ext.basicConstraints(false),
      ext.keyUsage([2]),
      ext.eku("2.23.133.8.1"),
      ext.tpmSan("id:00001014", "swtpm", "id:20191023"),
      ext.aki(keyId(parent.key.publicKey)),
    ],
    ...extra,
  });
}

export interface CrlEntrySpec {
  /** Raw INTEGER content octets of the revoked serial. */
  serial: Uint8Array;
  date?: Date;
  /** CRLReason (RFC 5280 §5.3.1), e.g. 1 = keyCompromise. */
  reason?: number;
  extensions?: Ext[];
}

export interface CrlSpec {
  /** The CA that signs the CRL (its name is the CRL's issuer unless `issuerName` is given). */
  issuer: Ca;
  issuerName?: Uint8Array;
  thisUpdate?: Date;
  /** `null` leaves nextUpdate out. */
  nextUpdate?: Date | null;
  revoked?: CrlEntrySpec[];
  crlNumber?: number;
  /** Add authorityKeyIdentifier of the issuer's key (default true). */
  aki?: boolean;
  extensions?: Ext[];
  sigAlg?: SigAlg;
  /** Sign with this key instead of the issuer's (to forge a bad signature). */
  signingKey?: nodeCrypto.KeyObject;
}

/** Build and sign a v2 CRL (RFC 5280 §5.1). */
export function buildCrl(spec: CrlSpec): Uint8Array {
  const sigAlg =
    spec.sigAlg ?? (spec.issuer.key.privateKey.asymmetricKeyType === "rsa" ? "rsa-sha256" : "ecdsa-sha256");
  const thisUpdate = spec.thisUpdate ?? DEFAULT_NOT_BEFORE;
  const nextUpdate = spec.nextUpdate === undefined ? DEFAULT_NOT_AFTER : spec.nextUpdate;
  const entries = (spec.revoked ?? []).map((e) =>
    seq(
      tlv(0x02, e.serial),
      time(e.date ?? thisUpdate),
      ...(e.reason !== undefined || e.extensions
        ? [
            seq(
              ...(e.reason !== undefined
                ? [extension({ oid: "2.5.29.21", value: tlv(0x0a, Uint8Array.of(e.reason)) })]
                : []),
              ...(e.extensions ?? []).map(extension),
            ),
          ]
        : []),
    ),
  );
  const exts: Ext[] = [
    ...(spec.crlNumber !== undefined ? [{ oid: "2.5.29.20", value: int(spec.crlNumber) }] : []),
    ...(spec.aki === false ? [] : [ext.aki(keyId(spec.issuer.key.publicKey))]),
    ...(spec.extensions ?? []),
  ];
  const tbs = seq(
    int(1),
    algorithmIdentifier(sigAlg),
    spec.issuerName ?? spec.issuer.name,
    time(thisUpdate),
    ...(nextUpdate === null ? [] : [time(nextUpdate)]),
    ...(entries.length > 0 ? [seq(...entries)] : []),
    ...(exts.length > 0 ? [explicit(0, seq(...exts.map(extension)))] : []),
  );
  const signature = sign(sigAlg, spec.signingKey ?? spec.issuer.key.privateKey, tbs);
  return seq(tbs, algorithmIdentifier(sigAlg), bitString(signature));
}
