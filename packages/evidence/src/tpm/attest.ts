/**
 * TPMS_ATTEST (TPM 2.0 Part 2 §10.12.12), the structure a TPM signs for
 * TPM2_Quote, TPM2_Certify and the other attestation commands. A strict
 * decoder and an encoder; no signature checking here (see ./quote.ts).
 */
import { ByteReader, ByteWriter, type HashAlg, MalformedError, TPM_GENERATED_VALUE, TPM_ST } from "@veritee/core";
import { type PcrSelection, readPcrSelection, writePcrSelection } from "./pcr-selection.js";
import { MAX_DATA_SIZE, MAX_DIGEST_SIZE, readHashAlg, readName, readYesNo, writeHashAlg } from "./wire.js";

/** MAX_NV_BUFFER_SIZE: the largest NV read a TPM allows (Part 2 §10.4.9); 2048 covers all known TPMs. */
export const MAX_NV_BUFFER_SIZE = 2048;

/** TPM_ST_ATTEST_NV_DIGEST (Part 2 §6.9), newer than core's table. */
const TPM_ST_ATTEST_NV_DIGEST = 0x801c;

/** TPMS_CLOCK_INFO (Part 2 §10.11.1). */
export interface ClockInfo {
  /** Milliseconds the TPM has been powered since it was last cleared; never goes back. */
  readonly clock: bigint;
  /** TPM resets (power cycles, TPM2_Startup(CLEAR)) since the TPM was last cleared. */
  readonly resetCount: number;
  /** TPM2_Shutdown(STATE)/TPM2_Startup(STATE) cycles since the last reset. */
  readonly restartCount: number;
  /** Whether `clock` is known not to have been reported lower before (TPMI_YES_NO). */
  readonly safe: boolean;
}

/** TPMU_ATTEST (Part 2 §10.12.11), tagged by the attestation type (TPMI_ST_ATTEST, §10.12.10). */
export type Attested =
  /** TPMS_QUOTE_INFO (§10.12.4), TPM_ST_ATTEST_QUOTE. */
  | { readonly type: "quote"; readonly pcrSelect: PcrSelection; readonly pcrDigest: Uint8Array }
  /** TPMS_CERTIFY_INFO (§10.12.3), TPM_ST_ATTEST_CERTIFY. */
  | { readonly type: "certify"; readonly name: Uint8Array; readonly qualifiedName: Uint8Array }
  /** TPMS_CREATION_INFO (§10.12.7), TPM_ST_ATTEST_CREATION. */
  | { readonly type: "creation"; readonly objectName: Uint8Array; readonly creationHash: Uint8Array }
  /** TPMS_TIME_ATTEST_INFO (§10.12.2), TPM_ST_ATTEST_TIME: TPMS_TIME_INFO then firmwareVersion. */
  | { readonly type: "time"; readonly time: bigint; readonly clockInfo: ClockInfo; readonly firmwareVersion: bigint }
  /** TPMS_COMMAND_AUDIT_INFO (§10.12.5), TPM_ST_ATTEST_COMMAND_AUDIT. */
  | {
      readonly type: "command-audit";
      readonly auditCounter: bigint;
      readonly digestAlg: HashAlg;
      readonly auditDigest: Uint8Array;
      readonly commandDigest: Uint8Array;
    }
  /** TPMS_SESSION_AUDIT_INFO (§10.12.6), TPM_ST_ATTEST_SESSION_AUDIT. */
  | { readonly type: "session-audit"; readonly exclusiveSession: boolean; readonly sessionDigest: Uint8Array }
  /** TPMS_NV_CERTIFY_INFO (§10.12.8), TPM_ST_ATTEST_NV. */
  | { readonly type: "nv"; readonly indexName: Uint8Array; readonly offset: number; readonly nvContents: Uint8Array }
  /** TPMS_NV_DIGEST_CERTIFY_INFO (§10.12.9), TPM_ST_ATTEST_NV_DIGEST. */
  | { readonly type: "nv-digest"; readonly indexName: Uint8Array; readonly nvDigest: Uint8Array };

/** The attestation types, by name. */
export type AttestType = Attested["type"];

/** A decoded TPMS_ATTEST. `magic` is always TPM_GENERATED_VALUE and is not repeated here. */
export interface TpmsAttest {
  /** The qualified Name of the signing key (TPM2B_NAME). */
  readonly qualifiedSigner: Uint8Array;
  /** The caller's qualifying data, the verifier's nonce in a quote (TPM2B_DATA, ≤ 66 bytes). */
  readonly extraData: Uint8Array;
  /** The TPM's clock, reset and restart counters (may be obfuscated for non-endorsement keys, Part 1 §36.6). */
  readonly clockInfo: ClockInfo;
  /** TPM vendor-specific firmware version. */
  readonly firmwareVersion: bigint;
  /** The type-specific part. */
  readonly attested: Attested;
}

/** A TPMS_ATTEST of a quote. */
export type QuoteAttest = TpmsAttest & { readonly attested: Extract<Attested, { type: "quote" }> };

const ST_BY_TYPE: Readonly<Record<AttestType, number>> = {
  quote: TPM_ST.ATTEST_QUOTE,
  certify: TPM_ST.ATTEST_CERTIFY,
  creation: TPM_ST.ATTEST_CREATION,
  time: TPM_ST.ATTEST_TIME,
  "command-audit": TPM_ST.ATTEST_COMMAND_AUDIT,
  "session-audit": TPM_ST.ATTEST_SESSION_AUDIT,
  nv: TPM_ST.ATTEST_NV,
  "nv-digest": TPM_ST_ATTEST_NV_DIGEST,
};

const TYPE_BY_ST: ReadonlyMap<number, AttestType> = new Map(
  Object.entries(ST_BY_TYPE).map(([name, st]) => [st, name as AttestType]),
);

/** The TPM_ST tag of an attestation type (Part 2 §6.9). */
export function attestTag(type: AttestType): number {
  return ST_BY_TYPE[type];
}

function readClockInfo(r: ByteReader, field: string): ClockInfo {
  const clock = r.u64(`${field}.clock`);
  const resetCount = r.u32(`${field}.resetCount`);
  const restartCount = r.u32(`${field}.restartCount`);
  const safe = readYesNo(r, `${field}.safe`);
  return { clock, resetCount, restartCount, safe };
}

function writeClockInfo(w: ByteWriter, c: ClockInfo): void {
  w.u64(c.clock)
    .u32(c.resetCount)
    .u32(c.restartCount)
    .u8(c.safe ? 1 : 0);
}

function readAttested(r: ByteReader, type: AttestType): Attested {
  switch (type) {
    case "quote": {
      const pcrSelect = readPcrSelection(r, "attested.quote.pcrSelect");
      const pcrDigest = r.tpm2b("attested.quote.pcrDigest", MAX_DIGEST_SIZE);
      return { type, pcrSelect, pcrDigest };
    }
    case "certify": {
      const name = readName(r, "attested.certify.name");
      const qualifiedName = readName(r, "attested.certify.qualifiedName");
      return { type, name, qualifiedName };
    }
    case "creation": {
      const objectName = readName(r, "attested.creation.objectName");
      const creationHash = r.tpm2b("attested.creation.creationHash", MAX_DIGEST_SIZE);
      return { type, objectName, creationHash };
    }
    case "time": {
      const time = r.u64("attested.time.time.time");
      const clockInfo = readClockInfo(r, "attested.time.time.clockInfo");
      const firmwareVersion = r.u64("attested.time.firmwareVersion");
      return { type, time, clockInfo, firmwareVersion };
    }
    case "command-audit": {
      const auditCounter = r.u64("attested.commandAudit.auditCounter");
      const digestAlg = readHashAlg(r, "attested.commandAudit.digestAlg");
      const auditDigest = r.tpm2b("attested.commandAudit.auditDigest", MAX_DIGEST_SIZE);
      const commandDigest = r.tpm2b("attested.commandAudit.commandDigest", MAX_DIGEST_SIZE);
      return { type, auditCounter, digestAlg, auditDigest, commandDigest };
    }
    case "session-audit": {
      const exclusiveSession = readYesNo(r, "attested.sessionAudit.exclusiveSession");
      const sessionDigest = r.tpm2b("attested.sessionAudit.sessionDigest", MAX_DIGEST_SIZE);
      return { type, exclusiveSession, sessionDigest };
    }
    case "nv": {
      const indexName = readName(r, "attested.nv.indexName");
      const offset = r.u16("attested.nv.offset");
      const nvContents = r.tpm2b("attested.nv.nvContents", MAX_NV_BUFFER_SIZE);
      return { type, indexName, offset, nvContents };
    }
    case "nv-digest": {
      const indexName = readName(r, "attested.nvDigest.indexName");
      const nvDigest = r.tpm2b("attested.nvDigest.nvDigest", MAX_DIGEST_SIZE);
      return { type, indexName, nvDigest };
    }
  }
}

function writeAttested(w: ByteWriter, a: Attested): void {
  switch (a.type) {
    case "quote":
      writePcrSelection(w, a.pcrSelect);
      w.tpm2b(a.pcrDigest);
      return;
    case "certify":
      w.tpm2b(a.name).tpm2b(a.qualifiedName);
      return;
    case "creation":
      w.tpm2b(a.objectName).tpm2b(a.creationHash);
      return;
    case "time":
      w.u64(a.time);
      writeClockInfo(w, a.clockInfo);
      w.u64(a.firmwareVersion);
      return;
    case "command-audit":
      w.u64(a.auditCounter);
      writeHashAlg(w, a.digestAlg);
      w.tpm2b(a.auditDigest).tpm2b(a.commandDigest);
      return;
    case "session-audit":
      w.u8(a.exclusiveSession ? 1 : 0).tpm2b(a.sessionDigest);
      return;
    case "nv":
      w.tpm2b(a.indexName).u16(a.offset).tpm2b(a.nvContents);
      return;
    case "nv-digest":
      w.tpm2b(a.indexName).tpm2b(a.nvDigest);
      return;
  }
}

/**
 * Decode a TPMS_ATTEST that fills `bytes` exactly. Checks the magic
 * (TPM_GENERATED_VALUE, Part 2 §6.2: only the TPM writes it, which is what
 * makes a restricted key's signature over it meaningful), the type, every
 * size bound and that nothing follows. It does not check the signature.
 *
 * @example
 * ```ts
 * const attest = decodeTpmsAttest(readFileSync("quote.msg")); // tpm2_quote -m
 * if (attest.attested.type === "quote") console.log(attest.attested.pcrSelect);
 * ```
 */
export function decodeTpmsAttest(bytes: Uint8Array): TpmsAttest {
  const r = new ByteReader(bytes, "TPMS_ATTEST");
  if (r.u32("magic") !== TPM_GENERATED_VALUE) {
    throw new MalformedError("bad-magic", "TPMS_ATTEST.magic", "not TPM_GENERATED_VALUE");
  }
  const tag = r.u16("type");
  const type = TYPE_BY_ST.get(tag);
  if (type === undefined) throw new MalformedError("bad-value", "TPMS_ATTEST.type", "not an attestation type");
  const qualifiedSigner = readName(r, "qualifiedSigner");
  const extraData = r.tpm2b("extraData", MAX_DATA_SIZE);
  const clockInfo = readClockInfo(r, "clockInfo");
  const firmwareVersion = r.u64("firmwareVersion");
  const attested = readAttested(r, type);
  r.end();
  return Object.freeze({ qualifiedSigner, extraData, clockInfo, firmwareVersion, attested });
}

/**
 * Encode a TPMS_ATTEST (magic TPM_GENERATED_VALUE, then the fields). Used to
 * forge test evidence; `decodeTpmsAttest(encodeTpmsAttest(a))` equals `a` for
 * every structure the decoder accepts.
 */
export function encodeTpmsAttest(attest: TpmsAttest): Uint8Array {
  const w = new ByteWriter();
  w.u32(TPM_GENERATED_VALUE).u16(attestTag(attest.attested.type));
  w.tpm2b(attest.qualifiedSigner).tpm2b(attest.extraData);
  writeClockInfo(w, attest.clockInfo);
  w.u64(attest.firmwareVersion);
  writeAttested(w, attest.attested);
  return w.finish();
}
