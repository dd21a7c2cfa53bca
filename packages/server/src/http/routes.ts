/**
 * The built-in routes: the OpenAI endpoints (models, chat completions, legacy
 * completions, embeddings) and the operational ones (`/healthz`, `/metrics`).
 */
import type {
  ChatMessage,
  ChatRequest,
  CompletionRequest,
  Engine,
  GenerationParams,
  ModelInfo,
} from "../engine/types.js";
import { EngineError } from "../engine/types.js";
import { bearerToken } from "./access.js";
import { fromEngineError, HttpError, modelNotFound } from "./errors.js";
import type { HttpRequest, ResponseSink } from "./exchange.js";
import { serveGeneration } from "./generation.js";
import type { Admission, Governance } from "./governance.js";
import type { Metrics } from "./metrics.js";
import { parseChatCompletion, parseCompletion, parseEmbedding } from "./requests.js";
import type { Route, RouteContext } from "./router.js";
import { embeddingList, modelList, modelObject } from "./wire.js";

const METRICS_HEADERS = {
  "content-type": "text/plain; version=0.0.4; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
} as const;

/**
 * Engine requests whose AbortSignal is created only if the engine reads it (an
 * AbortController costs more than the rest of a small request's handling).
 * Classes, not object literals with a getter: V8 builds those slowly.
 */
class LazyChatRequest implements ChatRequest {
  readonly #ctx: RouteContext;
  constructor(
    ctx: RouteContext,
    readonly model: string,
    readonly messages: readonly ChatMessage[],
    readonly params: GenerationParams,
  ) {
    this.#ctx = ctx;
  }

  get signal(): AbortSignal {
    return this.#ctx.signal;
  }
}

class LazyCompletionRequest implements CompletionRequest {
  readonly #ctx: RouteContext;
  constructor(
    ctx: RouteContext,
    readonly model: string,
    readonly prompt: string,
    readonly params: GenerationParams,
  ) {
    this.#ctx = ctx;
  }

  get signal(): AbortSignal {
    return this.#ctx.signal;
  }
}

/** The model a request names, from the engine's own list (404 otherwise). */
export function findModel(engine: Engine, id: string): ModelInfo {
  for (const model of engine.models()) if (model.id === id) return model;
  throw modelNotFound();
}

/** Write the Prometheus text of `metrics`. */
export function sendMetrics(sink: ResponseSink, metrics: Metrics): void {
  const body = metrics.render();
  sink.head(200, { ...METRICS_HEADERS, "content-length": Buffer.byteLength(body) });
  sink.end(body);
}

/** Admit a metered request (none without governance). */
function admit(
  governance: Governance | undefined,
  req: HttpRequest,
  ctx: RouteContext,
  model: ModelInfo,
  maxTokens: number | undefined,
): Promise<Admission | undefined> | undefined {
  if (!governance) return undefined;
  return governance.admit(
    bearerToken(req.headers.authorization),
    { maxTokens, contextSize: model.contextSize },
    ctx.signal,
  );
}

/**
 * The routes every handler serves (`/metrics` unless it is served elsewhere,
 * `withMetrics: false`; `/v1/quota` with governance).
 */
export function builtinRoutes(engine: Engine, metrics: Metrics, withMetrics = true, governance?: Governance): Route[] {
  return [
    ...(governance
      ? [
          {
            method: "GET" as const,
            path: "/v1/quota",
            handler: (req: HttpRequest, _res: ResponseSink, ctx: RouteContext) =>
              ctx.sendJson(200, governance.quota(bearerToken(req.headers.authorization))),
          },
        ]
      : []),
    {
      method: "GET",
      path: "/healthz",
      public: true,
      handler: (_req, _res, ctx) => ctx.sendJson(200, { status: "ok" }),
    },
    ...(withMetrics
      ? [
          {
            method: "GET" as const,
            path: "/metrics",
            public: true,
            handler: (_request: HttpRequest, sink: ResponseSink) => sendMetrics(sink, metrics),
          },
        ]
      : []),
    {
      method: "GET",
      path: "/v1/models",
      handler: (_req, _res, ctx) => ctx.sendJson(200, modelList(engine.models())),
    },
    {
      method: "GET",
      path: "/v1/models/{id}",
      handler: (_req, _res, ctx) => ctx.sendJson(200, modelObject(findModel(engine, ctx.params.id!))),
    },
    {
      method: "POST",
      path: "/v1/chat/completions",
      limited: true,
      handler: async (req, _res, ctx) => {
        const input = parseChatCompletion(await ctx.readJson());
        const model = findModel(engine, input.model);
        const admission = await admit(governance, req, ctx, model, input.params.maxTokens);
        await serveGeneration(
          ctx,
          metrics,
          "chat",
          model,
          input,
          (params) => engine.chat(new LazyChatRequest(ctx, model.id, input.messages, params)),
          admission,
        );
      },
    },
    {
      method: "POST",
      path: "/v1/completions",
      limited: true,
      handler: async (req, _res, ctx) => {
        const input = parseCompletion(await ctx.readJson());
        const model = findModel(engine, input.model);
        const admission = await admit(governance, req, ctx, model, input.params.maxTokens);
        await serveGeneration(
          ctx,
          metrics,
          "text",
          model,
          input,
          (params) => engine.complete(new LazyCompletionRequest(ctx, model.id, input.prompt, params)),
          admission,
        );
      },
    },
    {
      method: "POST",
      path: "/v1/embeddings",
      limited: true,
      handler: async (req, _res, ctx) => {
        const input = parseEmbedding(await ctx.readJson());
        const model = findModel(engine, input.model);
        ctx.note({ model: model.id });
        const admission = await admit(governance, req, ctx, model, 0);
        let result: Awaited<ReturnType<Engine["embed"]>>;
        try {
          result = await engine.embed({ model: model.id, input: input.input, signal: ctx.signal });
        } catch (err) {
          admission?.settle(undefined);
          throw err instanceof EngineError ? fromEngineError(err, "input") : err;
        }
        admission?.settle({ promptTokens: result.promptTokens, completionTokens: 0 });
        if (result.vectors.length !== input.input.length) {
          throw new HttpError("internal", "The server had an error while processing the request.");
        }
        ctx.note({ promptTokens: result.promptTokens });
        metrics.embedding(model.id, input.input.length, result.promptTokens);
        ctx.sendJson(
          200,
          embeddingList(model.id, result.vectors, input.encodingFormat, result.promptTokens),
          admission?.headers,
        );
      },
    },
  ];
}
