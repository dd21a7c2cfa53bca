/** TPM2_NV_ReadPublic and TPM2_NV_Read (Part 3 §31.6, §31.13). */
import { ByteReader, ByteWriter, bytesEqual, type HashAlg, hashAlgFromTpm, MalformedError } from "@veritee/core";
import { TPM_CC } from "../constants.js";
import { computeName } from "../wire/structures.js";
import type { TpmCommand } from "./types.js";

/** An NV index's public area (TPMS_NV_PUBLIC, Part 2 §13.5) and Name. */
export interface NvPublic {
  readonly nvIndex: number;
  readonly nameAlg: HashAlg;
  /** TPMA_NV (Part 2 §13.4). */
  readonly attributes: number;
  readonly authPolicy: Uint8Array;
  /** The index's size in bytes. */
  readonly dataSize: number;
  /** nameAlg || H(TPMS_NV_PUBLIC), checked against the TPM's answer. */
  readonly name: Uint8Array;
}

/** TPM2_NV_ReadPublic (Part 3 §31.6). The returned Name is checked against the returned public area. */
export function nvReadPublicCommand(nvIndex: number): TpmCommand<NvPublic> {
  return {
    name: "TPM2_NV_ReadPublic",
    code: TPM_CC.NV_ReadPublic,
    handles: [nvIndex],
    authHandles: 0,
    parameters: new Uint8Array(0),
    responseHandles: 0,
    parse: (_h, r) => {
      const area = r.tpm2b("nvPublic");
      const name = r.tpm2b("nvName", 66);
      const p = new ByteReader(area, "TPM2_NV_ReadPublic.nvPublic");
      const index = p.u32("nvIndex");
      const nameAlg = hashAlgFromTpm(p.u16("nameAlg"));
      if (nameAlg === undefined) throw new MalformedError("unsupported", "TPM2_NV_ReadPublic.nvPublic.nameAlg");
      const attributes = p.u32("attributes");
      const authPolicy = p.tpm2b("authPolicy", 64);
      const dataSize = p.u16("dataSize");
      p.end();
      if (index !== nvIndex) throw new MalformedError("bad-value", "TPM2_NV_ReadPublic.nvPublic.nvIndex");
      if (!bytesEqual(name, computeName(nameAlg, area))) {
        throw new MalformedError("bad-value", "TPM2_NV_ReadPublic.nvName", "does not match nvPublic");
      }
      return { nvIndex: index, nameAlg, attributes, authPolicy, dataSize, name };
    },
  };
}

/** TPM2_NV_Read (Part 3 §31.13) of `size` bytes at `offset`, authorised through `authHandle`. */
export function nvReadCommand(
  authHandle: number,
  nvIndex: number,
  size: number,
  offset: number,
): TpmCommand<Uint8Array> {
  return {
    name: "TPM2_NV_Read",
    code: TPM_CC.NV_Read,
    handles: [authHandle, nvIndex],
    authHandles: 1,
    parameters: new ByteWriter().u16(size).u16(offset).finish(),
    responseHandles: 0,
    parse: (_h, r) => {
      const data = r.tpm2b("data");
      if (data.length !== size) throw new MalformedError("bad-length", "TPM2_NV_Read.data", "not the size requested");
      return data;
    },
  };
}
