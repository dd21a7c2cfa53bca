/**
 * Running one generation for chat or text completions, streamed or not. The
 * token limit is checked against the model's context before the engine is
 * asked; engine refusals become OpenAI errors with the right status; once a
 * stream has started, failures end it with an error event (see EventStream).
 * A metered request (custodial deployments) generates at most the tokens its
 * admission allows, paced by the throttle, and settles to what it used.
 */
import { EngineError, type Generation, type GenerationParams, type ModelInfo } from "../engine/types.js";
import { fromEngineError, HttpError } from "./errors.js";
import type { Admission } from "./governance.js";
import type { Metrics } from "./metrics.js";
import type { GenerationInput } from "./requests.js";
import type { RouteContext } from "./router.js";
import { ChunkEncoder, chatCompletion, type ResponseHead, responseId, textCompletion, unixNow } from "./wire.js";

/**
 * Serve a chat (`kind` "chat") or text completion with `start` launching the
 * engine's generation.
 */
export async function serveGeneration(
  ctx: RouteContext,
  metrics: Metrics,
  kind: "chat" | "text",
  model: ModelInfo,
  input: GenerationInput,
  start: (params: GenerationParams) => Promise<Generation>,
  admission?: Admission,
): Promise<void> {
  if (!admission) return generate(ctx, metrics, kind, model, input, start, undefined);
  try {
    await generate(ctx, metrics, kind, model, input, start, admission);
  } finally {
    // However it ended — refused before the engine started included — the reservation goes back unless the
    // request settled to what it used (settling is once: the first call counts).
    admission.settle(undefined);
  }
}

async function generate(
  ctx: RouteContext,
  metrics: Metrics,
  kind: "chat" | "text",
  model: ModelInfo,
  input: GenerationInput,
  start: (params: GenerationParams) => Promise<Generation>,
  admission: Admission | undefined,
): Promise<void> {
  const began = performance.now();
  const promptParam = kind === "chat" ? "messages" : "prompt";
  const maxTokens = input.params.maxTokens;
  ctx.note({ model: model.id, stream: input.stream });
  if (maxTokens !== undefined && model.contextSize !== undefined && maxTokens > model.contextSize) {
    throw new HttpError(
      "context-length-exceeded",
      `The requested maximum number of tokens exceeds the model's context window of ${model.contextSize} tokens.`,
      { param: input.maxTokensParam ?? "max_tokens" },
    );
  }

  const params =
    admission?.maxTokens !== undefined && admission.maxTokens !== maxTokens
      ? { ...input.params, maxTokens: admission.maxTokens }
      : input.params;
  let generation: Generation;
  try {
    generation = await start(params);
  } catch (err) {
    admission?.settle(undefined);
    throw err instanceof EngineError ? fromEngineError(err, promptParam, input.maxTokensParam) : err;
  }
  const extra = admission?.headers;
  let pieces = 0;

  const head: ResponseHead = {
    id: responseId(kind === "chat" ? "chatcmpl" : "cmpl"),
    created: unixNow(),
    model: model.id,
  };
  let firstSeen = false;

  try {
    if (input.stream) {
      const stream = ctx.startEventStream(extra);
      const encoder = new ChunkEncoder(kind, head, input.includeUsage);
      // `send` returns a promise only under back-pressure; awaiting nothing would cost a tick per chunk.
      if (kind === "chat") stream.send(encoder.role());
      for await (const text of generation) {
        if (text.length === 0) continue;
        pieces++;
        const paced = admission?.pace();
        if (paced) await paced;
        if (!firstSeen) {
          firstSeen = true;
          metrics.firstToken(model.id, (performance.now() - began) / 1000);
        }
        const drained = stream.send(encoder.text(text));
        if (drained) await drained;
      }
      const result = await generation.result;
      admission?.settle(result);
      record(ctx, metrics, model, result.promptTokens, result.completionTokens, began);
      // The last events: `end` flushes them whatever the back-pressure.
      stream.send(encoder.finish(result.finishReason));
      if (input.includeUsage) stream.send(encoder.usage(result));
      stream.done();
    } else {
      const parts: string[] = [];
      for await (const text of generation) {
        if (!firstSeen && text.length > 0) {
          firstSeen = true;
          metrics.firstToken(model.id, (performance.now() - began) / 1000);
        }
        if (text.length > 0) {
          pieces++;
          // The throttle holds a whole answer back as it does a stream: generation speed is what it caps.
          const paced = admission?.pace();
          if (paced) await paced;
        }
        parts.push(text);
      }
      const result = await generation.result;
      admission?.settle(result);
      record(ctx, metrics, model, result.promptTokens, result.completionTokens, began);
      const text = parts.join("");
      ctx.sendJson(
        200,
        kind === "chat" ? chatCompletion(head, text, result) : textCompletion(head, text, result),
        extra,
      );
    }
  } catch (err) {
    // Settle `result` too, so that its rejection is never unhandled.
    generation.result.catch(() => {});
    // Ended early (the client left, a timeout): what was generated is what is counted; the prompt is not known here.
    admission?.settle(pieces > 0 ? { promptTokens: 0, completionTokens: pieces } : undefined);
    throw err instanceof EngineError ? fromEngineError(err, promptParam, input.maxTokensParam) : err;
  }
}

function record(
  ctx: RouteContext,
  metrics: Metrics,
  model: ModelInfo,
  promptTokens: number,
  completionTokens: number,
  began: number,
): void {
  ctx.note({ promptTokens, completionTokens });
  metrics.generation(model.id, promptTokens, completionTokens, (performance.now() - began) / 1000);
}
