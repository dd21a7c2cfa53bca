/**
 * A `fetch` call's arguments, normalized into one value the channel can
 * seal or send: an absolute URL under the attested API root, the method,
 * the headers and the whole body as bytes. Uses only the web-standard
 * `Request` (runs in browsers), so every body type `fetch` accepts works —
 * the `openai` package sends JSON strings, and `FormData` for uploads.
 */
import { ClientError } from "./errors.js";
import { isUnderApiRoot, type ServerAddress } from "./url.js";

/** A request about to go to the attested server. The body is fully read: nothing streams out unsealed. */
export interface OutgoingRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Headers;
  /** The body bytes; `null` for GET/HEAD or no body. */
  readonly body: Uint8Array<ArrayBuffer> | null;
  readonly signal: AbortSignal | undefined;
}

/**
 * Normalize `fetch(input, init)` arguments.
 *
 * @throws ClientError `foreign-url` for a URL outside the attested API root
 *   (it would bypass the attested channel); the signal's reason when aborted.
 */
export async function readOutgoingRequest(
  address: ServerAddress,
  input: string | URL | Request,
  init?: RequestInit,
): Promise<OutgoingRequest> {
  const request = new Request(input, init);
  const url = new URL(request.url);
  if (!isUnderApiRoot(address, url)) {
    throw new ClientError("foreign-url", "session.fetch sends only to the attested server's API root");
  }
  const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
  if (signal?.aborted) throw signal.reason;
  const method = request.method.toUpperCase();
  const body = method === "GET" || method === "HEAD" ? null : new Uint8Array(await request.arrayBuffer());
  return {
    url,
    method,
    headers: new Headers(request.headers),
    body: body !== null && body.length === 0 && request.body === null ? null : body,
    signal,
  };
}
