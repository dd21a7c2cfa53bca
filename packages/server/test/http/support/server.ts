import assert from "node:assert/strict";
/**
 * Test harness: the handler under test listening on 127.0.0.1, and the
 * official `openai` client pointed at it.
 */
import OpenAI, { APIError } from "openai";
import type { Engine } from "../../../src/engine/types.js";
import {
  createHttpHandler,
  type HttpHandler,
  type HttpHandlerOptions,
  type LogFields,
  type Logger,
  type LogLevel,
  type RunningHttpServer,
  startHttpServer,
} from "../../../src/http/index.js";

/** A logger that keeps every event, for assertions. */
export class MemoryLogger implements Logger {
  readonly events: { level: LogLevel; event: string; fields: LogFields }[] = [];

  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    this.events.push({ level, event, fields });
  }

  requests(): LogFields[] {
    return this.events.filter((e) => e.event === "request").map((e) => e.fields);
  }

  text(): string {
    return JSON.stringify(this.events);
  }
}

export interface TestServer {
  readonly http: HttpHandler;
  readonly running: RunningHttpServer;
  readonly url: string;
  readonly client: OpenAI;
  readonly logger: MemoryLogger;
  close(): Promise<void>;
}

/** Start the handler for `engine` on an ephemeral port. */
export async function startTestServer(
  engine: Engine,
  options: Omit<HttpHandlerOptions, "engine"> = {},
): Promise<TestServer> {
  const logger = options.logger instanceof MemoryLogger ? options.logger : new MemoryLogger();
  const http = createHttpHandler({ engine, logger, ...options });
  const running = await startHttpServer(http, { host: "127.0.0.1", port: 0 });
  const client = new OpenAI({
    baseURL: `${running.url}/v1`,
    apiKey: "sk-test-not-a-secret",
    maxRetries: 0,
    timeout: 20_000,
    logLevel: "off",
  });
  return { http, running, url: running.url, client, logger, close: () => running.close({ graceMs: 1000 }) };
}

/** POST raw bytes with fetch (for what the openai client cannot send). */
export function postRaw(
  url: string,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<Response> {
  return fetch(url, { method: "POST", body, headers });
}

/** POST a JSON value with fetch. */
export function postJson(url: string, value: unknown): Promise<Response> {
  return postRaw(url, JSON.stringify(value));
}

/** The OpenAI error body of a response, checked for its shape. */
export async function errorBody(
  response: Response,
): Promise<{ message: string; type: string; param: string | null; code: string | null }> {
  const body = (await response.json()) as { error?: Record<string, unknown> };
  const error = body.error;
  if (!error || typeof error.message !== "string" || typeof error.type !== "string") {
    throw new Error("not an OpenAI error body");
  }
  if (!("param" in error) || !("code" in error)) throw new Error("error body lacks param or code");
  return error as { message: string; type: string; param: string | null; code: string | null };
}

/** Await a rejected openai call and return its APIError. */
export async function apiError(promise: Promise<unknown>): Promise<APIError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof APIError, `expected an APIError, got ${String(err)}`);
    return err;
  }
  assert.fail("the request unexpectedly succeeded");
}

/** Wait until `condition()` holds, polling every 10 ms, failing after `ms`. */
export async function until(condition: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) assert.fail("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
