/**
 * Intel PCS collateral for TDX: TCB info (`GET /tdx/certification/v4/tcb`,
 * Intel TDX TCB Info v3, id "TDX") and QE identity
 * (`GET /tdx/certification/v4/qe/identity`, Enclave Identity v2, id "TD_QE").
 * The response body form, its signature and the QE identity are shared with
 * SGX: `../dcap/collateral.ts`.
 */
import { MalformedError, toHex } from "@veritee/core";
import {
  advisories,
  bad,
  components,
  DCAP_COLLATERAL_LIMITS,
  DCAP_TCB_STATUSES,
  type DcapQeIdentity,
  type DcapSignedDocument,
  type DcapTcbStatus,
  date,
  decodeQeIdentity,
  hexField,
  type IsvSvnTcbLevel,
  int,
  isvSvnLevel,
  levels,
  obj,
  splitSigned,
  status,
} from "../dcap/collateral.js";

export { INTEL_TCB_SIGNING_CN, type IsvSvnTcbLevel, verifyCollateralSignature } from "../dcap/collateral.js";

/** TCB statuses Intel assigns (TCB Info v3, QE Identity v2), best first. */
export const TDX_TCB_STATUSES = DCAP_TCB_STATUSES;
/** One of {@link TDX_TCB_STATUSES}. */
export type TdxTcbStatus = DcapTcbStatus;

/** Bounds on collateral documents. */
export const TDX_COLLATERAL_LIMITS = DCAP_COLLATERAL_LIMITS;

/** A TCB level of the platform (TCB Info v3 `tcbLevels[]`). */
export interface TdxTcbLevel {
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly tdxTcbComponents: readonly number[];
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
export interface TdxTcbInfo extends DcapSignedDocument {
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
    fmspc: toHex(hexField(o.fmspc, `${what}.fmspc`, 6)),
    pceId: toHex(hexField(o.pceId, `${what}.pceId`, 2)),
    tdxModule: Object.freeze({
      mrSigner: hexField(module.mrsigner, `${what}.tdxModule.mrsigner`, 48),
      attributes: hexField(module.attributes, `${what}.tdxModule.attributes`, 8),
      attributesMask: hexField(module.attributesMask, `${what}.tdxModule.attributesMask`, 8),
    }),
    tdxModuleIdentities: Object.freeze(moduleIdentities),
    tcbLevels: levels(o.tcbLevels, `${what}.tcbLevels`, platformLevel),
  });
}

/** Decoded, unverified TD QE identity. */
export type TdxQeIdentity = DcapQeIdentity;

/**
 * Decode a TD QE identity response body (Enclave Identity v2, id "TD_QE")
 * strictly. Verifies nothing; throws `MalformedError`.
 *
 * @example
 * const qe = decodeTdxQeIdentity(readFileSync("qeIdentity.json"));
 */
export function decodeTdxQeIdentity(input: Uint8Array | string): TdxQeIdentity {
  return decodeQeIdentity(input, "TD_QE", "TDX QE identity");
}
