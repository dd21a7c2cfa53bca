/**
 * The character-device transport: the Linux TPM resource manager
 * `/dev/tpmrm0` (or the raw `/dev/tpm0`, or any device path). One write()
 * carries a command; read() returns its response (Linux tpm-dev-common.c).
 * With the resource manager, transient objects and sessions are virtualised
 * per open file and flushed when it is closed.
 */
import { open } from "node:fs/promises";
import { TpmError, type TpmErrorCode } from "../errors.js";
import { MAX_RESPONSE_SIZE } from "../wire/response.js";
import { frameState } from "./framing.js";
import type { TpmTransport, TransmitOptions } from "./types.js";

type FileHandle = Awaited<ReturnType<typeof open>>;

/** The Linux in-kernel resource manager's device. */
export const DEFAULT_TPM_DEVICE = "/dev/tpmrm0";

/** A TPM reached through a character device. Create with {@link DeviceTransport.open}. */
export class DeviceTransport implements TpmTransport {
  readonly description: string;
  readonly #file: FileHandle;
  #busy = false;
  #failure: { code: TpmErrorCode; detail: string } | undefined;

  private constructor(file: FileHandle, path: string) {
    this.#file = file;
    this.description = `device ${path}`;
  }

  /**
   * Open a TPM device for reading and writing.
   *
   * @throws TpmError `transport-error` (command "connect") when it cannot be opened (missing, no permission).
   */
  static async open(path: string = DEFAULT_TPM_DEVICE): Promise<DeviceTransport> {
    try {
      return new DeviceTransport(await open(path, "r+"), path);
    } catch (cause) {
      throw new TpmError("transport-error", "connect", `cannot open ${path}`, { cause });
    }
  }

  async transmit(command: Uint8Array, options: TransmitOptions): Promise<Uint8Array> {
    if (this.#failure !== undefined) {
      const { code, detail } = this.#failure;
      const why = code === "transport-closed" ? detail : `closed after an earlier ${code}`;
      throw new TpmError("transport-closed", options.command, why);
    }
    if (this.#busy) throw new TpmError("bad-argument", options.command, "a command is already in flight");
    this.#busy = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A blocked read cannot be cancelled; closing the file makes the device unusable, as it must be.
        this.#closeWith("timeout", `no complete response within ${options.timeoutMs} ms`);
        reject(new TpmError("timeout", options.command, `no complete response within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    });
    try {
      return await Promise.race([this.#exchange(command, options.command), timeout]);
    } finally {
      clearTimeout(timer);
      this.#busy = false;
    }
  }

  async #exchange(command: Uint8Array, name: string): Promise<Uint8Array> {
    try {
      const { bytesWritten } = await this.#file.write(command, 0, command.length, null);
      if (bytesWritten !== command.length) throw new Error("short write");
      const buffer = new Uint8Array(MAX_RESPONSE_SIZE + 1);
      let received = 0;
      for (;;) {
        const { bytesRead } = await this.#file.read(buffer, received, buffer.length - received, null);
        if (bytesRead === 0) {
          this.#closeWith("transport-closed", "the device returned end of file");
          throw new TpmError("transport-closed", name, "the device returned end of file");
        }
        received += bytesRead;
        const frame = frameState(buffer.subarray(0, received));
        if (frame.state === "complete") return buffer.slice(0, received);
        if (frame.state === "bad-size" || frame.state === "trailing") {
          const detail =
            frame.state === "bad-size"
              ? `response header announces ${frame.size} bytes`
              : "bytes after the end of the response";
          this.#closeWith("bad-response", detail);
          throw new TpmError("bad-response", name, detail);
        }
      }
    } catch (error) {
      if (error instanceof TpmError) throw error;
      this.#closeWith("transport-error", "device I/O failed");
      throw new TpmError("transport-error", name, "device I/O failed", { cause: error });
    }
  }

  #closeWith(code: TpmErrorCode, detail: string): void {
    if (this.#failure !== undefined) return;
    this.#failure = { code, detail };
    this.#file.close().catch(() => {});
  }

  async close(): Promise<void> {
    if (this.#failure !== undefined) return;
    this.#failure = { code: "transport-closed", detail: "the transport was closed" };
    await this.#file.close().catch(() => {});
  }
}
