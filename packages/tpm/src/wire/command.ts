/**
 * Command marshalling (TPM 2.0 Part 1 §18, Part 3 §5): header, handle area,
 * authorisation area, parameter area.
 */
import { ByteWriter, TPM_ST } from "@veritee/core";

/** One TPMS_AUTH_COMMAND (Part 2 §10.13). */
export interface AuthCommand {
  /** TPM_RS_PW for a password, or a session handle. */
  readonly sessionHandle: number;
  /** nonceCaller. */
  readonly nonce: Uint8Array;
  /** TPMA_SESSION. */
  readonly attributes: number;
  /** The password (TPM_RS_PW), or the HMAC / policy auth value; empty for a plain policy session. */
  readonly hmac: Uint8Array;
}

/** Everything needed to put a command on the wire. */
export interface CommandFrame {
  /** TPM_CC. */
  readonly code: number;
  /** The handle area, in the order Part 3 lists them. */
  readonly handles: readonly number[];
  /** One authorisation per handle that needs one (the first `sessions.length` handles, Part 3 marks them "@"). */
  readonly sessions: readonly AuthCommand[];
  /** The marshalled parameter area. */
  readonly parameters: Uint8Array;
}

/** Header size: tag (2), commandSize (4), commandCode (4). */
export const HEADER_SIZE = 10;

/**
 * Marshal a command. The tag is TPM_ST_SESSIONS exactly when an
 * authorisation area is present (Part 1 §18): a command without sessions
 * must not carry an empty authorisation area.
 */
export function encodeCommand(frame: CommandFrame): Uint8Array {
  const w = new ByteWriter();
  w.u16(frame.sessions.length > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS);
  w.u32(0); // commandSize, patched below
  w.u32(frame.code);
  for (const h of frame.handles) w.u32(h);
  if (frame.sessions.length > 0) {
    const auth = new ByteWriter();
    for (const s of frame.sessions) {
      auth.u32(s.sessionHandle).tpm2b(s.nonce).u8(s.attributes).tpm2b(s.hmac);
    }
    const area = auth.finish();
    w.u32(area.length).bytes(area);
  }
  w.bytes(frame.parameters);
  w.patchU32(2, w.size);
  return w.finish();
}
