/**
 * An attacker in the middle, for attack tests: an HTTP(S) relay on
 * 127.0.0.1 that forwards to a real server (whose address can change, like a
 * load balancer's) and can answer, rewrite or record anything. It records
 * every byte it sees in both directions, so a test can show that a canary
 * from the user's prompt never crossed it.
 */
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from "node:http";
import { createServer as createHttpsServer, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";

/** A request as the relay received it. */
export interface RelayRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer<ArrayBuffer>;
}

/** A whole response. */
export interface RelayResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** What the attacker does. */
export interface RelayHooks {
  /** Answer a request itself instead of forwarding it (undefined: forward). */
  answer?(request: RelayRequest): Promise<RelayResponse | undefined> | RelayResponse | undefined;
  /** Rewrite the forwarded response (buffered whole); undefined: stream it through untouched. */
  rewrite?(
    request: RelayRequest,
    response: RelayResponse,
  ): Promise<RelayResponse | undefined> | RelayResponse | undefined;
}

export class Relay {
  /** Where requests are forwarded (an origin, e.g. `http://127.0.0.1:1234`). */
  target: string;
  hooks: RelayHooks;
  /** Every request received, in order. */
  readonly requests: RelayRequest[] = [];
  /** Every byte seen, both directions. */
  readonly #seen: Buffer[] = [];
  readonly #server: Server;
  url = "";

  private constructor(target: string, hooks: RelayHooks, tls: { key: string; cert: string } | undefined) {
    this.target = target;
    this.hooks = hooks;
    const listener = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
      void this.#handle(req, res).catch(() => res.destroy());
    };
    this.#server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, listener) : createHttpServer(listener);
  }

  /** Start a relay to `target`, plain HTTP or (with `tls`) HTTPS with the attacker's own certificate. */
  static async start(target: string, hooks: RelayHooks = {}, tls?: { key: string; cert: string }): Promise<Relay> {
    const relay = new Relay(target, hooks, tls);
    await new Promise<void>((resolve) => relay.#server.listen(0, "127.0.0.1", resolve));
    const { port } = relay.#server.address() as AddressInfo;
    relay.url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
    return relay;
  }

  /** True when `text` (UTF-8) occurs in anything the relay saw. */
  saw(text: string): boolean {
    return Buffer.concat(this.#seen).includes(Buffer.from(text));
  }

  /** Requests whose path starts with `prefix`. */
  requestsTo(prefix: string): RelayRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: RelayRequest = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    this.requests.push(request);
    this.#seen.push(
      Buffer.from(`${request.method} ${request.path}\n${JSON.stringify(request.headers)}\n`),
      request.body,
    );

    const own = await this.hooks.answer?.(request);
    if (own) {
      this.#send(res, own);
      return;
    }
    const target = new URL(request.path, this.target);
    const headers = { ...req.headers };
    delete headers.host;
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const upstream = send(target, { method: request.method, headers, rejectUnauthorized: false });
    upstream.once("error", () => res.destroy());
    upstream.once("response", async (answer) => {
      const responseHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && name !== "transfer-encoding" && name !== "connection") {
          responseHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
        }
      }
      if (this.hooks.rewrite) {
        const parts: Buffer[] = [];
        for await (const chunk of answer) parts.push(chunk as Buffer);
        const whole: RelayResponse = {
          status: answer.statusCode ?? 502,
          headers: responseHeaders,
          body: Buffer.concat(parts),
        };
        this.#seen.push(whole.body);
        const changed = (await this.hooks.rewrite(request, whole)) ?? whole;
        this.#send(res, changed);
        return;
      }
      delete responseHeaders["content-length"];
      res.writeHead(answer.statusCode ?? 502, responseHeaders);
      answer.on("data", (chunk: Buffer) => {
        this.#seen.push(chunk);
        res.write(chunk);
      });
      answer.once("end", () => res.end());
      answer.once("error", () => res.destroy());
    });
    upstream.end(request.body);
  }

  #send(res: import("node:http").ServerResponse, answer: RelayResponse): void {
    const headers = { ...answer.headers };
    delete headers["content-length"];
    headers["content-length"] = String(answer.body.length);
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  }
}
