/**
 * The one way the client sends an HTTP request: through the injected
 * `fetch`, never following redirects (a redirect would re-send a request to
 * a place the client did not attest), and with network failures mapped to a
 * typed {@link ClientError}. A caller's abort passes through unchanged, as
 * with `fetch` itself.
 */
import { VeriteeError } from "@veritee/core";
import { ClientError } from "./errors.js";

/** A `fetch`-compatible function: the global one, a test double, or a pinned-TLS one. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * `fetch(url, init)` with `redirect: "manual"` and `cache: "no-store"`.
 *
 * @throws ClientError `unreachable` when the request fails without a response;
 *   the signal's reason when `init.signal` aborted.
 */
export async function send(fetchFn: FetchLike, url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetchFn(url, { ...init, redirect: "manual", cache: "no-store" });
  } catch (error) {
    if (init.signal?.aborted) throw init.signal.reason ?? error;
    // A typed error from a transport layer (a pinned-TLS refusal) keeps its own class.
    if (error instanceof VeriteeError) throw error;
    throw new ClientError("unreachable", `${what}: no response from the server`, { cause: error });
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
