/**
 * Attested TLS, client side: HTTPS connections that accept exactly one
 * server key — the attested SubjectPublicKeyInfo — and no CA at all.
 *
 * Each connection is a full TLS 1.3 handshake (no session resumption, so the
 * server always presents its certificate and proves its key with
 * CertificateVerify, RFC 8446 §4.4.3). Chain validation is off (the
 * certificate is self-signed); instead the peer's public key is compared with
 * the pin once the handshake completes and **before the socket is handed to
 * the HTTP client**: on a mismatch the socket is destroyed and the request
 * fails with `ChannelError("pin-mismatch")`, so not one request byte reaches
 * a server that does not hold the attested key. Node-only.
 */
import { Agent, type AgentOptions, request as httpsRequest, type RequestOptions } from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect, type TLSSocket } from "node:tls";
import { bytesEqual } from "@veritee/core";
import { ChannelError } from "../errors.js";

/** Options of {@link connectPinned}. */
export interface PinnedConnectOptions {
  readonly host: string;
  readonly port: number;
  /** The attested TLS SubjectPublicKeyInfo (DER), `KeySet.tlsSpki`. */
  readonly spki: Uint8Array;
  /** SNI name (default: `host` when it is a name, none for an IP address). */
  readonly servername?: string;
  /** Cancels the connection attempt. */
  readonly signal?: AbortSignal;
}

function peerSpki(socket: TLSSocket): Uint8Array | undefined {
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) return undefined;
  return new Uint8Array(cert.publicKey.export({ format: "der", type: "spki" }));
}

/**
 * Open a TLS connection and resolve only once the peer has proven the
 * attested key.
 *
 * @throws ChannelError `pin-mismatch` when the peer's key is another; the
 *   socket's error for a failed connection or handshake.
 * @example
 * const socket = await connectPinned({ host: "127.0.0.1", port: 8443, spki: verified.keySet.tlsSpki });
 */
export function connectPinned(options: PinnedConnectOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    options.signal?.throwIfAborted();
    const servername = options.servername ?? (isIP(options.host) === 0 ? options.host : undefined);
    const socket = connect({
      host: options.host,
      port: options.port,
      ...(servername !== undefined ? { servername } : {}),
      // No CA decides here: the pin below does. Session tickets are not offered, so every handshake shows the key.
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
      ALPNProtocols: ["http/1.1"],
    });
    // Requests and answers are small writes each: Nagle's algorithm would only hold them back.
    socket.setNoDelay(true);
    const onAbort = () => socket.destroy(options.signal?.reason as Error);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const settle = () => options.signal?.removeEventListener("abort", onAbort);
    socket.once("error", (error) => {
      settle();
      reject(error);
    });
    socket.once("secureConnect", () => {
      settle();
      const spki = peerSpki(socket);
      if (spki === undefined || !bytesEqual(spki, options.spki)) {
        const error = new ChannelError("pin-mismatch", "the TLS peer's key is not the attested key");
        socket.destroy();
        reject(error);
        return;
      }
      socket.removeAllListeners("error");
      resolve(socket);
    });
  });
}

/** Options of {@link createPinnedAgent}. */
export interface PinnedAgentOptions
  extends Pick<AgentOptions, "keepAlive" | "keepAliveMsecs" | "maxSockets" | "maxFreeSockets" | "timeout"> {
  /** The attested TLS SubjectPublicKeyInfo (DER), `KeySet.tlsSpki`. */
  readonly spki: Uint8Array;
}

/**
 * An `https.Agent` whose every connection is pinned to the attested key
 * (see the module comment). Keep-alive is on by default: a pooled socket has
 * been checked once, when it was made.
 */
export class PinnedAgent extends Agent {
  readonly #spki: Uint8Array;

  constructor(options: PinnedAgentOptions) {
    const { spki, ...agentOptions } = options;
    super({ keepAlive: true, ...agentOptions, maxCachedSessions: 0 });
    this.#spki = spki.slice();
  }

  /** The pin. */
  get spki(): Uint8Array {
    return this.#spki.slice();
  }

  /** Hands the socket to the HTTP client only after the pin check (callback form of `Agent#createConnection`). */
  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    const host = options.host ?? options.hostname ?? "localhost";
    const port = Number(options.port ?? 443);
    const servername = (options as { servername?: string }).servername;
    connectPinned({ host, port, spki: this.#spki, ...(servername ? { servername } : {}) }).then(
      (socket) => callback?.(null, socket),
      (error: Error) => callback?.(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/**
 * An `https.Agent` pinned to the attested TLS key.
 *
 * @example
 * const agent = createPinnedAgent({ spki: verified.keySet.tlsSpki });
 * https.get("https://127.0.0.1:8443/v1/models", { agent }, onResponse);
 */
export function createPinnedAgent(options: PinnedAgentOptions): PinnedAgent {
  return new PinnedAgent(options);
}

/** Options of {@link createPinnedFetch}. */
export interface PinnedFetchOptions {
  /** The attested server's origin, e.g. "https://127.0.0.1:8443": requests elsewhere are refused. */
  readonly origin: string | URL;
  /** The attested TLS SubjectPublicKeyInfo (DER). */
  readonly spki: Uint8Array;
  /** The agent to use (default: a new {@link PinnedAgent} for `spki`). */
  readonly agent?: PinnedAgent;
}

/** Statuses whose response has no body (Fetch §2.2.3 "null body status"). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` over pinned TLS, for Node (global `fetch` cannot take a custom
 * TLS check without the `undici` package). Enough of fetch for API clients
 * such as `openai`: any method, headers, a body (read fully before
 * sending), `AbortSignal`, streamed response bodies with back-pressure.
 * Redirects are returned, not followed; bodies are not decompressed (none
 * is requested).
 *
 * @throws ChannelError `pin-mismatch` (as the promise's rejection) when the
 *   server does not hold the attested key; TypeError for another origin or a
 *   network failure; the signal's reason when aborted.
 * @example
 * const pinned = createPinnedFetch({ origin: "https://127.0.0.1:8443", spki: verified.keySet.tlsSpki });
 * const openai = new OpenAI({ baseURL: "https://127.0.0.1:8443/v1", apiKey: "none", fetch: pinned });
 */
export function createPinnedFetch(options: PinnedFetchOptions): typeof fetch {
  const origin = new URL(options.origin);
  if (origin.protocol !== "https:") throw new TypeError("a pinned origin is https");
  const agent = options.agent ?? new PinnedAgent({ spki: options.spki });
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin !== origin.origin) throw new TypeError("this fetch only reaches the attested origin");
    const signal = request.signal;
    signal.throwIfAborted();
    const body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body !== undefined) headers["content-length"] = String(body.length);
    signal.throwIfAborted();
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, { method: request.method, headers, agent });
      let settled = false;
      let fail: ((error: unknown) => void) | undefined;
      const onAbort = () => {
        const reason = signal.reason;
        req.destroy();
        if (!settled) {
          settled = true;
          reject(reason);
        }
        fail?.(reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      req.once("error", (error) => {
        signal.removeEventListener("abort", onAbort);
        if (!settled) {
          settled = true;
          reject(error instanceof ChannelError ? error : new TypeError("fetch failed", { cause: error }));
        }
        fail?.(new TypeError("terminated", { cause: error }));
      });
      req.once("response", (res) => {
        const status = res.statusCode ?? 0;
        const responseHeaders = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
          responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        let stream: ReadableStream<Uint8Array> | null = null;
        if (request.method === "HEAD" || NULL_BODY_STATUSES.has(status)) {
          res.resume();
          signal.removeEventListener("abort", onAbort);
        } else {
          stream = new ReadableStream<Uint8Array>({
            start(controller) {
              let open = true;
              fail = (error) => {
                if (!open) return;
                open = false;
                controller.error(error);
                res.destroy();
              };
              res.on("data", (chunk: Buffer) => {
                if (!open) return;
                controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
                if ((controller.desiredSize ?? 1) <= 0) res.pause();
              });
              res.once("end", () => {
                signal.removeEventListener("abort", onAbort);
                if (!open) return;
                open = false;
                controller.close();
              });
              res.once("close", () => {
                // Closed before "end": the connection was cut mid-body.
                if (open) fail?.(new TypeError("terminated"));
                signal.removeEventListener("abort", onAbort);
              });
            },
            pull() {
              res.resume();
            },
            cancel() {
              fail = undefined;
              signal.removeEventListener("abort", onAbort);
              res.destroy();
            },
          });
        }
        settled = true;
        try {
          resolve(new Response(stream, { status, statusText: res.statusMessage ?? "", headers: responseHeaders }));
        } catch (error) {
          res.destroy();
          reject(new TypeError("fetch failed: unusable response", { cause: error }));
        }
      });
      req.end(body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    });
  };
}
