/**
 * Who may use a route: API keys (`Authorization: Bearer <key>`, as the
 * OpenAI API, vLLM and llama.cpp server take them) and the sealed-only rule
 * (`--require-sealed`). Routes marked `public` (health, metrics, the
 * attestation endpoints a client needs before it can seal anything) are
 * open; every other route is checked, so a new route is protected by
 * default.
 *
 * Keys are compared in constant time: each candidate and each key is hashed
 * to 32 bytes with SHA-256 and every key is compared in full (no early exit),
 * so neither a key's length nor its bytes nor which key matched shows in the
 * time an answer takes. With the sealed channel the `Authorization` field is
 * inside the sealed request (docs/CHANNEL.md): a relay never sees it.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors.js";
import type { HttpRequest } from "./exchange.js";
import type { Route } from "./router.js";

/** Options of {@link createAccessCheck}. */
export interface AccessOptions {
  /** Accepted API keys; empty or absent: no key is required. */
  readonly apiKeys?: readonly string[];
  /** Refuse requests to non-public routes that did not come through the sealed channel. */
  readonly requireSealed?: boolean;
  /**
   * Whether a request came sealed (the sealed layer's `wasSealed`, which reads
   * `HttpRequest.sealed`); required with `requireSealed`.
   */
  readonly isSealed?: (req: HttpRequest) => boolean;
  /**
   * Decide who holds a valid key instead of `apiKeys`: a custodial
   * deployment's consumers, from its lease (custody/meter.ts). The bearer
   * token or undefined; true to let the request on.
   */
  readonly verifyKey?: (token: string | undefined) => boolean;
}

/** Checks a request against a route; the refusal, or undefined to go on. */
export type AccessCheck = (req: HttpRequest, route: Route) => HttpError | undefined;

/** The shortest API key accepted: a guessable key is no protection. */
export const MIN_API_KEY_LENGTH = 16;
/** RFC 6750 §2.1 b64token, the characters of a bearer token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Check API keys before the server starts: each a bearer token (RFC 6750
 * §2.1) of at least {@link MIN_API_KEY_LENGTH} characters.
 *
 * @throws RangeError naming the key's position (never the key).
 */
export function checkApiKeys(keys: readonly string[]): void {
  keys.forEach((key, i) => {
    if (key.length < MIN_API_KEY_LENGTH || !B64TOKEN.test(key)) {
      throw new RangeError(
        `API key ${i + 1}: not a bearer token of at least ${MIN_API_KEY_LENGTH} characters (letters, digits, -._~+/)`,
      );
    }
  });
}

/** The bearer token of an `Authorization` field (RFC 6750 §2.1; the scheme is case-insensitive), or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  const match = /^bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

function unauthorized(): HttpError {
  return new HttpError("unauthorized", "A valid API key is required: send it as 'Authorization: Bearer <key>'.");
}

/**
 * Make the access check of a handler.
 *
 * @throws RangeError for a malformed key, or `requireSealed` without `isSealed`.
 * @example
 * const check = createAccessCheck({ apiKeys: ["sk-0123456789abcdef"], requireSealed: true, isSealed: wasSealed });
 */
export function createAccessCheck(options: AccessOptions): AccessCheck | undefined {
  const keys = options.apiKeys ?? [];
  checkApiKeys(keys);
  if (options.requireSealed && options.isSealed === undefined) {
    throw new RangeError("requireSealed needs isSealed (the sealed channel's wasSealed)");
  }
  if (options.verifyKey && keys.length > 0) throw new RangeError("give apiKeys or verifyKey, not both");
  if (keys.length === 0 && !options.requireSealed && !options.verifyKey) return undefined;
  const digests = keys.map(digest);
  const verifyKey = options.verifyKey;
  const isSealed = options.isSealed;
  return (req, route) => {
    if (route.public) return undefined;
    if (options.requireSealed && !isSealed!(req)) {
      return new HttpError(
        "sealed-required",
        "This server accepts requests only through the sealed channel (docs/CHANNEL.md); plaintext requests are refused.",
      );
    }
    if (verifyKey) return verifyKey(bearerToken(req.headers.authorization)) ? undefined : unauthorized();
    if (digests.length === 0) return undefined;
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) return unauthorized();
    const candidate = digest(token);
    let matched = 0;
    for (const d of digests) matched |= timingSafeEqual(candidate, d) ? 1 : 0;
    return matched === 1 ? undefined : unauthorized();
  };
}
