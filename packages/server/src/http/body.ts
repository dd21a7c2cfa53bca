/**
 * Reading a JSON request body under a size limit. The body is buffered (it is
 * bounded) and parsed exactly once; nothing about its content ever reaches an
 * error message — `JSON.parse`'s own messages quote the input, so they are
 * replaced by a fixed sentence.
 */
import { HttpError } from "./errors.js";
import type { HttpRequest } from "./exchange.js";

/** 1 MiB: far more than any chat request to a local model needs. */
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

function tooLarge(): HttpError {
  return new HttpError("body-too-large", "The request body is larger than this server accepts.");
}

/**
 * Whether the request declares a JSON body. Requiring it keeps browsers from
 * posting to a local server without a CORS preflight (a "simple" request can
 * only carry text/plain, form or multipart bodies).
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const semi = header.indexOf(";");
  const type = (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
  return type === "application/json";
}

/** Receives the means to abandon a body read (on a timeout or a shutdown, so that a stalled upload frees its request). */
export interface BodyReadHolder {
  abortBodyRead: ((reason: unknown) => void) | undefined;
}

/**
 * Buffer the request body and parse it as a JSON object (see
 * `parseJsonObject`), failing with 413 as soon as it exceeds `maxBytes` (up
 * front when Content-Length already says so). Parsing happens in the "end"
 * callback itself, sparing a promise hop per request. A body already in
 * memory (an opened sealed request) is parsed at once, under the same limit.
 */
export function readJsonBody(
  request: HttpRequest,
  maxBytes: number,
  holder: BodyReadHolder,
): Promise<Record<string, unknown>> {
  return collectBody(request, maxBytes, holder, parseJsonObject);
}

/**
 * Buffer the request body as bytes, under `maxBytes` (as {@link readJsonBody}):
 * for the Open Inference Protocol's binary tensors.
 */
export function readBodyBytes(request: HttpRequest, maxBytes: number, holder: BodyReadHolder): Promise<Buffer> {
  return collectBody(request, maxBytes, holder, (body) => body);
}

/** Buffer the body under `maxBytes` and hand it to `finish` in the "end" callback itself. */
function collectBody<T>(
  request: HttpRequest,
  maxBytes: number,
  holder: BodyReadHolder,
  finish: (body: Buffer) => T,
): Promise<T> {
  const declared = request.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge());
  const bytes = request.bytes;
  if (bytes !== undefined) {
    if (bytes.length > maxBytes) return Promise.reject(tooLarge());
    try {
      return Promise.resolve(finish(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  const req = request.stream;
  if (req === undefined) return Promise.reject(new Error("a request has either bytes or a stream"));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Listeners are not removed afterwards: they die with the request, and
    // removing them per request is measurable at high request rates. The
    // request's "error" needs no listener: node:http emits it only to existing
    // listeners, and "close" follows it.
    let settled = false;
    holder.abortBodyRead = (reason: unknown) => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      reject(reason);
    };
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > maxBytes) {
        settled = true;
        chunks.length = 0;
        // Keep discarding what the client still sends, so that it reads our 413
        // instead of a reset; the handler answers with `Connection: close`.
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (settled) return;
      settled = true;
      try {
        resolve(finish(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
      } catch (err) {
        reject(err);
      }
    });
    req.on("close", () => {
      if (settled || req.complete) return;
      settled = true;
      reject(new HttpError("client-closed", "The client closed the connection."));
    });
  });
}

/** Parse a body as a JSON object (OpenAI request bodies are always objects). */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError("invalid-json", "The request body is not valid JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError("invalid-json", "The request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
}
