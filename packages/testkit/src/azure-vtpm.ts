/**
 * `@veritee/testkit/azure-vtpm`: forges Azure confidential VM evidence for
 * tests only: runtime claims (JSON carrying a given AK), the HCL report
 * around a forged SEV-SNP report or TDX TDREPORT whose report data hashes
 * those claims, and, for TDX, the matching TD quote. Any one field can be
 * changed, so every check of the verifier and every policy rule has a
 * one-field negative test. The layout follows Microsoft's "Guest
 * attestation for confidential VMs" attestation report format; no real
 * Azure capture is involved.
 */
import * as nodeCrypto from "node:crypto";
import { defaultSnpReportFields, forgeSnpReport, type SnpReportFields, type SnpTestPki } from "./snp.js";
import {
  defaultTdxBody,
  type ForgeTdxQuoteOptions,
  forgeTdxQuote,
  type TdxBodyFields,
  type TdxTestPki,
} from "./tdx.js";

/** The `vm-configuration` members the forger writes (JSON names). */
export interface VmConfigurationSpec {
  "console-enabled"?: boolean;
  "secure-boot"?: boolean;
  "tpm-enabled"?: boolean;
  "tpm-persisted"?: boolean;
  vmUniqueId?: string;
}

/** What {@link runtimeClaimsJson} writes. */
export interface RuntimeClaimsSpec {
  /** The AK's JWK (RSA n/e or EC crv/x/y); written with kid "HCLAkPub". */
  akPub: JsonWebKey;
  /** The EK's JWK, written with kid "HCLEkPub"; none by default. */
  ekPub?: JsonWebKey;
  /** Overrides of the default configuration (secure boot on, TPM on, console off). */
  vmConfiguration?: VmConfigurationSpec;
  /** `user-data` as written (hex); none by default. */
  userData?: string;
  /** Replace the whole document (after the defaults are built), e.g. to drop a member. */
  edit?: (claims: Record<string, unknown>) => Record<string, unknown>;
}

function jwkMembers(jwk: JsonWebKey, kid: string, op: string): Record<string, unknown> {
  if (jwk.kty === "RSA") return { kid, key_ops: [op], kty: "RSA", e: jwk.e, n: jwk.n };
  return { kid, key_ops: [op], kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** Runtime claims as the HCL writes them: compact JSON, UTF-8. */
export function runtimeClaimsJson(spec: RuntimeClaimsSpec): Uint8Array {
  const keys = [jwkMembers(spec.akPub, "HCLAkPub", "sign")];
  if (spec.ekPub) keys.push(jwkMembers(spec.ekPub, "HCLEkPub", "encrypt"));
  let claims: Record<string, unknown> = {
    keys,
    "vm-configuration": {
      "console-enabled": false,
      "root-cert-thumbprint": "veritee-test",
      "secure-boot": true,
      "tpm-enabled": true,
      "tpm-persisted": true,
      vmUniqueId: "00000000-0000-4000-8000-00000000c0de",
      ...spec.vmConfiguration,
    },
  };
  if (spec.userData !== undefined) claims["user-data"] = spec.userData;
  if (spec.edit) claims = spec.edit(claims);
  return new TextEncoder().encode(JSON.stringify(claims));
}

/** Hash algorithms of the HCL's report_data_hash_type (1, 2, 3). */
export type HclHash = "sha256" | "sha384" | "sha512";
const HASH_TYPE: Record<HclHash, number> = { sha256: 1, sha384: 2, sha512: 3 };

/** The 64 bytes of report data that bind `claims`: H(claims) then zero bytes. */
export function hclReportData(claims: Uint8Array, hashAlg: HclHash = "sha256"): Uint8Array {
  const out = new Uint8Array(64);
  out.set(nodeCrypto.createHash(hashAlg).update(claims).digest());
  return out;
}

/** Every header and request-data field of an HCL report; sizes are computed unless given. */
export interface HclFields {
  signature: number;
  version: number;
  reportSize?: number;
  requestType: number;
  status: number;
  reserved: [number, number, number];
  dataSize?: number;
  requestDataVersion: number;
  reportType: number;
  hashType: number;
  variableDataSize?: number;
  /** Zero bytes after the report, as the NV index is larger than it (default 512). */
  padding: number;
}

/** The defaults: version 2, the AK certificate request, success, SNP, SHA-256. */
export function defaultHclFields(): HclFields {
  return {
    signature: 0x414c4348,
    version: 2,
    requestType: 2,
    status: 0,
    reserved: [0, 0, 0],
    requestDataVersion: 1,
    reportType: 2,
    hashType: 1,
    padding: 512,
  };
}

/** Encode an HCL report: header, the hardware report zero-padded to 1184 bytes, request data, claims, padding. */
export function encodeHclReport(hwReport: Uint8Array, claims: Uint8Array, fields: Partial<HclFields> = {}): Uint8Array {
  const f = { ...defaultHclFields(), ...fields };
  if (hwReport.length > 1184) throw new RangeError("a hardware report has at most 1184 bytes");
  const dataSize = f.dataSize ?? 20 + claims.length;
  const reportSize = f.reportSize ?? 32 + 1184 + 20 + claims.length;
  const out = new Uint8Array(32 + 1184 + 20 + claims.length + f.padding);
  const v = new DataView(out.buffer);
  v.setUint32(0, f.signature, true);
  v.setUint32(4, f.version, true);
  v.setUint32(8, reportSize, true);
  v.setUint32(12, f.requestType, true);
  v.setUint32(16, f.status, true);
  for (const [i, r] of f.reserved.entries()) v.setUint32(20 + 4 * i, r, true);
  out.set(hwReport, 32);
  const d = 32 + 1184;
  v.setUint32(d, dataSize, true);
  v.setUint32(d + 4, f.requestDataVersion, true);
  v.setUint32(d + 8, f.reportType, true);
  v.setUint32(d + 12, f.hashType, true);
  v.setUint32(d + 16, f.variableDataSize ?? claims.length, true);
  out.set(claims, d + 20);
  return out;
}

/** Options of {@link forgeAzureSnp}. */
export interface ForgeAzureSnpOptions {
  /** SNP report fields to change (reportData defaults to the claims' binding). */
  snp?: Partial<SnpReportFields>;
  /** HCL fields to change. */
  hcl?: Partial<HclFields>;
  /** The hash the HCL names and binds with (default SHA-256). */
  hash?: HclHash;
  /** Sign the SNP report with this key instead of the VCEK. */
  signingKey?: nodeCrypto.KeyObject;
}

/**
 * An HCL report around a correctly signed SNP report from `pki`'s chip whose
 * REPORT_DATA binds `claims` (unless `options.snp.reportData` says
 * otherwise).
 */
export function forgeAzureSnp(
  pki: SnpTestPki,
  claims: Uint8Array,
  options: ForgeAzureSnpOptions = {},
): { hclReport: Uint8Array; snpReport: Uint8Array } {
  const hash = options.hash ?? "sha256";
  const snpReport = forgeSnpReport(
    pki,
    { ...defaultSnpReportFields(pki.product), reportData: hclReportData(claims, hash), ...options.snp },
    options.signingKey ? { signingKey: options.signingKey } : {},
  );
  const hclReport = encodeHclReport(snpReport, claims, { hashType: HASH_TYPE[hash], ...options.hcl });
  return { hclReport, snpReport };
}

/** TDREPORT_STRUCT fields (TDX Module ABI); TDINFO ones mirror the quote body. */
export interface TdReportFields {
  type: number;
  subtype: number;
  version: number;
  cpuSvn: Uint8Array;
  reportData: Uint8Array;
  mac: Uint8Array;
  teeTcbInfo: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  servTdHash: Uint8Array;
}

/** TDREPORT fields that agree with a quote body. */
export function tdReportFieldsFor(body: TdxBodyFields): TdReportFields {
  return {
    type: 0x81,
    subtype: 0,
    version: 1,
    cpuSvn: new Uint8Array(16).fill(2),
    reportData: body.reportData,
    mac: new Uint8Array(32).fill(0x3a),
    teeTcbInfo: new Uint8Array(239).fill(0x7c),
    tdAttributes: body.tdAttributes,
    xfam: body.xfam,
    mrTd: body.mrTd,
    mrConfigId: body.mrConfigId,
    mrOwner: body.mrOwner,
    mrOwnerConfig: body.mrOwnerConfig,
    rtmrs: body.rtmrs,
    servTdHash: new Uint8Array(48),
  };
}

/** Encode a TDREPORT_STRUCT (1024 bytes). */
export function encodeTdReport(f: TdReportFields): Uint8Array {
  const out = new Uint8Array(1024);
  out.set([f.type, f.subtype, f.version, 0], 0);
  out.set(f.cpuSvn, 16);
  out.set(f.reportData, 128);
  out.set(f.mac, 224);
  out.set(f.teeTcbInfo, 256);
  let o = 512;
  for (const part of [f.tdAttributes, f.xfam, f.mrTd, f.mrConfigId, f.mrOwner, f.mrOwnerConfig, ...f.rtmrs]) {
    out.set(part, o);
    o += part.length;
  }
  out.set(f.servTdHash, o);
  return out;
}

/** Options of {@link forgeAzureTdx}. */
export interface ForgeAzureTdxOptions {
  /** Quote body fields to change (reportData defaults to the claims' binding). */
  body?: Partial<TdxBodyFields>;
  /** More quote options (signing keys, QE report, …). */
  quote?: Omit<ForgeTdxQuoteOptions, "body">;
  /** TDREPORT fields to change after they were made to agree with the quote. */
  tdReport?: Partial<TdReportFields>;
  hcl?: Partial<HclFields>;
  hash?: HclHash;
}

/** An HCL report around a TDREPORT binding `claims`, and the TD quote made from it under `pki`. */
export function forgeAzureTdx(
  pki: TdxTestPki,
  claims: Uint8Array,
  options: ForgeAzureTdxOptions = {},
): { hclReport: Uint8Array; quote: Uint8Array } {
  const hash = options.hash ?? "sha256";
  const body = { ...defaultTdxBody(), reportData: hclReportData(claims, hash), ...options.body };
  const quote = forgeTdxQuote(pki, { ...options.quote, body });
  const td = encodeTdReport({ ...tdReportFieldsFor(body), ...options.tdReport });
  const hclReport = encodeHclReport(td, claims, { reportType: 4, hashType: HASH_TYPE[hash], ...options.hcl });
  return { hclReport, quote };
}

// ---- az-cvm-vtpm evidence JSON ----

/** TPMS_ATTEST fields of a quote the forger signs (TPM 2.0 Part 2 §10.12.12, §10.12.1). */
export interface ForgedQuoteFields {
  /** TPM_GENERATED_VALUE (default 0xff544347). */
  magic: number;
  /** TPM_ST_ATTEST_QUOTE (default 0x8018). */
  type: number;
  qualifiedSigner: Uint8Array;
  extraData: Uint8Array;
  /** The PCR indices of the SHA-256 bank selected (default 0..23). */
  pcrs: number[];
  /** The PCR bank's TPM_ALG_ID (default SHA-256, 0x000b). */
  bankAlg: number;
  /** The signed PCR digest (default SHA-256 of the selected values). */
  pcrDigest?: Uint8Array;
}

/** Encode a TPMS_ATTEST of type quote. */
export function encodeQuoteAttest(f: ForgedQuoteFields): Uint8Array {
  const select = new Uint8Array(3);
  for (const pcr of f.pcrs) select[pcr >> 3]! |= 1 << (pcr & 7);
  const digest = f.pcrDigest ?? new Uint8Array(32);
  const parts: number[] = [];
  const u16 = (v: number) => parts.push(v >> 8, v & 0xff);
  const u32 = (v: number) => parts.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const b2 = (b: Uint8Array) => {
    u16(b.length);
    parts.push(...b);
  };
  u32(f.magic);
  u16(f.type);
  b2(f.qualifiedSigner);
  b2(f.extraData);
  // clockInfo: clock (u64), resetCount, restartCount, safe = YES; then firmwareVersion (u64).
  parts.push(0, 0, 0, 0, 0, 0, 0x10, 0x00);
  u32(1);
  u32(0);
  parts.push(1);
  parts.push(0, 0, 0, 0, 0x20, 0x24, 0x01, 0x01);
  // TPMS_QUOTE_INFO: one TPMS_PCR_SELECTION, then the digest.
  u32(1);
  u16(f.bankAlg);
  parts.push(3, ...select);
  b2(digest);
  return Uint8Array.from(parts);
}

/** The 24 SHA-256 PCR values the forger reports by default (PCR i holds 32 bytes of i). */
export function defaultCvmPcrs(): Uint8Array[] {
  return Array.from({ length: 24 }, (_, i) => new Uint8Array(32).fill(i));
}

let cvmAk: nodeCrypto.KeyObject | undefined;
/** The forged vTPM AK (RSA 2048, as Azure's), made once per process. */
export function cvmAkKey(): nodeCrypto.KeyObject {
  cvmAk ??= nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  return cvmAk;
}

/** URL-safe base64 with padding, as `serde_with::base64::Base64<UrlSafe>` writes it. */
export function paddedBase64url(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString("base64url");
  return text + "=".repeat((4 - (text.length % 4)) % 4);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Options of {@link forgeAzCvmEvidence} and {@link forgeAzCvmTdxEvidence}. */
export interface ForgeAzCvmEvidenceOptions {
  /** The quote's extraData (default 32 bytes of 0x5a). */
  nonce?: Uint8Array;
  /** The PCR values written to `pcrs` (default {@link defaultCvmPcrs}). */
  pcrs?: Uint8Array[];
  /** The PCR values the signed digest is computed over (default: `pcrs`). */
  quotedPcrs?: Uint8Array[];
  /** Quote fields to change (selection, type, digest, …). */
  quote?: Partial<ForgedQuoteFields>;
  /** The AK (an RSA private key); default {@link cvmAkKey}. HCLAkPub is its public key unless `claims.akPub` says otherwise. */
  akKey?: nodeCrypto.KeyObject;
  /** Sign the quote with this key instead of the AK. */
  signingKey?: nodeCrypto.KeyObject;
  /** Runtime claims changes (e.g. another akPub). */
  claims?: Partial<RuntimeClaimsSpec>;
  /** The evidence version (default 1). */
  version?: number;
  /** SEV-SNP: options of the HCL report's forging. */
  snp?: ForgeAzureSnpOptions;
  /** TDX: options of the HCL report's and TD quote's forging. */
  tdx?: ForgeAzureTdxOptions;
  /** Change the JSON object last (drop or add members, replace encodings). */
  edit?: (json: Record<string, unknown>) => Record<string, unknown>;
}

/** What the forger returns: the JSON bytes and what went into them. */
export interface ForgedAzCvmEvidence {
  json: Uint8Array;
  /** The JSON object before serialization (after `edit`). */
  object: Record<string, unknown>;
  nonce: Uint8Array;
  hclReport: Uint8Array;
  claims: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
  pcrs: Uint8Array[];
}

function cvmQuote(options: ForgeAzCvmEvidenceOptions) {
  const ak = options.akKey ?? cvmAkKey();
  const akPub = nodeCrypto.createPublicKey(ak).export({ format: "jwk" }) as JsonWebKey;
  const claims = runtimeClaimsJson({ akPub, ...options.claims });
  const nonce = options.nonce ?? new Uint8Array(32).fill(0x5a);
  const pcrs = options.pcrs ?? defaultCvmPcrs();
  const quoted = options.quotedPcrs ?? pcrs;
  const fields: ForgedQuoteFields = {
    magic: 0xff544347,
    type: 0x8018,
    qualifiedSigner: Uint8Array.of(0x00, 0x0b, ...new Uint8Array(32).fill(0x51)),
    extraData: nonce,
    pcrs: Array.from({ length: 24 }, (_, i) => i),
    bankAlg: 0x000b,
    ...options.quote,
  };
  fields.pcrDigest ??= nodeCrypto.createHash("sha256").update(Buffer.concat(quoted)).digest();
  const message = encodeQuoteAttest(fields);
  const signature = new Uint8Array(nodeCrypto.sign("sha256", message, options.signingKey ?? ak));
  const tpmQuote = { signature: hex(signature), message: hex(message), pcrs: pcrs.map(hex) };
  return { claims, nonce, pcrs, message, signature, tpmQuote };
}

function finish(
  object: Record<string, unknown>,
  q: ReturnType<typeof cvmQuote>,
  hclReport: Uint8Array,
  options: ForgeAzCvmEvidenceOptions,
): ForgedAzCvmEvidence {
  const edited = options.edit ? options.edit(object) : object;
  return {
    json: new TextEncoder().encode(JSON.stringify(edited)),
    object: edited,
    nonce: q.nonce,
    hclReport,
    claims: q.claims,
    message: q.message,
    signature: q.signature,
    pcrs: q.pcrs,
  };
}

/**
 * `az-snp-vtpm` evidence JSON as Confidential Containers' attester writes it
 * (`{version, tpm_quote: {signature, message, pcrs}, hcl_report, vcek}`):
 * an HCL report under `pki` naming a software RSA AK, that AK's quote over
 * 24 SHA-256 PCRs with the bare RSASSA-SHA256 signature, the VCEK as DER.
 */
export function forgeAzCvmEvidence(pki: SnpTestPki, options: ForgeAzCvmEvidenceOptions = {}): ForgedAzCvmEvidence {
  const q = cvmQuote(options);
  const { hclReport } = forgeAzureSnp(pki, q.claims, options.snp);
  const object = {
    version: options.version ?? 1,
    tpm_quote: q.tpmQuote,
    hcl_report: paddedBase64url(hclReport),
    vcek: paddedBase64url(pki.vcek),
  };
  return finish(object, q, hclReport, options);
}

/** `az-tdx-vtpm` evidence JSON (`{version, tpm_quote, hcl_report, td_quote}`) under a TDX test PKI. */
export function forgeAzCvmTdxEvidence(
  pki: TdxTestPki,
  options: ForgeAzCvmEvidenceOptions = {},
): ForgedAzCvmEvidence & { tdQuote: Uint8Array } {
  const q = cvmQuote(options);
  const { hclReport, quote } = forgeAzureTdx(pki, q.claims, options.tdx);
  const object = {
    version: options.version ?? 1,
    tpm_quote: q.tpmQuote,
    hcl_report: paddedBase64url(hclReport),
    td_quote: paddedBase64url(quote),
  };
  return { ...finish(object, q, hclReport, options), tdQuote: quote };
}
