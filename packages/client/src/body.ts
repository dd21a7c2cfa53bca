/**
 * Reading response bodies with a size bound: a hostile server must not make
 * the client buffer without limit before verification has even started.
 * Web streams only (runs in browsers).
 */

import { untilAborted } from "./timeouts.js";

/** The body was longer than the bound. */
export class BodyTooLargeError extends Error {}

/**
 * Read a response body completely, refusing more than `maxBytes`. The body is
 * cancelled as soon as the bound is passed.
 *
 * With `signal`, a read stops (and the body is cancelled) as soon as it
 * aborts, even when the transport does not honour the signal itself.
 *
 * @throws BodyTooLargeError past `maxBytes` (callers map it to their own typed error);
 *   the signal's reason when it aborts.
 */
export async function readBounded(response: Response, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
  const declared = response.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(`body over ${maxBytes} bytes`);
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await untilAborted(reader.read(), signal);
    } catch (error) {
      if (signal?.aborted) reader.cancel(signal.reason).catch(() => undefined);
      throw error;
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(`body over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Discard a response body we will not read, so the connection can be reused. */
export async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** An error body is read only for its `error.code`; 16 KiB is ample. */
const MAX_ERROR_BODY = 16 * 1024;

/**
 * The OpenAI-style `error.code` of an error response (`{"error":{"code":…}}`),
 * or undefined when the body is not that. Consumes the body; throws only the
 * signal's reason, when it aborts.
 */
export async function readErrorCode(response: Response, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(await readBounded(response, MAX_ERROR_BODY, signal)));
    const code = (parsed as { error?: { code?: unknown } } | null)?.error?.code;
    return typeof code === "string" ? code : undefined;
  } catch (error) {
    if (signal?.aborted) throw signal.reason ?? error;
    return undefined;
  }
}
