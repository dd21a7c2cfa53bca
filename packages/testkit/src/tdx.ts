/**
 * `@veritee/testkit/tdx`: forges Intel TDX quotes (v4 and v5) and their
 * collateral under a test PKI shaped like Intel's: a P-256 "SGX Root CA",
 * a "PCK Platform CA", a PCK certificate with the SGX extensions, a "TCB
 * Signing" certificate for TCB info and QE identity. Every field can be
 * overridden, so each verification step and policy rule gets a one-field
 * negative test. The layout follows the Intel TDX DCAP Quoting Library API,
 * Appendix A; every integer is little-endian. The same PKI forges Intel SGX
 * quotes (version 3, SGX ECDSA Quote Library API §A.4) and SGX collateral
 * ({@link forgeSgxQuote}, {@link forgeSgxTcbInfo}, `forgeQeIdentity` with id "QE").
 */
import * as nodeCrypto from "node:crypto";
import {
  buildCertificate,
  type Ca,
  cat,
  ext,
  int,
  type KeyPair,
  keyId,
  makeIntermediate,
  makeRoot,
  name,
  octets,
  oid,
  seq,
  tlv,
} from "./x509.js";

/** Intel's QE vendor ID, which the verifier requires. */
export const TDX_INTEL_QE_VENDOR_ID = Uint8Array.from(Buffer.from("939a7233f79c4ca9940a0db3957f0607", "hex"));
/** The FMSPC the test PCK certificate and TCB info use by default. */
export const TEST_FMSPC = "00906ed50000";
/** The test QE's MRSIGNER. */
export const TEST_QE_MRSIGNER = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
/** The pinned time the test PKI and collateral are valid at. */
export const TDX_TEST_TIME = new Date("2025-06-01T00:00:00Z");

const SGX = "1.2.840.113741.1.13.1";

/** What the test PCK certificate says about its platform. */
export interface PckSpec {
  fmspc?: string;
  pceId?: string;
  sgxTcbComponents?: number[];
  pceSvn?: number;
  /** Raw serial INTEGER content octets. */
  serial?: Uint8Array;
  notBefore?: Date;
  notAfter?: Date;
}

/** The test PKI. */
export interface TdxTestPki {
  root: Ca;
  platformCa: Ca;
  pckKey: KeyPair;
  pckCert: Uint8Array;
  tcbSigningKey: KeyPair;
  tcbSigningCert: Uint8Array;
  attestationKey: KeyPair;
  pck: Required<Omit<PckSpec, "notBefore" | "notAfter">>;
}

function ecKeyFast(): KeyPair {
  const pair = nodeCrypto.generateKeyPairSync("ec", {
    namedCurve: "P-256",
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "der" },
  });
  return {
    publicKey: nodeCrypto.createPublicKey({ key: pair.publicKey, format: "der", type: "spki" }),
    privateKey: nodeCrypto.createPrivateKey({ key: pair.privateKey, format: "der", type: "pkcs8" }),
  };
}

/** The SGX extension (Intel SGX PCK Certificate Profile §3.5) with a Platform CA's optional parts. */
export function sgxExtension(pck: Required<Omit<PckSpec, "notBefore" | "notAfter" | "serial">>): Uint8Array {
  const comps = pck.sgxTcbComponents.map((svn, i) => seq(oid(`${SGX}.2.${i + 1}`), int(svn)));
  return seq(
    seq(oid(`${SGX}.1`), octets(new Uint8Array(16).fill(0x11))),
    seq(
      oid(`${SGX}.2`),
      seq(
        ...comps,
        seq(oid(`${SGX}.2.17`), int(pck.pceSvn)),
        seq(oid(`${SGX}.2.18`), octets(Uint8Array.from(pck.sgxTcbComponents))),
      ),
    ),
    seq(oid(`${SGX}.3`), octets(Uint8Array.from(Buffer.from(pck.pceId, "hex")))),
    seq(oid(`${SGX}.4`), octets(Uint8Array.from(Buffer.from(pck.fmspc, "hex")))),
    seq(oid(`${SGX}.5`), tlv(0x0a, Uint8Array.of(1))),
    seq(oid(`${SGX}.6`), octets(new Uint8Array(16).fill(0x22))),
    seq(
      oid(`${SGX}.7`),
      seq(
        seq(oid(`${SGX}.7.1`), tlv(0x01, Uint8Array.of(0xff))),
        seq(oid(`${SGX}.7.2`), tlv(0x01, Uint8Array.of(0))),
        seq(oid(`${SGX}.7.3`), tlv(0x01, Uint8Array.of(0xff))),
      ),
    ),
  );
}

const INTEL_NAME = "Veritee Test Intel";

/** Make a fresh test PKI (root, Platform CA, PCK, TCB signing, attestation key). */
export function makeTdxPki(spec: PckSpec = {}): TdxTestPki {
  const root = makeRoot("Test SGX Root CA", ecKeyFast(), { notBefore: new Date("2020-01-01T00:00:00Z") });
  const platformCa = makeIntermediate("Test SGX PCK Platform CA", root, ecKeyFast(), {
    notBefore: new Date("2020-01-01T00:00:00Z"),
  });
  const pck = {
    fmspc: spec.fmspc ?? TEST_FMSPC,
    pceId: spec.pceId ?? "0000",
    sgxTcbComponents: spec.sgxTcbComponents ?? [4, 4, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
    pceSvn: spec.pceSvn ?? 13,
    serial: spec.serial ?? Uint8Array.of(0x7a, 0x01),
  };
  const pckKey = ecKeyFast();
  const pckCert = buildCertificate({
    subject: name("Test SGX PCK Certificate", INTEL_NAME),
    issuer: platformCa.name,
    publicKey: pckKey.publicKey,
    signingKey: platformCa.key.privateKey,
    serial: pck.serial,
    notBefore: spec.notBefore ?? new Date("2024-01-01T00:00:00Z"),
    notAfter: spec.notAfter ?? new Date("2031-01-01T00:00:00Z"),
    extensions: [
      ext.aki(keyId(platformCa.key.publicKey)),
      ext.keyUsage([0, 1]),
      ext.basicConstraints(false),
      { oid: SGX, value: sgxExtension(pck) },
    ],
  });
  const tcbSigningKey = ecKeyFast();
  const tcbSigningCert = buildCertificate({
    subject: name("Intel SGX TCB Signing", INTEL_NAME),
    issuer: root.name,
    publicKey: tcbSigningKey.publicKey,
    signingKey: root.key.privateKey,
    serial: Uint8Array.of(0x7e),
    extensions: [ext.aki(keyId(root.key.publicKey)), ext.keyUsage([0, 1]), ext.basicConstraints(false)],
  });
  return { root, platformCa, pckKey, pckCert, tcbSigningKey, tcbSigningCert, attestationKey: ecKeyFast(), pck };
}

/** PEM text of DER certificates, as certification data type 5 carries them. */
export function pemChain(ders: readonly Uint8Array[]): string {
  return ders
    .map((d) => {
      const b64 = Buffer.from(d).toString("base64").replace(/.{64}/g, "$&\n");
      return `-----BEGIN CERTIFICATE-----\n${b64.endsWith("\n") ? b64 : `${b64}\n`}-----END CERTIFICATE-----\n`;
    })
    .join("");
}

/** TD report body fields (TD_QUOTE_BODY; TD 1.5 adds the last two). */
export interface TdxBodyFields {
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  teeTcbSvn2: Uint8Array;
  mrServiceTd: Uint8Array;
}

/** QE report (SGX REPORT_BODY) fields. */
export interface QeReportFields {
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  /** Default: SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes. */
  reportData?: Uint8Array;
}

/** Options of {@link forgeTdxQuote}: any one field can be changed. */
export interface ForgeTdxQuoteOptions {
  version?: 4 | 5;
  /** Version 5 only: body type 2 (TD 1.0) or 3 (TD 1.5, the default). */
  bodyType?: 2 | 3;
  qeVendorId?: Uint8Array;
  userData?: Uint8Array;
  body?: Partial<TdxBodyFields>;
  qeReport?: Partial<QeReportFields>;
  qeAuthData?: Uint8Array;
  /** The certificates carried, leaf first; default PCK, Platform CA, root. */
  chain?: Uint8Array[];
  /** Sign the quote with this key instead of the attestation key (the quoted key stays the same). */
  quoteSigningKey?: nodeCrypto.KeyObject;
  /** Sign the QE report with this key instead of the PCK key. */
  qeSigningKey?: nodeCrypto.KeyObject;
}

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

/** The default body: non-zero measurements, DEBUG off, module version 0. */
export function defaultTdxBody(): TdxBodyFields {
  return {
    teeTcbSvn: Uint8Array.from([3, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    mrSeam: fill(48, 0x5e),
    mrSignerSeam: fill(48, 0),
    seamAttributes: fill(8, 0),
    tdAttributes: Uint8Array.from([0, 0, 0, 0x10, 0, 0, 0, 0]),
    xfam: Uint8Array.from([0xe7, 0x02, 0x06, 0, 0, 0, 0, 0]),
    mrTd: fill(48, 0x7d),
    mrConfigId: fill(48, 0),
    mrOwner: fill(48, 0),
    mrOwnerConfig: fill(48, 0),
    rtmrs: [fill(48, 0x10), fill(48, 0x11), fill(48, 0x12), fill(48, 0x13)],
    reportData: fill(64, 0xd4),
    teeTcbSvn2: fill(16, 0),
    mrServiceTd: fill(48, 0),
  };
}

function u16(v: number): Uint8Array {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}
function u32(v: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** The raw P-256 point x‖y of a public key. */
export function rawP256(key: nodeCrypto.KeyObject): Uint8Array {
  const jwk = key.export({ format: "jwk" });
  return cat(Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url"));
}

function p1363(key: nodeCrypto.KeyObject, data: Uint8Array): Uint8Array {
  return Uint8Array.from(nodeCrypto.sign("sha256", data, { key, dsaEncoding: "ieee-p1363" }));
}

/** Encode an SGX REPORT_BODY (384 bytes) from its fields. */
export function encodeQeReport(f: QeReportFields & { reportData: Uint8Array }): Uint8Array {
  return cat(
    f.cpuSvn,
    u32(f.miscSelect),
    fill(12, 0),
    fill(16, 0),
    f.attributes,
    f.mrEnclave,
    fill(32, 0),
    f.mrSigner,
    fill(32, 0),
    fill(64, 0),
    u16(f.isvProdId),
    u16(f.isvSvn),
    u16(0),
    fill(42, 0),
    fill(16, 0),
    f.reportData,
  );
}

/** Forge a complete, valid TDX quote under `pki`, with any field overridden. */
export function forgeTdxQuote(pki: TdxTestPki, options: ForgeTdxQuoteOptions = {}): Uint8Array {
  const version = options.version ?? 4;
  const b = { ...defaultTdxBody(), ...options.body };
  const header = cat(
    u16(version),
    u16(2),
    u32(0x81),
    u16(0),
    u16(0),
    options.qeVendorId ?? TDX_INTEL_QE_VENDOR_ID,
    options.userData ?? fill(20, 0x42),
  );
  const td10 = cat(
    b.teeTcbSvn,
    b.mrSeam,
    b.mrSignerSeam,
    b.seamAttributes,
    b.tdAttributes,
    b.xfam,
    b.mrTd,
    b.mrConfigId,
    b.mrOwner,
    b.mrOwnerConfig,
    ...b.rtmrs,
    b.reportData,
  );
  let signed: Uint8Array;
  if (version === 4) {
    signed = cat(header, td10);
  } else {
    const type = options.bodyType ?? 3;
    const body = type === 3 ? cat(td10, b.teeTcbSvn2, b.mrServiceTd) : td10;
    signed = cat(header, u16(type), u32(body.length), body);
  }
  const attKey = rawP256(pki.attestationKey.publicKey);
  const qeAuthData = options.qeAuthData ?? Uint8Array.from({ length: 32 }, (_, i) => i);
  const q = options.qeReport ?? {};
  const qeReport = encodeQeReport({
    cpuSvn: q.cpuSvn ?? Uint8Array.from([4, 4, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]),
    miscSelect: q.miscSelect ?? 0,
    attributes: q.attributes ?? Uint8Array.from([0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0]),
    mrEnclave: q.mrEnclave ?? fill(32, 0xee),
    mrSigner: q.mrSigner ?? TEST_QE_MRSIGNER,
    isvProdId: q.isvProdId ?? 2,
    isvSvn: q.isvSvn ?? 4,
    reportData:
      q.reportData ??
      cat(Uint8Array.from(nodeCrypto.createHash("sha256").update(attKey).update(qeAuthData).digest()), fill(32, 0)),
  });
  const pem = new TextEncoder().encode(pemChain(options.chain ?? [pki.pckCert, pki.platformCa.cert, pki.root.cert]));
  const qeCertData = cat(
    qeReport,
    p1363(options.qeSigningKey ?? pki.pckKey.privateKey, qeReport),
    u16(qeAuthData.length),
    qeAuthData,
    u16(5),
    u32(pem.length),
    pem,
  );
  const sigData = cat(
    p1363(options.quoteSigningKey ?? pki.attestationKey.privateKey, signed),
    attKey,
    u16(6),
    u32(qeCertData.length),
    qeCertData,
  );
  return cat(signed, u32(sigData.length), sigData);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** One platform TCB level of forged TCB info. */
export interface TcbLevelSpec {
  sgx: number[];
  pceSvn: number;
  tdx: number[];
  tcbDate: string;
  tcbStatus: string;
  advisoryIDs?: string[];
}

/** Options of {@link forgeTcbInfo}: the JSON fields to change. */
export interface ForgeTcbInfoOptions {
  fmspc?: string;
  pceId?: string;
  issueDate?: string;
  nextUpdate?: string;
  tcbLevels?: TcbLevelSpec[];
  tdxModule?: { mrsigner: string; attributes: string; attributesMask: string };
  tdxModuleIdentities?: unknown[];
  /** Replace or add any member of the tcbInfo object (applied last). */
  extra?: Record<string, unknown>;
  signingKey?: nodeCrypto.KeyObject;
}

/** The default TCB levels: UpToDate for the default forged platform, then OutOfDate. */
export function defaultTcbLevels(): TcbLevelSpec[] {
  const zeros = new Array(13).fill(0);
  return [
    {
      sgx: [4, 4, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
      pceSvn: 13,
      tdx: [3, 0, 5, ...zeros],
      tcbDate: "2024-03-13T00:00:00Z",
      tcbStatus: "UpToDate",
    },
    {
      sgx: [2, 2, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0],
      pceSvn: 11,
      tdx: [2, 0, 3, ...zeros],
      tcbDate: "2023-02-15T00:00:00Z",
      tcbStatus: "OutOfDate",
      advisoryIDs: ["INTEL-SA-00837"],
    },
  ];
}

function sign(member: string, value: object, key: nodeCrypto.KeyObject): string {
  const body = JSON.stringify(value);
  return `{"${member}":${body},"signature":"${hex(p1363(key, new TextEncoder().encode(body)))}"}`;
}

/** Forge a signed TDX TCB info response body (TCB Info v3). */
export function forgeTcbInfo(pki: TdxTestPki, options: ForgeTcbInfoOptions = {}): string {
  const levels = (options.tcbLevels ?? defaultTcbLevels()).map((l) => ({
    tcb: {
      sgxtcbcomponents: l.sgx.map((svn) => ({ svn })),
      pcesvn: l.pceSvn,
      tdxtcbcomponents: l.tdx.map((svn) => ({ svn })),
    },
    tcbDate: l.tcbDate,
    tcbStatus: l.tcbStatus,
    ...(l.advisoryIDs ? { advisoryIDs: l.advisoryIDs } : {}),
  }));
  const value = {
    id: "TDX",
    version: 3,
    issueDate: options.issueDate ?? "2025-05-20T00:00:00Z",
    nextUpdate: options.nextUpdate ?? "2025-06-19T00:00:00Z",
    fmspc: options.fmspc ?? pki.pck.fmspc,
    pceId: options.pceId ?? pki.pck.pceId,
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    tdxModule: options.tdxModule ?? {
      mrsigner: "00".repeat(48),
      attributes: "00".repeat(8),
      attributesMask: "FF".repeat(8),
    },
    ...(options.tdxModuleIdentities ? { tdxModuleIdentities: options.tdxModuleIdentities } : {}),
    tcbLevels: levels,
    ...options.extra,
  };
  return sign("tcbInfo", value, options.signingKey ?? pki.tcbSigningKey.privateKey);
}

/** Options of {@link forgeQeIdentity}. */
export interface ForgeQeIdentityOptions {
  /** "TD_QE" (default) or "QE" (the SGX QE identity). */
  id?: string;
  issueDate?: string;
  nextUpdate?: string;
  mrsigner?: string;
  isvprodid?: number;
  miscselect?: string;
  miscselectMask?: string;
  attributes?: string;
  attributesMask?: string;
  tcbLevels?: { isvsvn: number; tcbDate: string; tcbStatus: string; advisoryIDs?: string[] }[];
  extra?: Record<string, unknown>;
  signingKey?: nodeCrypto.KeyObject;
}

/** Forge a signed TD QE identity response body (Enclave Identity v2). */
export function forgeQeIdentity(pki: TdxTestPki, options: ForgeQeIdentityOptions = {}): string {
  const value = {
    id: options.id ?? "TD_QE",
    version: 2,
    issueDate: options.issueDate ?? "2025-05-20T00:00:00Z",
    nextUpdate: options.nextUpdate ?? "2025-06-19T00:00:00Z",
    tcbEvaluationDataNumber: 17,
    miscselect: options.miscselect ?? "00000000",
    miscselectMask: options.miscselectMask ?? "FFFFFFFF",
    attributes: options.attributes ?? "11000000000000000000000000000000",
    attributesMask: options.attributesMask ?? "FBFFFFFFFFFFFFFF0000000000000000",
    mrsigner: options.mrsigner ?? hex(TEST_QE_MRSIGNER).toUpperCase(),
    isvprodid: options.isvprodid ?? 2,
    tcbLevels: (
      options.tcbLevels ?? [
        { isvsvn: 4, tcbDate: "2024-03-13T00:00:00Z", tcbStatus: "UpToDate" },
        { isvsvn: 2, tcbDate: "2023-02-15T00:00:00Z", tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-00615"] },
      ]
    ).map((l) => ({
      tcb: { isvsvn: l.isvsvn },
      tcbDate: l.tcbDate,
      tcbStatus: l.tcbStatus,
      ...(l.advisoryIDs ? { advisoryIDs: l.advisoryIDs } : {}),
    })),
    ...options.extra,
  };
  return sign("enclaveIdentity", value, options.signingKey ?? pki.tcbSigningKey.privateKey);
}

/** ISV enclave report body fields of a forged SGX quote. */
export interface SgxBodyFields extends QeReportFields {
  reportData: Uint8Array;
}

/** The default enclave: non-zero MRENCLAVE/MRSIGNER, product 7, SVN 3, DEBUG off (INIT|MODE64BIT). */
export function defaultSgxBody(): SgxBodyFields {
  return {
    cpuSvn: Uint8Array.from([4, 4, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]),
    miscSelect: 0,
    attributes: Uint8Array.from([0x05, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0]),
    mrEnclave: fill(32, 0x3e),
    mrSigner: fill(32, 0x51),
    isvProdId: 7,
    isvSvn: 3,
    reportData: fill(64, 0xd5),
  };
}

/** Options of {@link forgeSgxQuote}: any one field can be changed. */
export interface ForgeSgxQuoteOptions {
  version?: number;
  /** Header bytes 4..8 (reserved in version 3; TEE type 0 = SGX). */
  teeType?: number;
  qeSvn?: number;
  pceSvn?: number;
  qeVendorId?: Uint8Array;
  userData?: Uint8Array;
  body?: Partial<SgxBodyFields>;
  qeReport?: Partial<QeReportFields>;
  qeAuthData?: Uint8Array;
  /** The certificates carried, leaf first; default PCK, Platform CA, root. */
  chain?: Uint8Array[];
  /** Sign the quote with this key instead of the attestation key (the quoted key stays the same). */
  quoteSigningKey?: nodeCrypto.KeyObject;
  /** Sign the QE report with this key instead of the PCK key. */
  qeSigningKey?: nodeCrypto.KeyObject;
}

/** Forge a complete, valid SGX quote (version 3) under `pki`, with any field overridden. */
export function forgeSgxQuote(pki: TdxTestPki, options: ForgeSgxQuoteOptions = {}): Uint8Array {
  const header = cat(
    u16(options.version ?? 3),
    u16(2),
    u32(options.teeType ?? 0),
    u16(options.qeSvn ?? 8),
    u16(options.pceSvn ?? 13),
    options.qeVendorId ?? TDX_INTEL_QE_VENDOR_ID,
    options.userData ?? fill(20, 0x42),
  );
  const signed = cat(header, encodeQeReport({ ...defaultSgxBody(), ...options.body }));
  const attKey = rawP256(pki.attestationKey.publicKey);
  const qeAuthData = options.qeAuthData ?? Uint8Array.from({ length: 32 }, (_, i) => i);
  const q = options.qeReport ?? {};
  const qeReport = encodeQeReport({
    cpuSvn: q.cpuSvn ?? Uint8Array.from([4, 4, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]),
    miscSelect: q.miscSelect ?? 0,
    attributes: q.attributes ?? Uint8Array.from([0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0]),
    mrEnclave: q.mrEnclave ?? fill(32, 0xee),
    mrSigner: q.mrSigner ?? TEST_QE_MRSIGNER,
    isvProdId: q.isvProdId ?? 2,
    isvSvn: q.isvSvn ?? 4,
    reportData:
      q.reportData ??
      cat(Uint8Array.from(nodeCrypto.createHash("sha256").update(attKey).update(qeAuthData).digest()), fill(32, 0)),
  });
  const pem = new TextEncoder().encode(pemChain(options.chain ?? [pki.pckCert, pki.platformCa.cert, pki.root.cert]));
  // Version 3 carries the QE report inline, not inside certification data type 6.
  const sigData = cat(
    p1363(options.quoteSigningKey ?? pki.attestationKey.privateKey, signed),
    attKey,
    qeReport,
    p1363(options.qeSigningKey ?? pki.pckKey.privateKey, qeReport),
    u16(qeAuthData.length),
    qeAuthData,
    u16(5),
    u32(pem.length),
    pem,
  );
  return cat(signed, u32(sigData.length), sigData);
}

/** One platform TCB level of forged SGX TCB info. */
export interface SgxTcbLevelSpec {
  sgx: number[];
  pceSvn: number;
  tcbDate: string;
  tcbStatus: string;
  advisoryIDs?: string[];
}

/** Options of {@link forgeSgxTcbInfo}. */
export interface ForgeSgxTcbInfoOptions {
  fmspc?: string;
  pceId?: string;
  issueDate?: string;
  nextUpdate?: string;
  tcbLevels?: SgxTcbLevelSpec[];
  /** Replace or add any member of the tcbInfo object (applied last). */
  extra?: Record<string, unknown>;
  signingKey?: nodeCrypto.KeyObject;
}

/** The default SGX levels: UpToDate for the default forged platform, then OutOfDate. */
export function defaultSgxTcbLevels(): SgxTcbLevelSpec[] {
  return defaultTcbLevels().map(({ tdx: _tdx, ...l }) => l);
}

/** Forge a signed SGX TCB info response body (TCB Info v3, id "SGX"). */
export function forgeSgxTcbInfo(pki: TdxTestPki, options: ForgeSgxTcbInfoOptions = {}): string {
  const levels = (options.tcbLevels ?? defaultSgxTcbLevels()).map((l) => ({
    tcb: { sgxtcbcomponents: l.sgx.map((svn) => ({ svn })), pcesvn: l.pceSvn },
    tcbDate: l.tcbDate,
    tcbStatus: l.tcbStatus,
    ...(l.advisoryIDs ? { advisoryIDs: l.advisoryIDs } : {}),
  }));
  const value = {
    id: "SGX",
    version: 3,
    issueDate: options.issueDate ?? "2025-05-20T00:00:00Z",
    nextUpdate: options.nextUpdate ?? "2025-06-19T00:00:00Z",
    fmspc: options.fmspc ?? pki.pck.fmspc,
    pceId: options.pceId ?? pki.pck.pceId,
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    tcbLevels: levels,
    ...options.extra,
  };
  return sign("tcbInfo", value, options.signingKey ?? pki.tcbSigningKey.privateKey);
}

/** The TCB signing chain as PCS sends it (PEM: signing certificate, then root). */
export function tcbSigningChainPem(pki: TdxTestPki): string {
  return pemChain([pki.tcbSigningCert, pki.root.cert]);
}

/**
 * Intel's "Intel SGX TCB Signing" certificate (issued by the Intel SGX Root
 * CA, valid 2018-05-21..2025-05-21), which signed the vectors' TCB info and
 * QE identity. It is not among the vectors: PCS sends it in the
 * TCB-Info-Issuer-Chain response header. This is Intel's public certificate
 * as that header carries it (also published in google/go-tdx-guest's
 * verification tests); the tests prove it chains to the embedded root, so
 * nothing is trusted because of where it was copied from.
 * SHA-256 of the DER: see the test "the TCB signing certificate chains to the Intel root".
 */
export const INTEL_TCB_SIGNING_PEM = `-----BEGIN CERTIFICATE-----
MIICizCCAjKgAwIBAgIUfjiC1ftVKUpASY5FhAPpFJG99FUwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNTAxMFoXDTI1MDUyMTEwNTAxMFowbDEeMBwG
A1UEAwwVSW50ZWwgU0dYIFRDQiBTaWduaW5nMRowGAYDVQQKDBFJbnRlbCBDb3Jw
b3JhdGlvbjEUMBIGA1UEBwwLU2FudGEgQ2xhcmExCzAJBgNVBAgMAkNBMQswCQYD
VQQGEwJVUzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABENFG8xzydWRfK92bmGv
P+mAh91PEyV7Jh6FGJd5ndE9aBH7R3E4A7ubrlh/zN3C4xvpoouGlirMba+W2lju
ypajgbUwgbIwHwYDVR0jBBgwFoAUImUM1lqdNInzg7SVUr9QGzknBqwwUgYDVR0f
BEswSTBHoEWgQ4ZBaHR0cHM6Ly9jZXJ0aWZpY2F0ZXMudHJ1c3RlZHNlcnZpY2Vz
LmludGVsLmNvbS9JbnRlbFNHWFJvb3RDQS5kZXIwHQYDVR0OBBYEFH44gtX7VSlK
QEmORYQD6RSRvfRVMA4GA1UdDwEB/wQEAwIGwDAMBgNVHRMBAf8EAjAAMAoGCCqG
SM49BAMCA0cAMEQCIB9C8wOAN/ImxDtGACV246KcqjagZOR0kyctyBrsGGJVAiAj
ftbrNGsGU8YH211dRiYNoPPu19Zp/ze8JmhujB0oBw==
-----END CERTIFICATE-----
`;
