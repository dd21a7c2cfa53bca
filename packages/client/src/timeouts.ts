/**
 * Time limits for everything the client waits on (docs/CLIENT.md,
 * "Timeouts"): a server that accepts a connection and never answers must not
 * hang `connect`, `veritee verify` or a request forever.
 *
 * - `connectMs`: each HTTP exchange of the attestation protocol (the
 *   document, the activation) must bring its response headers within this;
 * - `attestationMs`: one whole attestation — document, verification,
 *   activation, policy — at `connect` and at every re-attestation;
 * - `requestMs`: a request through `session.fetch` must bring its response
 *   (headers; a whole sealed response is read in this time too) within this,
 *   and afterwards its body may go no longer than this without a byte. Not a
 *   total limit: a streamed completion may run as long as it keeps coming.
 *
 * Every limit is an AbortSignal that aborts with `ClientError("timeout")`,
 * naming its phase, so the request on the wire is cancelled too. Browser-safe:
 * timers and AbortController only.
 */
import { ClientError, type TimeoutPhase } from "./errors.js";

/** The client's time limits, in milliseconds; each optional, see {@link DEFAULT_TIMEOUTS}. */
export interface Timeouts {
  /** Response headers of each attestation or activation request (default 10 s). */
  readonly connectMs?: number;
  /** One whole attestation, verification and activation included (default 30 s). */
  readonly attestationMs?: number;
  /** A request's response headers, then each gap in its body (default 120 s: a long non-streamed completion). */
  readonly requestMs?: number;
}

/**
 * The defaults of {@link Timeouts}.
 *
 * @example
 * const session = await connect({ baseURL, policy, timeouts: { ...DEFAULT_TIMEOUTS, requestMs: 600_000 } });
 */
export const DEFAULT_TIMEOUTS: Readonly<Required<Timeouts>> = Object.freeze({
  connectMs: 10_000,
  attestationMs: 30_000,
  requestMs: 120_000,
});

/** The largest delay a timer takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The limits with defaults filled in.
 *
 * @throws ClientError `invalid-options` for a limit that is not an integer 1..2^31-1.
 */
export function resolveTimeouts(timeouts: Timeouts | undefined): Readonly<Required<Timeouts>> {
  const out = { ...DEFAULT_TIMEOUTS, ...(timeouts ?? {}) };
  for (const [name, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_MS) {
      throw new ClientError(
        "invalid-options",
        `timeouts.${name} must be an integer number of milliseconds 1..${MAX_TIMER_MS}`,
      );
    }
  }
  return Object.freeze(out);
}

/** The error a limit aborts with. */
export function timeoutError(phase: TimeoutPhase, ms: number): ClientError {
  const what = { connect: "response headers", attestation: "the attestation", request: "the response" }[phase];
  return new ClientError("timeout", `the ${phase} limit passed: ${what} did not come within ${ms} ms`, { phase });
}

/**
 * A signal that aborts with `ClientError("timeout")` after `ms`, or with the
 * parent signal's reason when that aborts first.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #ms: number;
  readonly #phase: TimeoutPhase;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number, phase: TimeoutPhase, parent?: AbortSignal) {
    this.#ms = ms;
    this.#phase = phase;
    if (parent?.aborted) {
      this.#controller.abort(parent.reason);
      return;
    }
    // The parent's abort is forwarded for the deadline's whole life (a body read after disarm() included).
    parent?.addEventListener("abort", () => this.#controller.abort(parent.reason), { once: true });
    this.arm();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** (Re)start the timer: it fires `ms` from now. */
  arm(): void {
    this.disarm();
    if (this.#controller.signal.aborted) return;
    this.#timer = setTimeout(() => this.abort(timeoutError(this.#phase, this.#ms)), this.#ms);
  }

  /** Stop the timer; the parent's abort still passes through. */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Abort now with `reason`. */
  abort(reason: unknown): void {
    this.disarm();
    this.#controller.abort(reason);
  }
}

/**
 * `promise`, or a rejection with the signal's reason as soon as it aborts:
 * a transport that ignores its signal (a test double, a wrapped fetch) cannot
 * keep the caller waiting past a limit.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined | null): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Statuses whose response has no body (Fetch §2.2.3 "null body status"). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * The response with a body that fails with `ClientError("timeout")` (phase
 * `request`) when `ms` pass without a chunk; `onTimeout` then cancels the
 * exchange on the wire. A response without a body is returned as it is.
 */
export function withIdleTimeout(response: Response, ms: number, onTimeout: (error: ClientError) => void): Response {
  const source = response.body;
  // A null-body status cannot be rebuilt with a body (the Response constructor throws); there is nothing to wait for.
  if (source === null || NULL_BODY_STATUSES.has(response.status)) return response;
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(timeoutError("request", ms)), ms);
      });
      try {
        const { done, value } = await Promise.race([reader.read(), idle]);
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        if (error instanceof ClientError && error.code === "timeout") {
          onTimeout(error);
          reader.cancel(error).catch(() => undefined);
        }
        controller.error(error);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
