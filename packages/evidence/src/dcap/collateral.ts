/**
 * Intel PCS collateral shared by SGX and TDX (Intel PCS API v4; TCB Info
 * v3, Enclave Identity v2): response bodies `{"<member>":{...},"signature":"hex"}`,
 * their ISVSVN-keyed TCB levels, the QE identity, and the check of the
 * signature by the "Intel SGX TCB Signing" certificate. The per-TEE TCB
 * info documents are `../tdx/collateral.ts` (id "TDX") and
 * `../sgx/collateral.ts` (id "SGX").
 *
 * The signature is ECDSA P-256 (r‖s, hex) over the exact bytes of the inner
 * JSON value as it appears in the response, made by the TCB signing
 * certificate, whose chain PCS sends in a response header
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

/** TCB statuses Intel assigns (TCB Info v3, Enclave Identity v2), best first. */
export const DCAP_TCB_STATUSES = Object.freeze([
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
] as const);
/** One of {@link DCAP_TCB_STATUSES}. */
export type DcapTcbStatus = (typeof DCAP_TCB_STATUSES)[number];

/** Bounds on collateral documents. */
export const DCAP_COLLATERAL_LIMITS = Object.freeze({
  /** Characters of one response body (real ones are a few KiB). */
  maxText: 256 * 1024,
  maxTcbLevels: 128,
  maxAdvisoryIds: 256,
  maxModuleIdentities: 32,
});

/** A signed collateral document: the signed bytes, the signature, and the decoded value. */
export interface DcapSignedDocument {
  /** The exact bytes of the inner JSON value, which the signature covers. */
  readonly signedBytes: Uint8Array;
  /** ECDSA P-256 r‖s (64). */
  readonly signature: Uint8Array;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly tcbEvaluationDataNumber: number;
}

/** An ISVSVN-keyed TCB level (QE identity and TDX module identities). */
export interface IsvSvnTcbLevel {
  readonly isvSvn: number;
  readonly tcbDate: Date;
  readonly tcbStatus: DcapTcbStatus;
  readonly advisoryIds: readonly string[];
}

/** Decoded, unverified QE identity (Enclave Identity v2): "QE" for SGX, "TD_QE" for TDX. */
export interface DcapQeIdentity extends DcapSignedDocument {
  readonly kind: "qe-identity";
  /** Which quoting enclave it describes. */
  readonly id: "QE" | "TD_QE";
  readonly miscSelect: number;
  readonly miscSelectMask: number;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly tcbLevels: readonly IsvSvnTcbLevel[];
}

/** A parsed JSON object. */
export type Json = Record<string, unknown>;

export function bad(what: string, detail: string): never {
  throw new MalformedError("bad-value", what, detail);
}

export function obj(v: unknown, what: string, required: readonly string[], optional: readonly string[] = []): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(what, "must be an object");
  const o = v as Json;
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) bad(what, "unknown member");
  for (const k of required) if (!Object.hasOwn(o, k)) bad(what, `missing member ${k}`);
  return o;
}

export function int(v: unknown, what: string, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) bad(what, `must be an integer 0..${max}`);
  return v;
}

export function hexField(v: unknown, what: string, bytes: number): Uint8Array {
  if (typeof v !== "string" || v.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(v)) {
    bad(what, `must be ${bytes * 2} hex digits`);
  }
  return fromHex(v, what);
}

const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export function date(v: unknown, what: string): Date {
  if (typeof v !== "string" || !DATE.test(v)) bad(what, "must be an ISO 8601 UTC time YYYY-MM-DDTHH:MM:SSZ");
  const d = new Date(v);
  // Refuses what Date would normalise (month 13, February 30).
  if (Number.isNaN(d.getTime()) || d.toISOString() !== `${v.slice(0, 19)}.000Z`) bad(what, "not a valid time");
  return d;
}

export function status(v: unknown, what: string): DcapTcbStatus {
  if (typeof v !== "string" || !(DCAP_TCB_STATUSES as readonly string[]).includes(v)) bad(what, "unknown TCB status");
  return v as DcapTcbStatus;
}

export function advisories(o: Json, what: string): readonly string[] {
  if (!Object.hasOwn(o, "advisoryIDs")) return Object.freeze([]);
  const v = o.advisoryIDs;
  if (!Array.isArray(v) || v.length > DCAP_COLLATERAL_LIMITS.maxAdvisoryIds) bad(what, "must be a short array");
  for (const a of v) if (typeof a !== "string" || !/^INTEL-SA-\d{5}$/.test(a)) bad(what, "bad advisory id");
  if (new Set(v).size !== v.length) bad(what, "lists an advisory twice");
  return Object.freeze([...(v as string[])]);
}

export function levels<T extends { tcbDate: Date }>(
  v: unknown,
  what: string,
  one: (l: unknown, w: string) => T,
): readonly T[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > DCAP_COLLATERAL_LIMITS.maxTcbLevels) {
    bad(what, "must be a non-empty array of bounded length");
  }
  const out = v.map((l, i) => one(l, `${what}[${i}]`));
  // Intel lists levels best first; their dates never increase down the list.
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.tcbDate.getTime() > out[i - 1]!.tcbDate.getTime()) bad(what, "not sorted by tcbDate, newest first");
  }
  return Object.freeze(out);
}

export function isvSvnLevel(l: unknown, what: string): IsvSvnTcbLevel {
  const o = obj(l, what, ["tcb", "tcbDate", "tcbStatus"], ["advisoryIDs"]);
  const tcb = obj(o.tcb, `${what}.tcb`, ["isvsvn"]);
  return Object.freeze({
    isvSvn: int(tcb.isvsvn, `${what}.tcb.isvsvn`, 0xffff),
    tcbDate: date(o.tcbDate, `${what}.tcbDate`),
    tcbStatus: status(o.tcbStatus, `${what}.tcbStatus`),
    advisoryIds: advisories(o, `${what}.advisoryIDs`),
  });
}

export function components(v: unknown, what: string): readonly number[] {
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

/** Split a response body into the signed inner value's bytes, its parsed value and the signature. */
export function splitSigned(
  input: Uint8Array | string,
  member: string,
  what: string,
): { inner: Json; signed: DcapSignedDocument } {
  let full: string;
  try {
    full = typeof input === "string" ? input : new TextDecoder("utf-8", { fatal: true }).decode(input);
  } catch (cause) {
    throw new MalformedError("bad-value", what, "not UTF-8", { cause });
  }
  // A saved response body may end with one newline; the signed value is inside, so it is dropped.
  const text = full.endsWith("\n") ? full.slice(0, -1) : full;
  if (text.length > DCAP_COLLATERAL_LIMITS.maxText) throw new MalformedError("too-large", what);
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
 * Decode a QE identity response body (Enclave Identity v2) whose id must be
 * `id` ("QE": the SGX quoting enclave; "TD_QE": the TD quoting enclave), strictly.
 * Verifies nothing; throws `MalformedError`. `what` names it in errors.
 */
export function decodeQeIdentity(input: Uint8Array | string, id: "QE" | "TD_QE", what: string): DcapQeIdentity {
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
  if (o.id !== id) throw new MalformedError("unsupported", `${what}.id`, `not a ${id} identity`);
  if (o.version !== 2) throw new MalformedError("unsupported", `${what}.version`, "only version 2");
  // miscselect is written most significant byte first; the QE report holds it as a u32.
  const u32 = (v: unknown, w: string) => hexField(v, w, 4).reduce((n, b) => n * 256 + b, 0);
  return Object.freeze({
    kind: "qe-identity",
    id,
    ...signed,
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
  doc: DcapSignedDocument & { readonly kind: string },
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
