/**
 * A small deterministic Engine for HTTP tests: a "token" is a word, the model
 * writes a fixed text (or echoes the prompt), and every engine behaviour the
 * HTTP layer maps (busy, context limits, aborts, upstream failures) can be
 * provoked. It honours the Engine contract: chunks concatenate to the
 * completion, stop strings end generation before their first occurrence, the
 * signal aborts promptly and frees the sequence.
 */
import {
  type ChatRequest,
  type CompletionRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type Engine,
  EngineError,
  type EngineErrorCode,
  type FinishReason,
  type Generation,
  type GenerationParams,
  type GenerationResult,
  type ModelInfo,
} from "../../../src/engine/types.js";

export interface WordEngineOptions {
  readonly models?: readonly ModelInfo[];
  /** Words written, cycled (default "alpha beta gamma …"). */
  readonly text?: string;
  /** Write the prompt's words back instead of `text`. */
  readonly echo?: boolean;
  /** Delay before each generated word. */
  readonly delayMs?: number;
  /** Sequences that can run at once; beyond, "busy". */
  readonly slots?: number;
  /** Make every request fail with this code (before starting), or after `failAfter` words. */
  readonly failWith?: EngineErrorCode;
  readonly failAfter?: number;
  /** Throw a plain (non-engine) error carrying this message, as a buggy engine would. */
  readonly crashWith?: string;
}

const DEFAULT_MODEL: ModelInfo = { id: "word-model", created: 1_700_000_000, ownedBy: "veritee-test", contextSize: 64 };
const DEFAULT_TEXT =
  "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon";

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class WordEngine implements Engine {
  readonly kind = "embedded" as const;
  readonly options: WordEngineOptions;
  /** Sequences currently generating. */
  active = 0;
  /** Generations started / aborted, for tests. */
  started = 0;
  aborted = 0;
  closed = false;

  constructor(options: WordEngineOptions = {}) {
    this.options = options;
  }

  models(): readonly ModelInfo[] {
    return this.options.models ?? [DEFAULT_MODEL];
  }

  #model(id: string): ModelInfo {
    const model = this.models().find((m) => m.id === id);
    if (!model) throw new EngineError("model-not-found", "unknown model");
    return model;
  }

  async chat(request: ChatRequest): Promise<Generation> {
    const prompt = request.messages.map((m) => `${m.role}: ${m.content}`).join("\n");
    return this.#start(request.model, prompt, request.params, request.signal);
  }

  async complete(request: CompletionRequest): Promise<Generation> {
    return this.#start(request.model, request.prompt, request.params, request.signal);
  }

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    this.#model(request.model);
    if (this.options.crashWith !== undefined) throw new Error(this.options.crashWith);
    if (this.options.failWith) throw new EngineError(this.options.failWith, "provoked failure");
    let promptTokens = 0;
    const vectors = request.input.map((text) => {
      const ws = words(text);
      promptTokens += ws.length;
      const v = new Float32Array(8);
      for (const w of ws) for (let i = 0; i < w.length; i++) v[(i + w.length) % 8]! += w.charCodeAt(i) / 1000;
      return v;
    });
    return { vectors, promptTokens };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  #start(modelId: string, prompt: string, params: GenerationParams, signal: AbortSignal): Generation {
    const model = this.#model(modelId);
    if (this.closed) throw new EngineError("closed", "closed");
    if (this.options.crashWith !== undefined) throw new Error(this.options.crashWith);
    if (this.options.failWith && this.options.failAfter === undefined) {
      throw new EngineError(this.options.failWith, "provoked failure", { retryAfterSeconds: 3 });
    }
    const promptTokens = words(prompt).length + 1;
    // An unknown context (an upstream that does not say) is unlimited here, as a real upstream decides itself.
    const contextSize = model.contextSize ?? Number.MAX_SAFE_INTEGER;
    if (promptTokens > contextSize) throw new EngineError("context-length-exceeded", "prompt too long");
    if (params.maxTokens !== undefined && promptTokens + params.maxTokens > contextSize) {
      throw new EngineError("max-tokens-exceeded", "max tokens too large");
    }
    if (this.active >= (this.options.slots ?? Number.POSITIVE_INFINITY)) {
      throw new EngineError("busy", "all sequences busy", { retryAfterSeconds: 2 });
    }
    let settle!: { resolve: (r: GenerationResult) => void; reject: (e: unknown) => void };
    const result = new Promise<GenerationResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    result.catch(() => {});
    this.active++;
    this.started++;
    // The sequence is freed when generation ends, or on abort even if it never started.
    let released = false;
    let iterating = false;
    const release = () => {
      if (released) return;
      released = true;
      this.active--;
    };
    signal.addEventListener(
      "abort",
      () => {
        if (!iterating) {
          this.aborted++;
          release();
          settle.reject(new EngineError("aborted", "aborted"));
        }
      },
      { once: true },
    );
    const limit = params.maxTokens ?? Math.min(contextSize - promptTokens, 1_000);
    const source = this.options.echo ? words(prompt) : words(this.options.text ?? DEFAULT_TEXT);
    const engine = this;
    const options = this.options;

    async function* run(): AsyncGenerator<string> {
      iterating = true;
      if (released) throw new EngineError("aborted", "aborted");
      let full = "";
      let emitted = 0;
      let count = 0;
      let finish: FinishReason = "length";
      const hold = Math.max(0, ...params.stop.map((s) => s.length - 1));
      try {
        while (count < limit) {
          if (options.delayMs) await sleep(options.delayMs);
          if (signal.aborted) throw new EngineError("aborted", "aborted");
          if (options.failWith && options.failAfter !== undefined && count >= options.failAfter) {
            throw new EngineError(options.failWith, "provoked failure");
          }
          const word = source.length === 0 ? "" : source[count % source.length]!;
          full += count === 0 ? word : ` ${word}`;
          count++;
          const cut = firstStop(full, params.stop);
          if (cut !== undefined) {
            full = full.slice(0, cut);
            finish = "stop";
            break;
          }
          const safe = full.length - hold;
          if (safe > emitted) {
            yield full.slice(emitted, safe);
            emitted = safe;
          }
        }
        if (full.length > emitted) yield full.slice(emitted);
        settle.resolve({ finishReason: finish, promptTokens, completionTokens: count });
      } catch (err) {
        if (err instanceof EngineError && err.code === "aborted") engine.aborted++;
        settle.reject(err);
        throw err;
      } finally {
        release();
      }
    }
    const iterator = run();
    return { result, [Symbol.asyncIterator]: () => iterator };
  }
}

function firstStop(text: string, stops: readonly string[]): number | undefined {
  let best: number | undefined;
  for (const stop of stops) {
    const i = text.indexOf(stop);
    if (i >= 0 && (best === undefined || i < best)) best = i;
  }
  return best;
}
