/**
 * Intel PCS collateral for SGX: TCB info (`GET /sgx/certification/v4/tcb`,
 * Intel SGX TCB Info v3, id "SGX") and QE identity
 * (`GET /sgx/certification/v4/qe/identity`, Enclave Identity v2, id "QE").
 * The response body form, its signature and the QE identity are shared with
 * TDX: `../dcap/collateral.ts`. An SGX TCB level is the 16 SGX TCB component
 * SVNs and the PCE SVN only (no TDX components, no module identities).
 */
import { MalformedError, toHex } from "@veritee/core";
import {
  advisories,
  components,
  type DcapQeIdentity,
  type DcapSignedDocument,
  type DcapTcbStatus,
  date,
  decodeQeIdentity,
  hexField,
  int,
  levels,
  obj,
  splitSigned,
  status,
} from "../dcap/collateral.js";

/** A TCB level of an SGX platform (TCB Info v3 `tcbLevels[]`, id "SGX"). */
export interface SgxTcbLevel {
  /** SGX TCB component SVNs 1..16. */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly tcbDate: Date;
  readonly tcbStatus: DcapTcbStatus;
  readonly advisoryIds: readonly string[];
}

/** Decoded, unverified SGX TCB info. */
export interface SgxTcbInfo extends DcapSignedDocument {
  readonly kind: "tcb-info";
  readonly fmspc: string;
  readonly pceId: string;
  /** In Intel's order: the best level first. */
  readonly tcbLevels: readonly SgxTcbLevel[];
}

/** Decoded, unverified SGX QE identity (id "QE"). */
export type SgxQeIdentity = DcapQeIdentity;

function sgxLevel(l: unknown, what: string): SgxTcbLevel {
  const o = obj(l, what, ["tcb", "tcbDate", "tcbStatus"], ["advisoryIDs"]);
  const tcb = obj(o.tcb, `${what}.tcb`, ["sgxtcbcomponents", "pcesvn"]);
  return Object.freeze({
    sgxTcbComponents: components(tcb.sgxtcbcomponents, `${what}.tcb.sgxtcbcomponents`),
    pceSvn: int(tcb.pcesvn, `${what}.tcb.pcesvn`, 0xffff),
    tcbDate: date(o.tcbDate, `${what}.tcbDate`),
    tcbStatus: status(o.tcbStatus, `${what}.tcbStatus`),
    advisoryIds: advisories(o, `${what}.advisoryIDs`),
  });
}

/**
 * Decode an SGX TCB info response body (TCB Info v3, id "SGX", tcbType 0)
 * strictly: exact members, hex sizes, ISO dates, 16 components per level,
 * levels newest first. TDX TCB info (id "TDX") is refused as `unsupported`.
 * Verifies nothing; throws `MalformedError`.
 *
 * @example
 * const tcbInfo = decodeSgxTcbInfo(readFileSync("tcbInfo.json"));
 * tcbInfo.fmspc; // "00606a000000"
 */
export function decodeSgxTcbInfo(input: Uint8Array | string): SgxTcbInfo {
  const what = "SGX TCB info";
  const { inner, signed } = splitSigned(input, "tcbInfo", what);
  // The id first, so TDX TCB info (which has more members) is named for what it is.
  if (inner.id !== "SGX") throw new MalformedError("unsupported", `${what}.id`, "not SGX TCB info");
  const o = obj(inner, what, [
    "id",
    "version",
    "issueDate",
    "nextUpdate",
    "fmspc",
    "pceId",
    "tcbType",
    "tcbEvaluationDataNumber",
    "tcbLevels",
  ]);
  if (o.version !== 3) throw new MalformedError("unsupported", `${what}.version`, "only version 3");
  if (o.tcbType !== 0) throw new MalformedError("unsupported", `${what}.tcbType`, "only type 0");
  return Object.freeze({
    kind: "tcb-info",
    ...signed,
    fmspc: toHex(hexField(o.fmspc, `${what}.fmspc`, 6)),
    pceId: toHex(hexField(o.pceId, `${what}.pceId`, 2)),
    tcbLevels: levels(o.tcbLevels, `${what}.tcbLevels`, sgxLevel),
  });
}

/**
 * Decode an SGX QE identity response body (Enclave Identity v2, id "QE")
 * strictly; a TD QE identity is refused as `unsupported`. Verifies nothing;
 * throws `MalformedError`.
 *
 * @example
 * const qe = decodeSgxQeIdentity(readFileSync("qeIdentity.json"));
 */
export function decodeSgxQeIdentity(input: Uint8Array | string): SgxQeIdentity {
  return decodeQeIdentity(input, "QE", "SGX QE identity");
}
