/**
 * Running one generation for chat or text completions, streamed or not. The
 * token limit is checked against the model's context before the engine is
 * asked; engine refusals become OpenAI errors with the right status; once a
 * stream has started, failures end it with an error event (see EventStream).
 */
import { EngineError, type Generation, type GenerationParams, type ModelInfo } from "../engine/types.js";
import { fromEngineError, HttpError } from "./errors.js";
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

  let generation: Generation;
  try {
    generation = await start(input.params);
  } catch (err) {
    throw err instanceof EngineError ? fromEngineError(err, promptParam, input.maxTokensParam) : err;
  }

  const head: ResponseHead = {
    id: responseId(kind === "chat" ? "chatcmpl" : "cmpl"),
    created: unixNow(),
    model: model.id,
  };
  let firstSeen = false;

  try {
    if (input.stream) {
      const stream = ctx.startEventStream();
      const encoder = new ChunkEncoder(kind, head, input.includeUsage);
      // `send` returns a promise only under back-pressure; awaiting nothing would cost a tick per chunk.
      if (kind === "chat") stream.send(encoder.role());
      for await (const text of generation) {
        if (text.length === 0) continue;
        if (!firstSeen) {
          firstSeen = true;
          metrics.firstToken(model.id, (performance.now() - began) / 1000);
        }
        const drained = stream.send(encoder.text(text));
        if (drained) await drained;
      }
      const result = await generation.result;
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
        parts.push(text);
      }
      const result = await generation.result;
      record(ctx, metrics, model, result.promptTokens, result.completionTokens, began);
      const text = parts.join("");
      ctx.sendJson(200, kind === "chat" ? chatCompletion(head, text, result) : textCompletion(head, text, result));
    }
  } catch (err) {
    // Settle `result` too, so that its rejection is never unhandled.
    generation.result.catch(() => {});
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
