/**
 * Intel PCS collateral for TDX: TCB info (`GET /tdx/certification/v4/tcb`,
 * Intel TDX TCB Info v3) and QE identity (`GET /tdx/certification/v4/qe/identity`,
 * Enclave Identity v2), as response bodies `{"tcbInfo":{...},"signature":"hex"}`.
 *
 * The signature is ECDSA P-256 (r‖s, hex) over the exact bytes of the inner
 * JSON value as it appears in the response, made by the "Intel SGX TCB
 * Signing" certificate, whose chain PCS sends in a response header
 * (TCB-Info-Issuer-Chain). So decoding keeps those bytes, and the text must
 * be Intel's compact form: the inner value must re-serialise to itself, which
 * also refuses duplicate member names (which `JSON.parse` would resolve
 * silently) and any re-formatting.
 */
import { fromHex, importPublicJwk, MalformedError, verifySignature } from "@veritee/core";
import { VerificationError } from "../errors.js";
import type { DecodedCertificate } from "../x509/certificate.js";
import { type VerifiedCertificateChain, verifyCertificateChain } from "../x509/chain.js";
import { publicKeyToJwk } from "../x509/public-key.js";

/** TCB statuses Intel assigns (TCB Info v3, QE Identity v2), best first. */
export const TDX_TCB_STATUSES = Object.freeze([
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
] as const);
/** One of {@link TDX_TCB_STATUSES}. */
export type TdxTcbStatus = (typeof TDX_TCB_STATUSES)[number];

/** Bounds on collateral documents. */
export const TDX_COLLATERAL_LIMITS = Object.freeze({
  /** Characters of one response body (real ones are a few KiB). */
  maxText: 256 * 1024,
  maxTcbLevels: 128,
  maxAdvisoryIds: 256,
  maxModuleIdentities: 32,
});

/** A signed collateral document: the signed bytes, the signature, and the decoded value. */
interface Signed {
  /** The exact bytes of the inner JSON value, which the signature covers. */
  readonly signedBytes: Uint8Array;
  /** ECDSA P-256 r‖s (64). */
  readonly signature: Uint8Array;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly tcbEvaluationDataNumber: number;
}

/** A TCB level of the platform (TCB Info v3 `tcbLevels[]`). */
export interface TdxTcbLevel {
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly tdxTcbComponents: readonly number[];
  readonly tcbDate: Date;
  readonly tcbStatus: TdxTcbStatus;
  readonly advisoryIds: readonly string[];
}

/** An ISVSVN-keyed TCB level (QE identity and TDX module identities). */
export interface IsvSvnTcbLevel {
  readonly isvSvn: number;
  readonly tcbDate: Date;
  readonly tcbStatus: TdxTcbStatus;
  readonly advisoryIds: readonly string[];
}

/** A TDX module identity (TCB Info v3 `tdxModuleIdentities[]`). */
export interface TdxModuleIdentity {
  /** "TDX_" and the module's major version as two hex digits, e.g. "TDX_01". */
  readonly id: string;
  readonly mrSigner: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly tcbLevels: readonly IsvSvnTcbLevel[];
}

/** Decoded, unverified TDX TCB info. */
export interface TdxTcbInfo extends Signed {
  readonly kind: "tcb-info";
  readonly fmspc: string;
  readonly pceId: string;
  /** `tdxModule`: the signer and attributes of module version 0. */
  readonly tdxModule: {
    readonly mrSigner: Uint8Array;
    readonly attributes: Uint8Array;
    readonly attributesMask: Uint8Array;
  };
  readonly tdxModuleIdentities: readonly TdxModuleIdentity[];
  /** In Intel's order: the best level first. */
  readonly tcbLevels: readonly TdxTcbLevel[];
}

/** Decoded, unverified TD QE identity. */
export interface TdxQeIdentity extends Signed {
  readonly kind: "qe-identity";
  readonly miscSelect: number;
  readonly miscSelectMask: number;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly tcbLevels: readonly IsvSvnTcbLevel[];
}

type Json = Record<string, unknown>;

function bad(what: string, detail: string): never {
  throw new MalformedError("bad-value", what, detail);
}

function obj(v: unknown, what: string, required: readonly string[], optional: readonly string[] = []): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(what, "must be an object");
  const o = v as Json;
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) bad(what, "unknown member");
  for (const k of required) if (!Object.hasOwn(o, k)) bad(what, `missing member ${k}`);
  return o;
}

function int(v: unknown, what: string, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) bad(what, `must be an integer 0..${max}`);
  return v;
}

function hexField(v: unknown, what: string, bytes: number): Uint8Array {
  if (typeof v !== "string" || v.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(v)) {
    bad(what, `must be ${bytes * 2} hex digits`);
  }
  return fromHex(v, what);
}

const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function date(v: unknown, what: string): Date {
  if (typeof v !== "string" || !DATE.test(v)) bad(what, "must be an ISO 8601 UTC time YYYY-MM-DDTHH:MM:SSZ");
  const d = new Date(v);
  // Refuses what Date would normalise (month 13, February 30).
  if (Number.isNaN(d.getTime()) || d.toISOString() !== `${v.slice(0, 19)}.000Z`) bad(what, "not a valid time");
  return d;
}

function status(v: unknown, what: string): TdxTcbStatus {
  if (typeof v !== "string" || !(TDX_TCB_STATUSES as readonly string[]).includes(v)) bad(what, "unknown TCB status");
  return v as TdxTcbStatus;
}

function advisories(o: Json, what: string): readonly string[] {
  if (!Object.hasOwn(o, "advisoryIDs")) return Object.freeze([]);
  const v = o.advisoryIDs;
  if (!Array.isArray(v) || v.length > TDX_COLLATERAL_LIMITS.maxAdvisoryIds) bad(what, "must be a short array");
  for (const a of v) if (typeof a !== "string" || !/^INTEL-SA-\d{5}$/.test(a)) bad(what, "bad advisory id");
  if (new Set(v).size !== v.length) bad(what, "lists an advisory twice");
  return Object.freeze([...(v as string[])]);
}

function levels<T extends { tcbDate: Date }>(
  v: unknown,
  what: string,
  one: (l: unknown, w: string) => T,
): readonly T[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > TDX_COLLATERAL_LIMITS.maxTcbLevels) {
    bad(what, "must be a non-empty array of bounded length");
  }
  const out = v.map((l, i) => one(l, `${what}[${i}]`));
  // Intel lists levels best first; their dates never increase down the list.
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.tcbDate.getTime() > out[i - 1]!.tcbDate.getTime()) bad(what, "not sorted by tcbDate, newest first");
  }
  return Object.freeze(out);
}

function isvSvnLevel(l: unknown, what: string): IsvSvnTcbLevel {
  const o = obj(l, what, ["tcb", "tcbDate", "tcbStatus"], ["advisoryIDs"]);
  const tcb = obj(o.tcb, `${what}.tcb`, ["isvsvn"]);
  return Object.freeze({
    isvSvn: int(tcb.isvsvn, `${what}.tcb.isvsvn`, 0xffff),
    tcbDate: date(o.tcbDate, `${what}.tcbDate`),
    tcbStatus: status(o.tcbStatus, `${what}.tcbStatus`),
    advisoryIds: advisories(o, `${what}.advisoryIDs`),
  });
}

function components(v: unknown, what: string): readonly number[] {
  if (!Array.isArray(v) || v.length !== 16) bad(what, "must list 16 components");
  return Object.freeze(
    v.map((c, i) => {
      const o = obj(c, `${what}[${i}]`, ["svn"], ["category", "type"]);
      for (const k of ["category", "type"]) {
        if (Object.hasOwn(o, k) && (typeof o[k] !== "string" || (o[k] as string).length > 128)) {
          bad(`${what}[${i}].${k}`, "must be a short string");
        }
      }
      return int(o.svn, `${what}[${i}].svn`, 255);
    }),
  );
}

function platformLevel(l: unknown, what: string): TdxTcbLevel {
  const o = obj(l, what, ["tcb", "tcbDate", "tcbStatus"], ["advisoryIDs"]);
  const tcb = obj(o.tcb, `${what}.tcb`, ["sgxtcbcomponents", "pcesvn", "tdxtcbcomponents"]);
  return Object.freeze({
    sgxTcbComponents: components(tcb.sgxtcbcomponents, `${what}.tcb.sgxtcbcomponents`),
    pceSvn: int(tcb.pcesvn, `${what}.tcb.pcesvn`, 0xffff),
    tdxTcbComponents: components(tcb.tdxtcbcomponents, `${what}.tcb.tdxtcbcomponents`),
    tcbDate: date(o.tcbDate, `${what}.tcbDate`),
    tcbStatus: status(o.tcbStatus, `${what}.tcbStatus`),
    advisoryIds: advisories(o, `${what}.advisoryIDs`),
  });
}

/** Split a response body into the signed inner value's bytes, its parsed value and the signature. */
function splitSigned(input: Uint8Array | string, member: string, what: string): { inner: Json; signed: Signed } {
  const full =
    typeof input === "string" ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString("utf8");
  // A saved response body may end with one newline; the signed value is inside, so it is dropped.
  const text = full.endsWith("\n") ? full.slice(0, -1) : full;
  if (text.length > TDX_COLLATERAL_LIMITS.maxText) throw new MalformedError("too-large", what);
  const prefix = `{"${member}":`;
  const m = /,"signature":"([0-9a-fA-F]{128})"\}$/.exec(text);
  if (!text.startsWith(prefix) || m === null) {
    bad(what, `must be {"${member}":{...},"signature":"<128 hex digits>"} in compact form`);
  }
  const body = text.slice(prefix.length, m.index);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    throw new MalformedError("bad-value", what, "not JSON", { cause });
  }
  if (JSON.stringify(parsed) !== body) bad(what, "not in compact canonical form (duplicate or re-formatted members)");
  const inner = obj(parsed, `${what}.${member}`, [], Object.keys((parsed ?? {}) as object));
  const issueDate = date(inner.issueDate, `${what}.issueDate`);
  const nextUpdate = date(inner.nextUpdate, `${what}.nextUpdate`);
  if (nextUpdate.getTime() <= issueDate.getTime()) bad(`${what}.nextUpdate`, "not after issueDate");
  return {
    inner,
    signed: {
      signedBytes: new TextEncoder().encode(body),
      signature: fromHex(m[1]!, `${what}.signature`),
      issueDate,
      nextUpdate,
      tcbEvaluationDataNumber: int(inner.tcbEvaluationDataNumber, `${what}.tcbEvaluationDataNumber`, 0xffffffff),
    },
  };
}

/**
 * Decode a TDX TCB info response body (TCB Info v3, id "TDX") strictly:
 * exact members, hex sizes, ISO dates, 16 components per level, levels
 * newest first. Verifies nothing; throws `MalformedError`.
 *
 * @example
 * const tcbInfo = decodeTdxTcbInfo(readFileSync("tcbInfo.json"));
 * tcbInfo.fmspc; // "50806f000000"
 */
export function decodeTdxTcbInfo(input: Uint8Array | string): TdxTcbInfo {
  const what = "TDX TCB info";
  const { inner, signed } = splitSigned(input, "tcbInfo", what);
  const o = obj(
    inner,
    what,
    [
      "id",
      "version",
      "issueDate",
      "nextUpdate",
      "fmspc",
      "pceId",
      "tcbType",
      "tcbEvaluationDataNumber",
      "tdxModule",
      "tcbLevels",
    ],
    ["tdxModuleIdentities"],
  );
  if (o.id !== "TDX") throw new MalformedError("unsupported", `${what}.id`, "not TDX TCB info");
  if (o.version !== 3) throw new MalformedError("unsupported", `${what}.version`, "only version 3");
  if (o.tcbType !== 0) throw new MalformedError("unsupported", `${what}.tcbType`, "only type 0");
  const module = obj(o.tdxModule, `${what}.tdxModule`, ["mrsigner", "attributes", "attributesMask"]);
  const identities = o.tdxModuleIdentities ?? [];
  if (!Array.isArray(identities) || identities.length > TDX_COLLATERAL_LIMITS.maxModuleIdentities) {
    bad(`${what}.tdxModuleIdentities`, "must be a short array");
  }
  const moduleIdentities = identities.map((m, i): TdxModuleIdentity => {
    const w = `${what}.tdxModuleIdentities[${i}]`;
    const mo = obj(m, w, ["id", "mrsigner", "attributes", "attributesMask", "tcbLevels"]);
    if (typeof mo.id !== "string" || !/^TDX_[0-9A-F]{2}$/.test(mo.id))
      bad(`${w}.id`, "must be TDX_ and two hex digits");
    return Object.freeze({
      id: mo.id,
      mrSigner: hexField(mo.mrsigner, `${w}.mrsigner`, 48),
      attributes: hexField(mo.attributes, `${w}.attributes`, 8),
      attributesMask: hexField(mo.attributesMask, `${w}.attributesMask`, 8),
      tcbLevels: levels(mo.tcbLevels, `${w}.tcbLevels`, isvSvnLevel),
    });
  });
  if (new Set(moduleIdentities.map((m) => m.id)).size !== moduleIdentities.length) {
    bad(`${what}.tdxModuleIdentities`, "an id twice");
  }
  return Object.freeze({
    kind: "tcb-info",
    ...signed,
    fmspc: Buffer.from(hexField(o.fmspc, `${what}.fmspc`, 6)).toString("hex"),
    pceId: Buffer.from(hexField(o.pceId, `${what}.pceId`, 2)).toString("hex"),
    tdxModule: Object.freeze({
      mrSigner: hexField(module.mrsigner, `${what}.tdxModule.mrsigner`, 48),
      attributes: hexField(module.attributes, `${what}.tdxModule.attributes`, 8),
      attributesMask: hexField(module.attributesMask, `${what}.tdxModule.attributesMask`, 8),
    }),
    tdxModuleIdentities: Object.freeze(moduleIdentities),
    tcbLevels: levels(o.tcbLevels, `${what}.tcbLevels`, platformLevel),
  });
}

/**
 * Decode a TD QE identity response body (Enclave Identity v2, id "TD_QE")
 * strictly. Verifies nothing; throws `MalformedError`.
 *
 * @example
 * const qe = decodeTdxQeIdentity(readFileSync("qeIdentity.json"));
 */
export function decodeTdxQeIdentity(input: Uint8Array | string): TdxQeIdentity {
  const what = "TDX QE identity";
  const { inner, signed } = splitSigned(input, "enclaveIdentity", what);
  const o = obj(inner, what, [
    "id",
    "version",
    "issueDate",
    "nextUpdate",
    "tcbEvaluationDataNumber",
    "miscselect",
    "miscselectMask",
    "attributes",
    "attributesMask",
    "mrsigner",
    "isvprodid",
    "tcbLevels",
  ]);
  if (o.id !== "TD_QE") throw new MalformedError("unsupported", `${what}.id`, "not a TD QE identity");
  if (o.version !== 2) throw new MalformedError("unsupported", `${what}.version`, "only version 2");
  const u32 = (v: unknown, w: string) => Buffer.from(hexField(v, w, 4)).readUInt32BE(0);
  return Object.freeze({
    kind: "qe-identity",
    ...signed,
    // miscselect is written most significant byte first; the QE report holds it as a u32.
    miscSelect: u32(o.miscselect, `${what}.miscselect`),
    miscSelectMask: u32(o.miscselectMask, `${what}.miscselectMask`),
    attributes: hexField(o.attributes, `${what}.attributes`, 16),
    attributesMask: hexField(o.attributesMask, `${what}.attributesMask`, 16),
    mrSigner: hexField(o.mrsigner, `${what}.mrsigner`, 32),
    isvProdId: int(o.isvprodid, `${what}.isvprodid`, 0xffff),
    tcbLevels: levels(o.tcbLevels, `${what}.tcbLevels`, isvSvnLevel),
  });
}

/** The CN Intel's collateral signing certificate carries. */
export const INTEL_TCB_SIGNING_CN = "Intel SGX TCB Signing";

/**
 * Verify a collateral document's signer and signature at `at`: the signing
 * chain ends at one of `roots`, its leaf is named "Intel SGX TCB Signing"
 * (`collateral-signer`: a PCK or other Intel certificate must not sign
 * collateral), the ECDSA P-256 signature covers the signed bytes
 * (`collateral-signature-invalid`), and `issueDate ≤ at ≤ nextUpdate`
 * (`collateral-not-yet-valid`, `collateral-expired`).
 *
 * @example
 * const chain = await verifyCollateralSignature(tcbInfo, signingChainDer, [INTEL_SGX_ROOT_CA], at);
 */
export async function verifyCollateralSignature(
  doc: TdxTcbInfo | TdxQeIdentity,
  signingChain: readonly Uint8Array[],
  roots: readonly Uint8Array[],
  at: Date,
): Promise<VerifiedCertificateChain> {
  const [leaf, ...rest] = signingChain;
  if (leaf === undefined) throw new VerificationError("collateral-signer", "no collateral signing certificate");
  const chain = await verifyCertificateChain({ leaf, intermediates: rest, roots, at, maxDepth: 3 });
  if (!isTcbSigner(chain.leaf)) {
    throw new VerificationError("collateral-signer", "the collateral signer is not Intel's TCB signing certificate");
  }
  const key = chain.leaf.publicKey;
  if (key.kind !== "ec" || key.curve !== "P-256") {
    throw new VerificationError("collateral-signer", "the collateral signer's key is not P-256");
  }
  const ok = await verifySignature(
    { kind: "ecdsa", hash: "sha256" },
    importPublicJwk(publicKeyToJwk(key)),
    doc.signedBytes,
    doc.signature,
  );
  if (!ok) throw new VerificationError("collateral-signature-invalid", `the ${doc.kind} signature does not verify`);
  if (at.getTime() < doc.issueDate.getTime()) {
    throw new VerificationError("collateral-not-yet-valid", `the ${doc.kind} is issued after the validation time`);
  }
  if (at.getTime() > doc.nextUpdate.getTime()) {
    throw new VerificationError("collateral-expired", `the ${doc.kind} is past its nextUpdate`);
  }
  return chain;
}

function isTcbSigner(cert: DecodedCertificate): boolean {
  const cns = cert.subject.attributes.filter((a) => a.oid === "2.5.4.3");
  return cns.length === 1 && cns[0]!.value === INTEL_TCB_SIGNING_CN && cert.basicConstraints?.ca !== true;
}
