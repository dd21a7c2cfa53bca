/** TPM2_Startup, TPM2_Shutdown, TPM2_GetRandom, TPM2_GetCapability, TPM2_FlushContext (Part 3 §9, §16, §30, §28). */
import { ByteWriter, MalformedError } from "@veritee/core";
import { TPM_CAP, TPM_CC } from "../constants.js";
import type { TpmCommand } from "./types.js";

/** TPM2_Startup (Part 3 §9.3): `startupType` is TPM_SU_CLEAR or TPM_SU_STATE. */
export function startupCommand(startupType: number): TpmCommand<void> {
  return {
    name: "TPM2_Startup",
    code: TPM_CC.Startup,
    handles: [],
    authHandles: 0,
    parameters: new ByteWriter().u16(startupType).finish(),
    responseHandles: 0,
    parse: () => undefined,
  };
}

/** TPM2_Shutdown (Part 3 §9.4). */
export function shutdownCommand(shutdownType: number): TpmCommand<void> {
  return {
    name: "TPM2_Shutdown",
    code: TPM_CC.Shutdown,
    handles: [],
    authHandles: 0,
    parameters: new ByteWriter().u16(shutdownType).finish(),
    responseHandles: 0,
    parse: () => undefined,
  };
}

/** TPM2_GetRandom (Part 3 §16.1): at most `bytesRequested`, possibly fewer. */
export function getRandomCommand(bytesRequested: number): TpmCommand<Uint8Array> {
  return {
    name: "TPM2_GetRandom",
    code: TPM_CC.GetRandom,
    handles: [],
    authHandles: 0,
    parameters: new ByteWriter().u16(bytesRequested).finish(),
    responseHandles: 0,
    parse: (_h, r) => {
      const bytes = r.tpm2b("randomBytes", 64);
      if (bytes.length > bytesRequested) throw new MalformedError("too-large", "TPM2_GetRandom.randomBytes");
      return bytes;
    },
  };
}

/** TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES) for one property (Part 3 §30.2, Part 2 §10.8.2). */
export function getPropertyCommand(property: number): TpmCommand<number | undefined> {
  return {
    name: "TPM2_GetCapability",
    code: TPM_CC.GetCapability,
    handles: [],
    authHandles: 0,
    parameters: new ByteWriter().u32(TPM_CAP.TPM_PROPERTIES).u32(property).u32(1).finish(),
    responseHandles: 0,
    parse: (_h, r) => {
      r.u8("moreData");
      if (r.u32("capability") !== TPM_CAP.TPM_PROPERTIES) {
        throw new MalformedError("bad-value", "TPM2_GetCapability.capability");
      }
      const count = r.u32("tpmProperties.count");
      if (count > 1) throw new MalformedError("too-large", "TPM2_GetCapability.tpmProperties.count");
      if (count === 0) return undefined;
      const got = r.u32("tpmProperties[0].property");
      const value = r.u32("tpmProperties[0].value");
      // The TPM returns the next property at or after the one asked for; a different one means "not reported".
      return got === property ? value : undefined;
    },
  };
}

/** MAX_CAP_HANDLES for the usual 1024-byte capability buffer ((1024 − 8) / 4). */
const MAX_CAP_HANDLES = 254;

/** TPM2_GetCapability(TPM_CAP_HANDLES) from `first` (Part 3 §30.2). */
export function getHandlesCommand(
  first: number,
  maxCount: number,
): TpmCommand<{ handles: number[]; moreData: boolean }> {
  return {
    name: "TPM2_GetCapability",
    code: TPM_CC.GetCapability,
    handles: [],
    authHandles: 0,
    parameters: new ByteWriter().u32(TPM_CAP.HANDLES).u32(first).u32(maxCount).finish(),
    responseHandles: 0,
    parse: (_h, r) => {
      const moreData = r.u8("moreData");
      if (moreData > 1) throw new MalformedError("bad-value", "TPM2_GetCapability.moreData");
      if (r.u32("capability") !== TPM_CAP.HANDLES)
        throw new MalformedError("bad-value", "TPM2_GetCapability.capability");
      const count = r.u32("handles.count");
      if (count > Math.min(maxCount, MAX_CAP_HANDLES)) {
        throw new MalformedError("too-large", "TPM2_GetCapability.handles.count");
      }
      const handles: number[] = [];
      for (let i = 0; i < count; i++) handles.push(r.u32(`handles[${i}]`));
      return { handles, moreData: moreData === 1 };
    },
  };
}

/** TPM2_FlushContext (Part 3 §28.4): the handle travels in the parameter area, without authorisation. */
export function flushContextCommand(handle: number): TpmCommand<void> {
  return {
    name: "TPM2_FlushContext",
    code: TPM_CC.FlushContext,
    handles: [],
    authHandles: 0,
    parameters: new ByteWriter().u32(handle).finish(),
    responseHandles: 0,
    parse: () => undefined,
  };
}
