/**
 * HTTP-level failures and their OpenAI wire form. Every failure a client can
 * see is an `HttpError` with a closed code; the code alone decides the status,
 * the OpenAI `type` and `code` fields, so a route cannot invent an
 * inconsistent combination. Messages are fixed sentences that name fields at
 * most: they never carry any part of a request (prompts, stop strings, model
 * names, URLs) nor an engine's own message.
 */
import { VeriteeError } from "@veritee/core";
import { EngineError } from "../engine/types.js";

/** Why a request failed, as the HTTP layer reports it. */
export type HttpErrorCode =
  | "invalid-json" // 400: the body is not JSON, or not a JSON object
  | "invalid-request" // 400: a field has the wrong type or value
  | "unsupported" // 400: a valid OpenAI feature this server does not offer
  | "context-length-exceeded" // 400: the prompt, or prompt + max tokens, does not fit the context
  | "unauthorized" // 401: no API key, or not one of the server's (`--api-key`)
  | "sealed-required" // 403: a plaintext request to a server that takes only sealed ones (`--require-sealed`)
  | "model-not-found" // 404
  | "not-found" // 404: no such route
  | "method-not-allowed" // 405
  | "body-too-large" // 413
  | "unsupported-media-type" // 415: the body is not declared as JSON
  | "too-many-requests" // 429: more concurrent requests than allowed
  | "busy" // 429: the engine's sequences and queue are full
  | "insufficient-quota" // 429: the consumer's quota (custodial deployments) is spent
  | "internal" // 500
  | "upstream-error" // 502
  | "shutting-down" // 503
  | "model-unavailable" // 503: a custodial model without a lease (expired, revoked): back when one returns
  | "timeout" // 504
  | "client-closed"; // 499 (nginx's convention): never sent, the client is gone

/** OpenAI's error `type` values that this server uses. */
export type OpenAiErrorType = "invalid_request_error" | "rate_limit_error" | "insufficient_quota" | "server_error";

interface ErrorSpec {
  readonly status: number;
  readonly type: OpenAiErrorType;
  /** The OpenAI `code` field. */
  readonly wireCode: string | null;
}

const SPECS: Readonly<Record<HttpErrorCode, ErrorSpec>> = {
  "invalid-json": { status: 400, type: "invalid_request_error", wireCode: "invalid_json" },
  "invalid-request": { status: 400, type: "invalid_request_error", wireCode: "invalid_value" },
  unsupported: { status: 400, type: "invalid_request_error", wireCode: "unsupported_parameter" },
  "context-length-exceeded": { status: 400, type: "invalid_request_error", wireCode: "context_length_exceeded" },
  unauthorized: { status: 401, type: "invalid_request_error", wireCode: "invalid_api_key" },
  "sealed-required": { status: 403, type: "invalid_request_error", wireCode: "sealed_request_required" },
  "model-not-found": { status: 404, type: "invalid_request_error", wireCode: "model_not_found" },
  "not-found": { status: 404, type: "invalid_request_error", wireCode: "unknown_url" },
  "method-not-allowed": { status: 405, type: "invalid_request_error", wireCode: "method_not_allowed" },
  "body-too-large": { status: 413, type: "invalid_request_error", wireCode: "request_too_large" },
  "unsupported-media-type": { status: 415, type: "invalid_request_error", wireCode: "unsupported_media_type" },
  "too-many-requests": { status: 429, type: "rate_limit_error", wireCode: "rate_limit_exceeded" },
  busy: { status: 429, type: "rate_limit_error", wireCode: "engine_overloaded" },
  "insufficient-quota": { status: 429, type: "insufficient_quota", wireCode: "insufficient_quota" },
  internal: { status: 500, type: "server_error", wireCode: "internal_error" },
  "upstream-error": { status: 502, type: "server_error", wireCode: "upstream_error" },
  "shutting-down": { status: 503, type: "server_error", wireCode: "server_shutting_down" },
  "model-unavailable": { status: 503, type: "server_error", wireCode: "model_unavailable" },
  timeout: { status: 504, type: "server_error", wireCode: "timeout" },
  "client-closed": { status: 499, type: "server_error", wireCode: "client_closed" },
};

/** OpenAI's error body: `{ "error": { message, type, param, code } }`. */
export interface OpenAiErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: OpenAiErrorType;
    readonly param: string | null;
    readonly code: string | null;
  };
}

/**
 * A failure to report to the client. `publicMessage` is what the client reads;
 * it is a fixed sentence chosen by this server, never built from request data.
 *
 * @example
 * ```ts
 * throw new HttpError("invalid-request", "'temperature' must be a number between 0 and 2.", { param: "temperature" });
 * ```
 */
export class HttpError extends VeriteeError<HttpErrorCode> {
  readonly kind = "http" as const;
  /** The HTTP status. */
  readonly status: number;
  /** The message sent to the client (without the `code:` prefix of `message`). */
  readonly publicMessage: string;
  /** The request field at fault (a JSON path such as `messages[0].content`), or null. */
  readonly param: string | null;
  /** Seconds for the `Retry-After` header (429 and 503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: HttpErrorCode,
    publicMessage: string,
    options?: { param?: string; retryAfterSeconds?: number; cause?: unknown },
  ) {
    super(code, publicMessage, options);
    this.status = SPECS[code].status;
    this.publicMessage = publicMessage;
    this.param = options?.param ?? null;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /** The OpenAI JSON error body for this failure. */
  toBody(): OpenAiErrorBody {
    const spec = SPECS[this.code];
    return { error: { message: this.publicMessage, type: spec.type, param: this.param, code: spec.wireCode } };
  }
}

/** The generic 500: details go to the server log (class and code only), never to the client. */
export function internalError(cause?: unknown): HttpError {
  return new HttpError("internal", "The server had an error while processing the request.", { cause });
}

/**
 * Translate an engine failure. The engine's own message is dropped: engines
 * promise not to put user text in messages, but the HTTP layer does not rely
 * on it, and an upstream engine's message is outside our control.
 *
 * @param param the request field that carried the prompt ("messages" or "prompt")
 * @param maxTokensParam the field that set the token limit, when one was given
 */
export function fromEngineError(err: EngineError, param: string, maxTokensParam?: string): HttpError {
  switch (err.code) {
    case "model-not-found":
      return modelNotFound();
    case "context-length-exceeded":
      return new HttpError("context-length-exceeded", "The prompt is longer than the model's context window.", {
        param,
        cause: err,
      });
    case "max-tokens-exceeded":
      return new HttpError(
        "context-length-exceeded",
        "The prompt plus the requested maximum number of tokens exceeds the model's context window.",
        { param: maxTokensParam ?? param, cause: err },
      );
    case "busy":
      return new HttpError("busy", "The engine is busy; retry later.", {
        retryAfterSeconds: err.retryAfterSeconds ?? 1,
        cause: err,
      });
    case "unsupported":
      return new HttpError("unsupported", "The model does not support this operation.", { param: "model", cause: err });
    case "upstream-error":
      return new HttpError("upstream-error", "The upstream inference engine failed.", { cause: err });
    case "closed":
      return shuttingDown();
    case "aborted":
      // Only reached when the engine aborted without our signal firing.
      return new HttpError("internal", "The generation was aborted.", { cause: err });
  }
}

/** 404 for a model id the engine does not serve (the id is not echoed). */
export function modelNotFound(): HttpError {
  return new HttpError("model-not-found", "The requested model does not exist.", { param: "model" });
}

/** 503 while the server drains. */
export function shuttingDown(): HttpError {
  return new HttpError("shutting-down", "The server is shutting down.");
}

/** Any thrown value as an HttpError; unknown failures become the generic 500. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof EngineError) return fromEngineError(err, "messages");
  return internalError(err);
}
