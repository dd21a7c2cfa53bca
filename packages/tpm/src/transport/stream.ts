/**
 * The socket transport: swtpm's TCP or unix-socket data channel. The channel
 * carries raw TPM command and response bytes with no framing of its own
 * (unlike the Microsoft simulator's protocol), so a response is complete when
 * its header's size has arrived.
 */
import net from "node:net";
import { TpmError, type TpmErrorCode } from "../errors.js";
import { frameState } from "./framing.js";
import type { TpmTransport, TransmitOptions } from "./types.js";

/** Where to connect: TCP host and port, or a unix socket path. */
export type StreamTarget = { readonly host: string; readonly port: number } | { readonly path: string };

interface Waiter {
  readonly command: string;
  readonly resolve: (response: Uint8Array) => void;
  readonly reject: (error: TpmError) => void;
  readonly timer: NodeJS.Timeout;
}

interface Failure {
  readonly code: TpmErrorCode;
  readonly detail: string;
  readonly cause?: unknown;
}

/** A TPM reached over a stream socket. Create with {@link StreamTransport.connect}. */
export class StreamTransport implements TpmTransport {
  readonly description: string;
  readonly #socket: net.Socket;
  #chunks: Buffer[] = [];
  #received = 0;
  #waiter: Waiter | undefined;
  #failure: Failure | undefined;
  readonly #closed: Promise<void>;

  private constructor(socket: net.Socket, description: string) {
    this.#socket = socket;
    this.description = description;
    this.#closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#fail({ code: "transport-closed", detail: "the TPM closed the connection" }));
    socket.on("close", () => this.#fail({ code: "transport-closed", detail: "the connection is closed" }));
    socket.on("error", (cause) => this.#fail({ code: "transport-error", detail: "socket error", cause }));
  }

  /**
   * Connect to a TPM's data channel.
   *
   * @throws TpmError `transport-error` (command "connect") when the connection fails or times out.
   */
  static connect(target: StreamTarget, timeoutMs = 10_000): Promise<StreamTransport> {
    const description = "path" in target ? `unix ${target.path}` : `tcp ${target.host}:${target.port}`;
    return new Promise((resolve, reject) => {
      const socket = "path" in target ? net.connect({ path: target.path }) : net.connect(target);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TpmError("transport-error", "connect", `no connection to ${description} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("error", (cause) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new TpmError("transport-error", "connect", `cannot connect to ${description}`, { cause }));
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        if (!("path" in target)) socket.setNoDelay(true);
        resolve(new StreamTransport(socket, description));
      });
    });
  }

  transmit(command: Uint8Array, options: TransmitOptions): Promise<Uint8Array> {
    if (this.#failure !== undefined) {
      const { code, detail } = this.#failure;
      const why = code === "transport-closed" ? detail : `closed after an earlier ${code}`;
      return Promise.reject(new TpmError("transport-closed", options.command, why));
    }
    if (this.#waiter !== undefined) {
      return Promise.reject(new TpmError("bad-argument", options.command, "a command is already in flight"));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.#fail({ code: "timeout", detail: `no complete response within ${options.timeoutMs} ms` }),
        options.timeoutMs,
      );
      this.#waiter = { command: options.command, resolve, reject, timer };
      this.#socket.write(command);
    });
  }

  #onData(chunk: Buffer): void {
    if (this.#failure !== undefined) return;
    if (this.#waiter === undefined) {
      this.#fail({ code: "bad-response", detail: "bytes arrived with no command outstanding" });
      return;
    }
    this.#chunks.push(chunk);
    this.#received += chunk.length;
    const received = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#received);
    this.#chunks = [received];
    const frame = frameState(received);
    switch (frame.state) {
      case "incomplete":
        return;
      case "bad-size":
        this.#fail({ code: "bad-response", detail: `response header announces ${frame.size} bytes` });
        return;
      case "trailing":
        this.#fail({ code: "bad-response", detail: "bytes after the end of the response" });
        return;
      case "complete": {
        const waiter = this.#waiter;
        this.#waiter = undefined;
        this.#chunks = [];
        this.#received = 0;
        clearTimeout(waiter.timer);
        waiter.resolve(new Uint8Array(received));
        return;
      }
    }
  }

  /** Record the first failure, drop the connection, and fail the outstanding exchange if any. */
  #fail(failure: Failure): void {
    if (this.#failure === undefined) this.#failure = failure;
    this.#socket.destroy();
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    clearTimeout(waiter.timer);
    const first = this.#failure;
    waiter.reject(
      new TpmError(
        first.code,
        waiter.command,
        first.detail,
        first.cause === undefined ? undefined : { cause: first.cause },
      ),
    );
  }

  async close(): Promise<void> {
    this.#fail({ code: "transport-closed", detail: "the transport was closed" });
    await this.#closed;
  }
}
