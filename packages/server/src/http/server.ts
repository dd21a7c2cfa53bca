/**
 * Listening on a socket with `node:http`, and shutting down gracefully: stop
 * accepting connections, drain the handler (in-flight streams finish within
 * the grace period, then end with an error event), then close every
 * connection.
 */
import type { KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { CloseOptions, HttpHandler } from "./handler.js";

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
 * Listen with a handler from `createHttpHandler` (or any request listener, which
 * then gets no drain phase).
 *
 * @example
 * ```ts
 * const running = await startHttpServer(createHttpHandler({ engine }), { port: 8080 });
 * process.once("SIGTERM", () => void running.close());
 * ```
 */
export async function startHttpServer(
  handler: HttpHandler | Listener,
  options: ListenOptions = {},
): Promise<RunningHttpServer> {
  const listener = typeof handler === "function" ? handler : handler.handler;
  const drain = typeof handler === "function" ? undefined : handler.close.bind(handler);
  // Nagle's algorithm would hold back small SSE chunks; a 60 s cap on receiving headers limits slow-loris clients.
  const serverOptions = { noDelay: true, headersTimeout: 60_000, requestTimeout: 300_000 } as const;
  let server: Server;
  if (options.tls) {
    // Node's TLS takes keys as PEM only: the key is serialized in memory for OpenSSL, which copies it into the
    // context at once; the buffer is then zeroed. It is never written anywhere.
    const pem = Buffer.from(options.tls.key.export({ format: "pem", type: "pkcs8" }));
    try {
      server = createHttpsServer(
        { ...serverOptions, key: pem, cert: options.tls.cert, minVersion: "TLSv1.3", ALPNProtocols: ["http/1.1"] },
        listener,
      );
    } finally {
      pem.fill(0);
    }
  } else {
    server = createServer(serverOptions, listener);
  }
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    host: address.address,
    port: address.port,
    url: `${options.tls ? "https" : "http"}://${urlHost}:${address.port}`,
    close(closeOptions?: CloseOptions): Promise<void> {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await drain?.({ graceMs: closeOptions?.graceMs ?? options.graceMs });
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
