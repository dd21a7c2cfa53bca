/** TPM2_PCR_Read and TPM2_PCR_Extend (Part 3 §22.4, §22.2). */
import { ByteWriter, digestSize, type HashAlg, MalformedError } from "@veritee/core";
import { TPM_CC } from "../constants.js";
import {
  type NormalizedSelection,
  readPcrSelection,
  writeDigestValues,
  writePcrSelection,
} from "../wire/structures.js";
import type { TpmCommand } from "./types.js";

/** TPML_DIGEST holds at most 8 digests (Part 2 §10.9, `digests[count]{:8}`): why PCR_Read returns at most 8 PCRs per call. */
const MAX_DIGESTS = 8;

/** One TPM2_PCR_Read answer: the PCRs it chose to return, in the order of `values`. */
export interface PcrReadResult {
  readonly updateCounter: number;
  readonly selection: readonly { readonly bank: HashAlg; readonly pcrs: readonly number[] }[];
  /** One digest per selected PCR, banks in selection order, PCRs ascending (Part 3 §22.4.1). */
  readonly values: readonly Uint8Array[];
}

/** TPM2_PCR_Read (Part 3 §22.4). */
export function pcrReadCommand(selection: NormalizedSelection): TpmCommand<PcrReadResult> {
  const w = new ByteWriter();
  writePcrSelection(w, selection);
  return {
    name: "TPM2_PCR_Read",
    code: TPM_CC.PCR_Read,
    handles: [],
    authHandles: 0,
    parameters: w.finish(),
    responseHandles: 0,
    parse: (_h, r) => {
      const updateCounter = r.u32("pcrUpdateCounter");
      const returned = readPcrSelection(r, "pcrSelectionOut");
      const count = r.u32("pcrValues.count");
      if (count > MAX_DIGESTS) throw new MalformedError("too-large", "TPM2_PCR_Read.pcrValues.count");
      const expected = returned.reduce((n, s) => n + s.pcrs.length, 0);
      if (count !== expected) {
        throw new MalformedError("bad-length", "TPM2_PCR_Read.pcrValues.count", "does not match pcrSelectionOut");
      }
      const values: Uint8Array[] = [];
      for (const { bank, pcrs } of returned) {
        for (const pcr of pcrs) {
          const digest = r.tpm2b(`pcrValues[${values.length}]`, 64);
          if (digest.length !== digestSize(bank)) {
            throw new MalformedError("bad-length", `TPM2_PCR_Read.pcrValues[${values.length}]`, `PCR ${pcr}`);
          }
          values.push(digest);
        }
      }
      return { updateCounter, selection: returned, values };
    },
  };
}

/** TPM2_PCR_Extend (Part 3 §22.2): one digest per bank, all in one TPML_DIGEST_VALUES. */
export function pcrExtendCommand(pcr: number, digests: ReadonlyMap<HashAlg, Uint8Array>): TpmCommand<void> {
  const w = new ByteWriter();
  writeDigestValues(w, digests);
  return {
    name: "TPM2_PCR_Extend",
    code: TPM_CC.PCR_Extend,
    handles: [pcr],
    authHandles: 1,
    parameters: w.finish(),
    responseHandles: 0,
    parse: () => undefined,
  };
}
