import { VeriteeError } from "@veritee/core";
import { decodeResponseCode, type ResponseCodeInfo, type TpmRcName } from "./rc.js";

/**
 * Why a TPM command failed: the TPM's own response code (a `TPM_RC_*` name,
 * never `TPM_RC_SUCCESS`), or a failure on this side of the wire:
 * - `transport-closed`: the connection or device is closed (or was closed after an earlier failure);
 * - `transport-error`: connecting, writing or reading failed at the OS level;
 * - `timeout`: no complete response within the command timeout (the transport is then closed);
 * - `bad-response`: the response bytes are not a well-formed answer to the command sent;
 * - `bad-argument`: the caller's input cannot be sent (e.g. a PCR index out of range);
 * - `unsupported`: the TPM does not offer what was asked (e.g. a PCR bank it has not allocated);
 * - `pcr-changed`: PCRs kept changing while a multi-part PCR read was in progress.
 */
export type TpmErrorCode =
  | Exclude<TpmRcName, "TPM_RC_SUCCESS">
  | "transport-closed"
  | "transport-error"
  | "timeout"
  | "bad-response"
  | "bad-argument"
  | "unsupported"
  | "pcr-changed";

/**
 * A failed TPM command. `command` names it ("TPM2_Quote"); `rc` is the TPM's
 * response code when the TPM answered with one, undefined for failures on
 * this side of the wire. Format-one codes also say which parameter, handle or
 * session the TPM rejected.
 *
 * @example
 * try { await tpm.readPublic(0x81000099); }
 * catch (e) { if (e instanceof TpmError && e.code === "TPM_RC_HANDLE") { ... } }
 */
export class TpmError extends VeriteeError<TpmErrorCode> {
  readonly kind = "tpm" as const;
  /** The command that failed, e.g. "TPM2_Quote" (or the transport operation, e.g. "connect"). */
  readonly command: string;
  /** The TPM's response code, when the TPM returned one. */
  readonly rc: number | undefined;
  /** Whether the TPM flagged its code as a warning (retry may succeed). */
  readonly warning: boolean;
  /** 1-based number of the rejected parameter (format-one codes). */
  readonly parameter: number | undefined;
  /** 1-based number of the rejected handle (format-one codes). */
  readonly handle: number | undefined;
  /** 1-based number of the rejected session (format-one codes). */
  readonly session: number | undefined;

  constructor(
    code: TpmErrorCode,
    command: string,
    detail: string,
    options?: { cause?: unknown; rcInfo?: ResponseCodeInfo },
  ) {
    super(code, `${command}: ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.command = command;
    const info = options?.rcInfo;
    this.rc = info?.rc;
    this.warning = info?.warning ?? false;
    this.parameter = info?.parameter;
    this.handle = info?.handle;
    this.session = info?.session;
  }

  /** The error for a non-zero response code returned by the TPM for `command`. */
  static fromResponseCode(command: string, rc: number): TpmError {
    const info = decodeResponseCode(rc);
    const code: TpmErrorCode = info.name === "TPM_RC_SUCCESS" ? "TPM_RC_UNKNOWN" : info.name;
    let where = "";
    if (info.parameter !== undefined) where = `, parameter ${info.parameter}`;
    else if (info.handle !== undefined) where = `, handle ${info.handle}`;
    else if (info.session !== undefined) where = `, session ${info.session}`;
    const detail = `the TPM returned ${info.name}${info.warning ? " (warning)" : ""} (rc 0x${info.rc.toString(16).padStart(3, "0")}${where})`;
    return new TpmError(code, command, detail, { rcInfo: info });
  }
}
