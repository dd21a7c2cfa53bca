/**
 * SHA-256 of a stream of chunks, computed on a worker thread while the
 * caller encrypts or decrypts them (hash-worker.ts). Chunks are copied into
 * slots of shared memory — a copy of 1 MiB costs far less than hashing it —
 * and a slot is reused only once the worker has hashed it, so at most
 * `slots` chunks are in flight. Small inputs are hashed inline: a worker
 * takes tens of milliseconds to start.
 */
import { createHash, type Hash } from "node:crypto";
import { Worker } from "node:worker_threads";

/** Below this many bytes, hash on the calling thread. */
const INLINE_BELOW = 8 * 1024 * 1024;
const SLOTS = 4;

/** An incremental SHA-256 whose updates may run on another thread. */
export interface ChunkHasher {
  /** Hash `bytes` (copied before this returns, so the caller may reuse its buffer at once). */
  update(bytes: Uint8Array): Promise<void>;
  /** The hex digest of everything updated; the hasher is done. */
  digest(): Promise<string>;
  /** Stop the worker without a digest (on failure). */
  abort(): Promise<void>;
}

class InlineHasher implements ChunkHasher {
  readonly #hash: Hash = createHash("sha256");
  async update(bytes: Uint8Array): Promise<void> {
    this.#hash.update(bytes);
  }
  async digest(): Promise<string> {
    return this.#hash.digest("hex");
  }
  async abort(): Promise<void> {}
}

class WorkerHasher implements ChunkHasher {
  readonly #worker: Worker;
  readonly #shared: SharedArrayBuffer;
  readonly #slotBytes: number;
  readonly #free: number[] = [];
  #waiting: ((slot: number) => void) | undefined;
  #onDigest: ((digest: string) => void) | undefined;
  #failure: Error | undefined;
  #failed: ((error: Error) => void)[] = [];

  constructor(slotBytes: number) {
    this.#slotBytes = slotBytes;
    this.#shared = new SharedArrayBuffer(slotBytes * SLOTS);
    for (let i = 0; i < SLOTS; i++) this.#free.push(i);
    this.#worker = new Worker(new URL("./hash-worker.js", import.meta.url), {
      workerData: { shared: this.#shared, slotBytes },
      // The worker needs none of the process's flags (--input-type, --eval, a test runner's): none are passed.
      execArgv: [],
    });
    this.#worker.on("message", (message: { slot: number } | { digest: string }) => {
      if ("digest" in message) {
        this.#onDigest?.(message.digest);
        return;
      }
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting(message.slot);
      else this.#free.push(message.slot);
    });
    this.#worker.on("error", (error) => this.#fail(error));
  }

  #fail(error: Error): void {
    this.#failure = error;
    for (const reject of this.#failed) reject(error);
    this.#failed = [];
  }

  #guard<T>(make: (resolve: (value: T) => void) => void): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      this.#failed.push(reject);
      make(resolve);
    });
  }

  async update(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length; at += this.#slotBytes) {
      const part = bytes.subarray(at, at + this.#slotBytes);
      const slot = this.#free.pop() ?? (await this.#guard<number>((resolve) => (this.#waiting = resolve)));
      new Uint8Array(this.#shared, slot * this.#slotBytes, part.length).set(part);
      this.#worker.postMessage({ slot, length: part.length });
    }
  }

  async digest(): Promise<string> {
    try {
      return await this.#guard<string>((resolve) => {
        this.#onDigest = resolve;
        this.#worker.postMessage({ end: true });
      });
    } finally {
      await this.#worker.terminate();
    }
  }

  async abort(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** A hasher for `total` bytes arriving in chunks of at most `chunkBytes`. */
export function chunkHasher(total: number, chunkBytes: number): ChunkHasher {
  return total < INLINE_BELOW ? new InlineHasher() : new WorkerHasher(chunkBytes);
}
