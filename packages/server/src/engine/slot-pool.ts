/**
 * A fixed set of slots (llama.cpp sequences) handed out one request at a time,
 * with a bounded FIFO queue of waiting requests. A full queue is refused at
 * once ("busy", HTTP 429) instead of queueing without bound: memory and
 * latency stay bounded under load, and clients get a Retry-After to back off.
 */
import { EngineError } from "./types.js";

/** A slot held by one request; `release` returns it (idempotent). */
export interface Lease<T> {
  readonly slot: T;
  release(): void;
}

interface Waiter<T> {
  readonly resolve: (lease: Lease<T>) => void;
  readonly reject: (error: EngineError) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/** Options of a {@link SlotPool}. */
export interface SlotPoolOptions {
  /** Waiting requests beyond the busy slots; one more is refused with "busy". */
  readonly maxQueue: number;
  /** The Retry-After hint given with "busy". */
  readonly retryAfterSeconds: number;
}

/**
 * Hands out slots first come, first served.
 *
 * @example
 * const pool = new SlotPool([seqA, seqB], { maxQueue: 64, retryAfterSeconds: 1 });
 * const lease = await pool.acquire(signal);
 * try { use(lease.slot); } finally { lease.release(); }
 */
export class SlotPool<T> {
  readonly #free: T[];
  readonly #queue: Waiter<T>[] = [];
  readonly #options: SlotPoolOptions;
  readonly #size: number;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(slots: readonly T[], options: SlotPoolOptions) {
    if (slots.length === 0) throw new RangeError("a slot pool needs at least one slot");
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0)
      throw new RangeError("maxQueue must be an integer >= 0");
    this.#free = [...slots];
    this.#size = slots.length;
    this.#options = options;
  }

  /** Slots currently leased. */
  get busy(): number {
    return this.#size - this.#free.length;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * A free slot now, or after the requests queued before this one. Rejects
   * with EngineError "busy" when the queue is full, "aborted" when `signal`
   * aborts while waiting, "closed" after `close`.
   */
  acquire(signal: AbortSignal): Promise<Lease<T>> {
    if (this.#closed) return Promise.reject(new EngineError("closed", "the engine is shutting down"));
    if (signal.aborted) return Promise.reject(new EngineError("aborted", "the request was aborted"));
    const slot = this.#free.shift();
    if (slot !== undefined) return Promise.resolve(this.#lease(slot));
    if (this.#queue.length >= this.#options.maxQueue) {
      return Promise.reject(
        new EngineError("busy", "every sequence is busy and the queue is full", {
          retryAfterSeconds: this.#options.retryAfterSeconds,
        }),
      );
    }
    return new Promise<Lease<T>>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#queue.indexOf(waiter);
          if (at >= 0) this.#queue.splice(at, 1);
          reject(new EngineError("aborted", "the request was aborted while queued"));
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Refuse new requests and reject the queued ones with "closed"; leased slots stay leased. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#queue.splice(0)) {
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.reject(new EngineError("closed", "the engine is shutting down"));
    }
  }

  /** Resolves once no slot is leased. */
  whenIdle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #lease(slot: T): Lease<T> {
    let released = false;
    return {
      slot,
      release: () => {
        if (released) return;
        released = true;
        this.#handOver(slot);
      },
    };
  }

  #handOver(slot: T): void {
    const next = this.#queue.shift();
    if (next !== undefined) {
      next.signal.removeEventListener("abort", next.onAbort);
      next.resolve(this.#lease(slot));
      return;
    }
    this.#free.push(slot);
    if (this.busy === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }
}
