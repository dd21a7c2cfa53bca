/**
 * The one way the client sends an HTTP request: through the injected
 * `fetch`, never following redirects (a redirect would re-send a request to
 * a place the client did not attest), and with network failures mapped to a
 * typed {@link ClientError}. A caller's abort passes through unchanged, as
 * with `fetch` itself.
 */
import { VeriteeError } from "@veritee/core";
import { ClientError, type TimeoutPhase } from "./errors.js";
import { Deadline, untilAborted } from "./timeouts.js";

/** A `fetch`-compatible function: the global one, a test double, or a pinned-TLS one. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A limit on the wait for response headers. */
export interface HeaderTimeout {
  readonly ms: number;
  readonly phase: TimeoutPhase;
}

/**
 * `fetch(url, init)` with `redirect: "manual"` and `cache: "no-store"`, and,
 * with `headerTimeout`, aborted when the response headers do not come in
 * time. After the headers the body stays bound to `init.signal`.
 *
 * @throws ClientError `unreachable` when the request fails without a response;
 *   `timeout` when the headers did not come in time; the signal's reason
 *   when `init.signal` aborted.
 */
export async function send(
  fetchFn: FetchLike,
  url: string,
  init: RequestInit,
  what: string,
  headerTimeout?: HeaderTimeout,
): Promise<Response> {
  const deadline = headerTimeout
    ? new Deadline(headerTimeout.ms, headerTimeout.phase, init.signal ?? undefined)
    : undefined;
  const signal = deadline?.signal ?? init.signal ?? undefined;
  try {
    const request = fetchFn(url, { ...init, ...(signal ? { signal } : {}), redirect: "manual", cache: "no-store" });
    return await untilAborted(request, signal);
  } catch (error) {
    if (signal?.aborted) throw signal.reason ?? error;
    // A typed error from a transport layer (a pinned-TLS refusal) keeps its own class.
    if (error instanceof VeriteeError) throw error;
    throw new ClientError("unreachable", `${what}: no response from the server`, { cause: error });
  } finally {
    deadline?.disarm();
  }
}

/** The seconds a 429/503 asks to wait (Retry-After as delta-seconds), bounded; undefined when absent. */
export function retryAfterSeconds(response: Response, max: number): number | undefined {
  const value = response.headers.get("retry-after");
  if (value === null || !/^\d{1,4}$/.test(value)) return undefined;
  return Math.min(Number(value), max);
}

/** Wait `ms`, or reject with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
