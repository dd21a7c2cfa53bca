/**
 * Response unmarshalling (TPM 2.0 Part 1 §18, Part 3 §5): header,
 * response code, handle area, parameter area and authorisation area, each
 * checked for exact sizes. Everything that goes wrong is a `TpmError`.
 */
import { ByteReader, MalformedError, TPM_ST } from "@veritee/core";
import { TpmError } from "../errors.js";

/**
 * The largest response accepted. TPMs typically report a TPM_PT_MAX_RESPONSE_SIZE
 * of 4 KiB; 64 KiB leaves room for any vendor
 * while bounding what a hostile peer can make us buffer.
 */
export const MAX_RESPONSE_SIZE = 0x10000;

/** What the response to a given command must look like. */
export interface ResponseShape {
  /** The command name, for error messages. */
  readonly command: string;
  /** Handles in the response's handle area (Part 3 lists them per command). */
  readonly handleCount: number;
  /** Authorisation sessions sent with the command; the response carries as many. */
  readonly sessionCount: number;
}

/** One TPMS_AUTH_RESPONSE (Part 2 §10.13). */
export interface AuthResponse {
  readonly nonce: Uint8Array;
  readonly attributes: number;
  readonly hmac: Uint8Array;
}

/** A successful response, split into its areas. */
export interface DecodedResponse {
  readonly handles: readonly number[];
  readonly parameters: Uint8Array;
  readonly sessions: readonly AuthResponse[];
}

/**
 * Decode a complete response. A non-zero response code becomes a `TpmError`
 * named after the code; anything malformed is `bad-response` with the
 * `MalformedError` as its cause.
 */
export function decodeResponse(bytes: Uint8Array, shape: ResponseShape): DecodedResponse {
  try {
    return decodeStrict(bytes, shape);
  } catch (error) {
    if (error instanceof MalformedError) {
      throw new TpmError("bad-response", shape.command, `malformed response (${error.what})`, { cause: error });
    }
    throw error;
  }
}

function decodeStrict(bytes: Uint8Array, shape: ResponseShape): DecodedResponse {
  const r = new ByteReader(bytes, "response");
  const tag = r.u16("tag");
  const size = r.u32("responseSize");
  if (size !== bytes.length) {
    throw new MalformedError("bad-length", "response.responseSize", `header says ${size}, got ${bytes.length}`);
  }
  if (size > MAX_RESPONSE_SIZE) throw new MalformedError("too-large", "response.responseSize");
  const rc = r.u32("responseCode");
  if (rc !== 0) {
    // An error response is the header alone (Part 1 §18); its tag is TPM_ST_NO_SESSIONS, or
    // TPM_ST_RSP_COMMAND when the TPM could not make sense of the command's tag (TPM_RC_BAD_TAG).
    if (tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.RSP_COMMAND) {
      throw new MalformedError("bad-value", "response.tag", "unexpected tag on an error response");
    }
    r.end();
    throw TpmError.fromResponseCode(shape.command, rc);
  }
  const expectedTag = shape.sessionCount > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS;
  if (tag !== expectedTag) throw new MalformedError("bad-value", "response.tag", "does not match the command's tag");

  const handles: number[] = [];
  for (let i = 0; i < shape.handleCount; i++) handles.push(r.u32(`handle[${i}]`));

  if (shape.sessionCount === 0) {
    return { handles, parameters: r.bytes(r.remaining, "parameters"), sessions: [] };
  }
  const parameterSize = r.u32("parameterSize");
  const parameters = r.bytes(parameterSize, "parameters");
  const sessions: AuthResponse[] = [];
  for (let i = 0; i < shape.sessionCount; i++) {
    const field = `authResponse[${i}]`;
    sessions.push({
      nonce: r.tpm2b(`${field}.nonce`, 64),
      attributes: r.u8(`${field}.sessionAttributes`),
      hmac: r.tpm2b(`${field}.hmac`, 64),
    });
  }
  r.end();
  return { handles, parameters, sessions };
}

/**
 * Decode a response's parameter area with `read`, which must consume it
 * exactly. A `MalformedError` (from the reader or from `read`'s own checks)
 * becomes a `bad-response` `TpmError` naming the command.
 */
export function decodeParameters<T>(command: string, parameters: Uint8Array, read: (r: ByteReader) => T): T {
  try {
    const r = new ByteReader(parameters, command);
    const value = read(r);
    r.end();
    return value;
  } catch (error) {
    if (error instanceof MalformedError) {
      throw new TpmError("bad-response", command, `malformed response parameters (${error.what})`, { cause: error });
    }
    throw error;
  }
}
