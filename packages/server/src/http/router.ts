/**
 * A tiny router for a handful of routes: exact paths in a map, and templates
 * with `{name}` segments that each match one non-empty path segment
 * (percent-decoded). The route's template, not the request's path, is what
 * logs and metrics see.
 */
import type { OutgoingHttpHeaders } from "node:http";
import type { EventStream } from "./event-stream.js";
import type { HttpRequest, ResponseSink } from "./exchange.js";

/** Methods a route can answer. */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What a route handler gets besides the request and the response sink. */
export interface RouteContext {
  /** Percent-decoded path parameters, e.g. `{ id }` for "/v1/models/{id}". */
  readonly params: Readonly<Record<string, string>>;
  /** The query string without "?" ("" when none); parse with `new URLSearchParams(ctx.query)`. */
  readonly query: string;
  /**
   * Aborted when the client disconnects, the request times out or the server
   * shuts down; `signal.reason` is then an `HttpError` ("client-closed",
   * "timeout", "shutting-down"). Pass it to any long operation.
   */
  readonly signal: AbortSignal;
  /**
   * Read the body (honouring the size limit) and parse it as a JSON object.
   * Throws `HttpError` (415 when not declared `application/json`, 413, 400).
   */
  readJson(): Promise<Record<string, unknown>>;
  /** Read the body as bytes, whatever its type, under the same size limit (the route checks the type). */
  readBytes(): Promise<Buffer>;
  /** Send a JSON response; ignored when the response has already been answered (e.g. timed out). */
  sendJson(status: number, body: unknown, headers?: OutgoingHttpHeaders): void;
  /**
   * Start a server-sent event stream (status 200). After this, a thrown error
   * or an abort ends the stream with an OpenAI error event instead of a status.
   */
  startEventStream(headers?: OutgoingHttpHeaders): EventStream;
  /** Facts for the request's log line (never user text): the model id and token counts. */
  note(facts: RequestFacts): void;
}

/** Facts about a request that may be logged. */
export interface RequestFacts {
  /** A model id from the engine's list (never the client's raw string). */
  readonly model?: string;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  readonly stream?: boolean;
}

/**
 * A route handler. It reads `request` and writes to `sink` (or, usually, uses
 * `ctx`), never a `node:http` object: the same route then serves plain and
 * sealed requests (http/exchange.ts). Throw `HttpError` for client-visible
 * failures; anything else becomes a generic 500.
 */
export type RouteHandler = (request: HttpRequest, sink: ResponseSink, ctx: RouteContext) => void | Promise<void>;

/**
 * A route.
 *
 * @example
 * ```ts
 * const attestation: Route = {
 *   method: "GET",
 *   path: "/v1/attestation",
 *   handler: async (_req, _res, ctx) => ctx.sendJson(200, await quote(new URLSearchParams(ctx.query).get("nonce"))),
 * };
 * ```
 */
export interface Route {
  readonly method: HttpMethod;
  /** An absolute path; a segment written `{name}` matches any one segment. */
  readonly path: string;
  /** Counts toward `maxConcurrentRequests` (inference and other costly work). Default false. */
  readonly limited?: boolean;
  /**
   * Open to anyone: no API key, plaintext allowed under `requireSealed`
   * (health, metrics, attestation). Default false: routes are protected (http/access.ts).
   */
  readonly public?: boolean;
  readonly handler: RouteHandler;
}

/** The outcome of matching a request. */
export type RouteMatch =
  | { readonly kind: "found"; readonly route: Route; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: "wrong-method"; readonly template: string; readonly allow: string }
  | { readonly kind: "none" };

interface Template {
  readonly path: string;
  readonly segments: readonly string[];
  readonly byMethod: Map<string, Route>;
  /** Prebuilt results for exact paths, so that a lookup allocates nothing. */
  readonly found: Map<string, RouteMatch>;
}

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});
const NONE: RouteMatch = { kind: "none" };

function isParam(segment: string): boolean {
  return segment.length > 2 && segment.startsWith("{") && segment.endsWith("}");
}

/** Matches request paths and methods to routes. */
export class Router {
  readonly #exact = new Map<string, Template>();
  readonly #templates: Template[] = [];

  /** @throws Error for a malformed path or a duplicate method + path (programming errors). */
  constructor(routes: readonly Route[]) {
    for (const route of routes) this.#add(route);
  }

  #add(route: Route): void {
    if (!route.path.startsWith("/")) throw new Error("route paths must start with '/'");
    const segments = route.path.split("/").slice(1);
    const parametric = segments.some(isParam);
    let template = parametric ? this.#templates.find((t) => t.path === route.path) : this.#exact.get(route.path);
    if (!template) {
      template = { path: route.path, segments, byMethod: new Map(), found: new Map() };
      if (parametric) this.#templates.push(template);
      else this.#exact.set(route.path, template);
    }
    if (template.byMethod.has(route.method)) throw new Error("duplicate route (same method and path)");
    template.byMethod.set(route.method, route);
    template.found.set(route.method, { kind: "found", route, params: NO_PARAMS });
  }

  /** Match a method and a path (without query string). */
  match(method: string | undefined, path: string): RouteMatch {
    const exact = this.#exact.get(path);
    if (exact) return exact.found.get(method ?? "") ?? this.#pick(exact, method ?? "", NO_PARAMS);
    if (this.#templates.length === 0) return NONE;
    const segments = path.split("/").slice(1);
    for (const template of this.#templates) {
      const params = matchSegments(template.segments, segments);
      if (params) return this.#pick(template, method ?? "", params);
    }
    return NONE;
  }

  #pick(template: Template, method: string, params: Readonly<Record<string, string>>): RouteMatch {
    const route = template.byMethod.get(method);
    if (route) return { kind: "found", route, params };
    return { kind: "wrong-method", template: template.path, allow: [...template.byMethod.keys()].join(", ") };
  }
}

function matchSegments(
  pattern: readonly string[],
  segments: readonly string[],
): Readonly<Record<string, string>> | undefined {
  if (pattern.length !== segments.length) return undefined;
  let params: Record<string, string> | undefined;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if (isParam(p)) {
      if (s.length === 0) return undefined;
      let value: string;
      try {
        value = decodeURIComponent(s);
      } catch {
        return undefined;
      }
      params ??= Object.create(null) as Record<string, string>;
      params[p.slice(1, -1)] = value;
    } else if (p !== s) {
      return undefined;
    }
  }
  return params ?? NO_PARAMS;
}
