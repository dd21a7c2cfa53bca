/**
 * The OpenAI-compatible HTTP layer: `createHttpHandler` over an `Engine`, and
 * `startHttpServer` to listen with it.
 */
export { type AccessCheck, type AccessOptions, checkApiKeys, createAccessCheck, MIN_API_KEY_LENGTH } from "./access.js";
export { DEFAULT_MAX_BODY_BYTES } from "./body.js";
export { parseCorsOrigin, withCors } from "./cors.js";
export type { HttpErrorCode, OpenAiErrorBody, OpenAiErrorType } from "./errors.js";
export { HttpError } from "./errors.js";
export { EventStream } from "./event-stream.js";
export type { ExchangeHandler, ExchangeListener, HttpRequest, NodeListener, ResponseSink } from "./exchange.js";
export { exchangeListener, NodeExchange } from "./exchange.js";
export type { CloseOptions, HttpHandler, HttpHandlerOptions, HttpLimits } from "./handler.js";
export { createHttpHandler, DEFAULT_LIMITS, metricsListener } from "./handler.js";
export type { JsonLoggerOptions, LogFields, Logger, LogLevel } from "./logger.js";
export { createJsonLogger, silentLogger } from "./logger.js";
export type { RejectionReason } from "./metrics.js";
export { Metrics } from "./metrics.js";
export type { HttpMethod, RequestFacts, Route, RouteContext, RouteHandler } from "./router.js";
export type { BoundHttpServer, ListenErrorCode, ListenOptions, RunningHttpServer, ServedHandler } from "./server.js";
export { bindHttpServer, ListenError, startHttpServer } from "./server.js";
