/**
 * The channel to one attested key set: how a request travels once the
 * server is verified (docs/CHANNEL.md).
 *
 * - Attested TLS (https, Node): every connection must present the attested
 *   SPKI before a byte of the request is written; no CA is involved.
 * - Sealed requests: the whole request — method, target, header fields
 *   (`Authorization` among them) and body, as Binary HTTP (RFC 9292) — is
 *   sealed with HPKE to the attested key and sent as `POST /v1/sealed`,
 *   so an intermediary sees none of it; the response
 *   — status, content type and body — comes back sealed frame by frame with
 *   keys derived from this request, and is opened as it arrives. Only a
 *   sealed response is ever handed to the caller: an answer in the clear
 *   (a proxy's, or a server error) is refused, except the server's
 *   "unknown key set" signal, which makes the session attest again.
 *
 * Either or both; `connect` refuses a plan with neither.
 */
import {
  ChannelError,
  createRequestSealer,
  type HpkeBackend,
  openResponse,
  openResponseStream,
  type RequestSealer,
  SEALED_PATH,
  SEALED_RESPONSE_TYPE,
} from "@veritee/channel";
import { BodyTooLargeError, discardBody, readBounded, readErrorCode } from "./body.js";
import type { OutgoingRequest } from "./request.js";
import type { AcceptedAttestation, KeySetChannel } from "./session.js";
import { type FetchLike, send } from "./transport.js";
import type { ServerAddress } from "./url.js";

/** A `fetch` bound to pinned connections, and how to release them. */
export interface PinnedFetch {
  readonly fetch: FetchLike;
  /** Close the pinned connections. */
  close(): Promise<void>;
}

/**
 * Attested TLS: the platform part that can pin a TLS key (Node, not a
 * browser). `attestedTls` from `@veritee/client/node` is one.
 */
export interface PinnedTransport {
  /**
   * A fetch for the attestation document, before any key is known: TLS that
   * accepts any certificate. Safe: the document proves itself (the quote
   * binds the key set to the fresh nonce) and carries nothing of the user's.
   */
  unpinned(address: ServerAddress): FetchLike;
  /**
   * A fetch whose TLS connections accept only a peer holding the key `spki`
   * (DER SubjectPublicKeyInfo). `keepAlive: false` for a one-off exchange.
   */
  pinned(address: ServerAddress, spki: Uint8Array, options?: { readonly keepAlive?: boolean }): PinnedFetch;
}

/** The channel decided for a session, before any network use. */
export interface ChannelPlan {
  readonly address: ServerAddress;
  /** Seal bodies with HPKE to the attested key. */
  readonly sealed: boolean;
  /** Pin TLS to the attested SPKI (https only). */
  readonly pinned?: PinnedTransport;
  /** The HPKE backend (default: WebCrypto). */
  readonly backend?: HpkeBackend;
}

/** The server's unsealed answer to a request sealed to a key set it does not hold (docs/CHANNEL.md). */
const UNKNOWN_KEY_STATUS = 421;
const UNKNOWN_KEY_CODE = "sealed_key_unknown";

/** The server's unsealed answer to a sealed request larger than it accepts (docs/CHANNEL.md). */
const TOO_LARGE_STATUS = 413;
const TOO_LARGE_CODE = "request_too_large";

/** Headers that describe the connection, not the request; never forwarded, never sealed. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"]);

/** Statuses whose response has no body (Fetch §2.2.3 "null body status"). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * Open the channel to an accepted attestation's key set.
 *
 * @param fetchFn the transport when TLS is not pinned (http, or a browser).
 */
export async function openKeySetChannel(
  plan: ChannelPlan,
  accepted: AcceptedAttestation,
  fetchFn: FetchLike,
): Promise<KeySetChannel> {
  const pinned = plan.pinned?.pinned(plan.address, accepted.attestation.keySet.tlsSpki);
  const transport = pinned?.fetch ?? fetchFn;
  const info = Object.freeze({ sealed: plan.sealed, attestedTls: pinned !== undefined });
  // One sealer per key set: it keeps the next request's HPKE encapsulation ready (each is used once).
  const sealer = plan.sealed
    ? createRequestSealer(accepted.attestation, plan.backend ? { backend: plan.backend } : {})
    : undefined;
  // The API root ends in /v1 (url.ts), where the server serves. Under a base URL with a path prefix (a proxy that
  // strips it), the outer request keeps the prefix, for the proxy; the sealed inner path is the server's own.
  const prefix = new URL(plan.address.apiRoot).pathname.slice(0, -"/v1".length);
  const sealedUrl = `${plan.address.origin}${prefix}${SEALED_PATH}`;
  return {
    info,
    exchange: sealer
      ? (request) => sendSealed(transport, { url: sealedUrl, prefix }, request, sealer)
      : (request) => sendPinned(transport, request),
    close: async () => {
      sealer?.close();
      await pinned?.close();
    },
  };
}

/** Attested TLS only: the request as it is, inside the pinned connection. */
async function sendPinned(transport: FetchLike, request: OutgoingRequest): Promise<Response> {
  const headers = new Headers();
  for (const [name, value] of request.headers) if (!HOP_BY_HOP.has(name)) headers.set(name, value);
  return send(
    transport,
    request.url.href,
    {
      method: request.method,
      headers,
      ...(request.body === null ? {} : { body: request.body }),
      ...(request.signal ? { signal: request.signal } : {}),
    },
    "request",
  );
}

/**
 * Sealed: seal, send, and open the response as it streams. Resolves
 * `"unknown-key"` when the server says it does not hold the key set, and a
 * client-made 413 when it refused the sealed request as too large.
 *
 * @throws ChannelError `not-sealed` for any answer that is not a sealed
 *   response; the opener's errors (`tampered`, `frame-out-of-order`,
 *   `truncated`, …) for the head — later frames error the body stream.
 */
async function sendSealed(
  transport: FetchLike,
  sealedAt: { readonly url: string; readonly prefix: string },
  request: OutgoingRequest,
  sealer: RequestSealer,
): Promise<Response | "unknown-key"> {
  const method = request.method;
  const fields: [string, string][] = [];
  // Every header field the caller set is sealed with the request (Headers yields lower-case names).
  for (const [name, value] of request.headers) if (!HOP_BY_HOP.has(name)) fields.push([name, value]);
  const sealed = await sealer.seal({
    method,
    // session.fetch sends only below the API root (request.ts), so the path starts with the prefix.
    path: `${request.url.pathname.slice(sealedAt.prefix.length)}${request.url.search}`,
    authority: request.url.host,
    headers: fields,
    body: request.body ?? new Uint8Array(0),
  });
  const response = await send(
    transport,
    sealedAt.url,
    {
      method: "POST",
      // Only the sealed content type and the key-set digest go out in clear.
      headers: sealed.headers,
      body: sealed.body,
      ...(request.signal ? { signal: request.signal } : {}),
    },
    "request",
  );

  const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (response.status !== 200 || type !== SEALED_RESPONSE_TYPE || response.body === null) {
    if (response.status === UNKNOWN_KEY_STATUS && (await readErrorCode(response)) === UNKNOWN_KEY_CODE)
      return "unknown-key";
    if (response.status === TOO_LARGE_STATUS && (await readErrorCode(response)) === TOO_LARGE_CODE)
      return tooLargeResponse();
    await discardBody(response);
    throw new ChannelError("not-sealed", `the server answered HTTP ${response.status} without sealing`);
  }
  const length = wholeLength(response.headers.get("content-length"));
  if (length !== undefined) {
    // A whole sealed response (the server sends every answer of known length so): read it, open it at once, and
    // hand out the plaintext bytes — no second stream to pipe through for a body that is already complete.
    let bytes: Uint8Array;
    try {
      bytes = await readBounded(response, length);
    } catch (error) {
      if (error instanceof BodyTooLargeError) throw new ChannelError("bad-framing", "the sealed response overruns");
      throw error;
    }
    const opened = await openResponse(sealed.context, bytes);
    checkStatus(opened.status);
    const nullBody = method === "HEAD" || NULL_BODY_STATUSES.has(opened.status);
    return new Response(nullBody ? null : opened.body, { status: opened.status, headers: opened.headers });
  }
  const opened = await openResponseStream(sealed.context, response.body);
  if (opened.status < 200 || opened.status > 599) {
    await opened.body.cancel().catch(() => undefined);
    checkStatus(opened.status);
  }
  const nullBody = method === "HEAD" || NULL_BODY_STATUSES.has(opened.status);
  if (nullBody) await opened.body.cancel().catch(() => undefined);
  return new Response(nullBody ? null : opened.body, { status: opened.status, headers: opened.headers });
}

/**
 * The answer to a sealed request the server refused as too large, made here
 * (the server's unsealed answer is trusted for "it failed" only): an
 * OpenAI-shaped 413, which the `openai` package raises as an `APIError` and
 * does not retry (it retries connection errors, 408, 409, 429 and 5xx).
 */
function tooLargeResponse(): Response {
  const body = JSON.stringify({
    error: {
      message: "The sealed request is larger than the server accepts.",
      type: "invalid_request_error",
      param: null,
      code: TOO_LARGE_CODE,
    },
  });
  return new Response(body, { status: TOO_LARGE_STATUS, headers: { "content-type": "application/json" } });
}

/** Largest sealed response read whole rather than streamed. */
const MAX_WHOLE_RESPONSE = 16 * 1024 * 1024;

/** The outer `content-length` when the response is to be read whole, else undefined (a stream). */
function wholeLength(value: string | null): number | undefined {
  if (value === null || !/^\d{1,9}$/.test(value)) return undefined;
  const length = Number(value);
  return length <= MAX_WHOLE_RESPONSE ? length : undefined;
}

/** A sealed head must carry a final status: 1xx answers have no place inside a sealed response. */
function checkStatus(status: number): void {
  if (status < 200 || status > 599)
    throw new ChannelError("bad-framing", "the sealed response has an informational status");
}
