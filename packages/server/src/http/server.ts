/**
 * Listening on a socket with `node:http`, and shutting down gracefully: stop
 * accepting connections, drain the handler (in-flight streams finish within
 * the grace period, then end with an error event), then close every
 * connection.
 */
import type { KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { ListenError, type ListenErrorCode, listenError } from "@veritee/core";

export { ListenError, type ListenErrorCode };

import type { CloseOptions } from "./handler.js";

/** Options of {@link startHttpServer}. */
export interface ListenOptions {
  /** Interface to bind (default 127.0.0.1: exposing the server is an explicit choice). */
  readonly host?: string;
  /** Port (default 0: any free port; read it from the result). */
  readonly port?: number;
  /** Drain time granted to in-flight requests by `close()` (default 10 s). */
  readonly graceMs?: number;
  /**
   * Serve HTTPS (TLS 1.3 only) with this key and certificate instead of plain
   * HTTP — the attested TLS key and its certificate (see `@veritee/channel/node`).
   */
  readonly tls?: { readonly key: KeyObject; readonly cert: string };
}

/** A listening server. */
export interface RunningHttpServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, or `https://` with `tls` (IPv6 hosts in brackets). */
  readonly url: string;
  /** Graceful shutdown; resolves when every connection is closed. Idempotent. */
  close(options?: CloseOptions): Promise<void>;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * What a server listens with: an `HttpHandler` from `createHttpHandler`, or
 * one whose `handler` was wrapped (sealed channel, CORS), with its drain.
 */
export interface ServedHandler {
  readonly handler: Listener;
  close(options?: CloseOptions): Promise<void>;
}

/**
 * A socket bound and listening before the server is ready: `veritee serve`
 * binds first, so that a taken port fails in milliseconds instead of after
 * loading a model. Until {@link BoundHttpServer.serve}, requests get 503
 * with `Retry-After` (and TLS handshakes fail: there is no certificate yet).
 */
export interface BoundHttpServer {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, or `https://` for a TLS listener. */
  readonly url: string;
  /** Start serving with `handler` (and, for TLS, the key and certificate). Once. */
  serve(handler: ServedHandler | Listener, tls?: ListenOptions["tls"]): RunningHttpServer;
  /** Close the socket (before `serve`), or shut down gracefully as {@link RunningHttpServer.close}. Idempotent. */
  close(options?: CloseOptions): Promise<void>;
}

// Nagle's algorithm would hold back small SSE chunks; a 60 s cap on receiving headers limits slow-loris clients.
const SERVER_OPTIONS = { noDelay: true, headersTimeout: 60_000, requestTimeout: 300_000 } as const;

/** The answer to requests that arrive while the server is still starting. */
const starting: Listener = (_req, res) => {
  const body = JSON.stringify({
    error: { message: "The server is starting.", type: "server_error", param: null, code: "starting" },
  });
  res.writeHead(503, { "content-type": "application/json", "retry-after": "5", connection: "close" });
  res.end(body);
};

/**
 * Bind `host:port` now and serve later. `tls: true` makes an HTTPS listener
 * whose key and certificate are given to `serve` (the attested TLS key only
 * exists after the measured launch).
 *
 * @throws ListenError when the port cannot be bound.
 */
export async function bindHttpServer(options: Omit<ListenOptions, "tls"> & { readonly tls?: boolean } = {}) {
  let listener: Listener = starting;
  const dispatch: Listener = (req, res) => listener(req, res);
  const server: Server = options.tls
    ? createHttpsServer({ ...SERVER_OPTIONS, minVersion: "TLSv1.3", ALPNProtocols: ["http/1.1"] }, dispatch)
    : createServer(SERVER_OPTIONS, dispatch);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(listenError(error, host, options.port ?? 0)));
    server.listen(options.port ?? 0, host, () => {
      server.removeAllListeners("error");
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `${options.tls ? "https" : "http"}://${urlHost}:${address.port}`;
  let drain: ((o: CloseOptions) => Promise<void>) | undefined;
  let closing: Promise<void> | undefined;
  const close = (closeOptions?: CloseOptions): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await drain?.({ graceMs: closeOptions?.graceMs ?? options.graceMs });
      server.closeAllConnections();
      await closed;
    })();
    return closing;
  };
  const running: RunningHttpServer = { server, host: address.address, port: address.port, url, close };
  let served = false;
  const bound: BoundHttpServer = {
    host: address.address,
    port: address.port,
    url,
    serve(handler, tls) {
      if (served) throw new Error("serve() was already called");
      served = true;
      if (options.tls) {
        if (!tls) throw new Error("a TLS listener needs its key and certificate");
        setCertificate(server as HttpsServer, tls);
      }
      listener = typeof handler === "function" ? handler : handler.handler;
      drain = typeof handler === "function" ? undefined : handler.close.bind(handler);
      return running;
    },
    close,
  };
  return bound;
}

/**
 * Listen with a handler from `createHttpHandler` (or any request listener, which
 * then gets no drain phase).
 *
 * @throws ListenError when the port cannot be bound.
 * @example
 * ```ts
 * const running = await startHttpServer(createHttpHandler({ engine }), { port: 8080 });
 * process.once("SIGTERM", () => void running.close());
 * ```
 */
export async function startHttpServer(
  handler: ServedHandler | Listener,
  options: ListenOptions = {},
): Promise<RunningHttpServer> {
  const { tls, ...listen } = options;
  const bound = await bindHttpServer({ ...listen, tls: tls !== undefined });
  return bound.serve(handler, tls);
}

function setCertificate(server: HttpsServer, tls: NonNullable<ListenOptions["tls"]>): void {
  // Node's TLS takes keys as PEM only: the key is serialized in memory for OpenSSL, which copies it into the
  // context at once; the buffer is then zeroed. It is never written anywhere.
  const pem = Buffer.from(tls.key.export({ format: "pem", type: "pkcs8" }));
  try {
    server.setSecureContext({ key: pem, cert: tls.cert, minVersion: "TLSv1.3" });
  } finally {
    pem.fill(0);
  }
}
