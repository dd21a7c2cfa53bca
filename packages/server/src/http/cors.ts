/**
 * CORS (the Fetch standard, "CORS protocol" §3.2) for the origins an operator
 * names, so that a web page on one of them can call the server (the browser
 * client: attestation, activation, sealed requests). Everything else is as
 * without CORS: a page on any other origin cannot read a response. There is
 * no wildcard and no credentials mode: the API needs neither cookies nor
 * ambient authority, and an `Authorization` header is sent explicitly.
 *
 * Applied around the whole handler (sealed channel included): a preflight is
 * answered here; other requests get their CORS headers set before the inner
 * handler writes its head, which keeps them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** How long a browser may cache a preflight answer (seconds). */
const PREFLIGHT_MAX_AGE = 600;
const ALLOWED_METHODS = new Set(["GET", "POST"]);
/** A header field name (RFC 9110 §5.1 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The canonical form of a configured origin (`https://app.example:8443`),
 * or a RangeError naming what is wrong: it must be an http(s) origin, with
 * no path, query, fragment or credentials; `*` is refused.
 */
export function parseCorsOrigin(value: string): string {
  if (value === "*") throw new RangeError("a CORS origin must be named: * is not allowed");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError("a CORS origin must be a URL origin such as https://app.example");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError("a CORS origin must be http(s)");
  if (url.origin !== value.replace(/\/$/, "").toLowerCase() || url.username !== "" || url.password !== "") {
    throw new RangeError("a CORS origin is scheme://host[:port] only, without path, query or credentials");
  }
  return url.origin;
}

/** `listener` with CORS for `origins` (already parsed by {@link parseCorsOrigin}). */
export function withCors(listener: Listener, origins: readonly string[]): Listener {
  const allowed = new Set(origins);
  if (allowed.size === 0) return listener;
  return (req, res) => {
    const origin = req.headers.origin;
    const known = typeof origin === "string" && allowed.has(origin);
    // Caches must keep answers for different origins apart, also the refusals.
    res.setHeader("vary", "origin");
    if (req.method === "OPTIONS" && typeof req.headers["access-control-request-method"] === "string") {
      answerPreflight(req, res, known ? origin : undefined);
      return;
    }
    if (known) {
      res.setHeader("access-control-allow-origin", origin);
      // Retry-After and the channel's own headers are read by the client: all of them may be read.
      res.setHeader("access-control-expose-headers", "*");
    }
    listener(req, res);
  };
}

function answerPreflight(req: IncomingMessage, res: ServerResponse, origin: string | undefined): void {
  const method = String(req.headers["access-control-request-method"]).toUpperCase();
  const requested = String(req.headers["access-control-request-headers"] ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  if (origin === undefined || !ALLOWED_METHODS.has(method) || !requested.every((h) => TOKEN.test(h))) {
    // No CORS headers: the browser refuses the real request.
    res.writeHead(403, { "content-length": 0, "cache-control": "no-store" });
    res.end();
    return;
  }
  res.writeHead(204, {
    "access-control-allow-origin": origin,
    "access-control-allow-methods": [...ALLOWED_METHODS].join(", "),
    ...(requested.length > 0 ? { "access-control-allow-headers": requested.join(", ") } : {}),
    "access-control-max-age": String(PREFLIGHT_MAX_AGE),
    "content-length": 0,
  });
  res.end();
}
