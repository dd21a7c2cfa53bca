/**
 * A minimal `fetch` over TLS that accepts any server certificate, for one
 * purpose only: fetching an attestation document from an https server
 * whose self-signed certificate carries a key not yet known. That is safe
 * because the document proves itself — the quote binds the key set to the
 * client's fresh nonce — and nothing of the user's is ever sent this way:
 * `connect` sends requests only over connections pinned to the attested key
 * (`@veritee/channel/node`). Node-only; bodies are buffered with a bound.
 */
import { request as httpsRequest } from "node:https";
import { ATTESTATION_DOCUMENT_LIMITS } from "@veritee/evidence";
import type { FetchLike } from "../transport.js";

/** The most a response may carry: an attestation document and some slack. */
const MAX_RESPONSE = ATTESTATION_DOCUMENT_LIMITS.maxBytes + 64 * 1024;

/**
 * A fetch for attestation documents over TLS 1.3 without certificate checks,
 * limited to `origin`.
 *
 * @example
 * const doc = await unpinnedFetch("https://127.0.0.1:8443")("https://127.0.0.1:8443/v1/attestation?nonce=…");
 */
export function unpinnedFetch(origin: string): FetchLike {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin !== origin || url.protocol !== "https:") throw new TypeError("unpinned fetch: another origin");
    const signal = request.signal;
    signal.throwIfAborted();
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body !== undefined) headers["content-length"] = String(body.length);
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, {
        method: request.method,
        headers,
        // No certificate check here: the attestation document is verified on its own (module comment).
        rejectUnauthorized: false,
        minVersion: "TLSv1.3",
        agent: false,
        signal,
      });
      req.once("error", (error) =>
        reject(signal.aborted ? signal.reason : new TypeError("fetch failed", { cause: error })),
      );
      req.once("response", (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE) {
            res.destroy();
            reject(new TypeError("fetch failed: response too large"));
            return;
          }
          chunks.push(chunk);
        });
        res.once("error", (error) => reject(new TypeError("fetch failed", { cause: error })));
        res.once("end", () => {
          const responseHeaders = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          }
          const status = res.statusCode ?? 0;
          const nullBody = request.method === "HEAD" || [101, 103, 204, 205, 304].includes(status);
          try {
            resolve(new Response(nullBody ? null : Buffer.concat(chunks, size), { status, headers: responseHeaders }));
          } catch (error) {
            reject(new TypeError("fetch failed: unusable response", { cause: error }));
          }
        });
      });
      req.end(body);
    });
  };
}
