/**
 * The embedded engine: llama.cpp in this process, through node-llama-cpp.
 *
 * One `LlamaContext` holds `parallelSequences` sequences; each request leases
 * one (or waits in a bounded FIFO queue), and node-llama-cpp batches the next
 * token of every active sequence into one llama.cpp decode, so N requests
 * share one forward pass per step. A sequence's KV state is cleared before
 * the next request gets it: no request ever sees another's tokens (no prefix
 * cache across requests, by design).
 *
 * Nothing here logs prompts or completions; llama.cpp's own log goes to the
 * `logger` option, filtered by `logLevel` (see `canary.test.ts` for what it
 * prints at "debug").
 */
import { randomInt } from "node:crypto";
import os from "node:os";
import path from "node:path";
import type {
  ChatHistoryItem,
  Llama,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaLogLevel,
  LlamaModel,
  Token,
} from "node-llama-cpp";
import { type ChatPrompt, defaultChatTemplate } from "./chat-template.js";
import { abortedError, createGeneration, type GenerationSink } from "./generation.js";
import { engineBinaryPaths } from "./native.js";
import { type Lease, SlotPool } from "./slot-pool.js";
import { StopScanner } from "./stop-scanner.js";
import { TokenTextDecoder } from "./token-text.js";
import {
  type ChatMessage,
  type ChatRequest,
  type CompletionRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type Engine,
  EngineError,
  type FinishReason,
  type Generation,
  type GenerationParams,
  type GenerationResult,
  type ModelInfo,
} from "./types.js";

/** llama.cpp log levels the engine forwards, most severe first. */
export type EngineLogLevel = "disabled" | "error" | "warn" | "info" | "debug";

/** Receives llama.cpp's (and node-llama-cpp's) log lines at or above `logLevel`. */
export type EngineLogger = (level: Exclude<EngineLogLevel, "disabled">, message: string) => void;

/** Options of {@link createEmbeddedEngine}. */
export interface EmbeddedEngineOptions {
  /** A GGUF file. */
  readonly modelPath: string;
  /** The id clients name; default: the file name without `.gguf`. */
  readonly modelId?: string;
  /** Context window per sequence in tokens; default min(the model's training context, 2048). */
  readonly contextSize?: number;
  /** Requests generated at the same time; default 4. */
  readonly parallelSequences?: number;
  /** Requests that may wait for a sequence; one more is refused with "busy". Default 64. */
  readonly maxQueue?: number;
  /** CPU threads for llama.cpp; default one less than `os.availableParallelism()` (at least 1), see {@link defaultThreads}. */
  readonly threads?: number;
  /** Tokens per llama.cpp decode call (prompt processing); default min(512, contextSize × parallelSequences). */
  readonly batchSize?: number;
  /** false (default): CPU only. "auto": a GPU backend when one is present. true: require one. */
  readonly gpu?: boolean | "auto";
  /** Default "warn". No level prints prompt or completion text (proved by the canary test). */
  readonly logLevel?: EngineLogLevel;
  /** Where log lines go; default: one line each on stderr. */
  readonly logger?: EngineLogger;
}

/** The configuration an embedded engine resolved and runs with. */
export interface EmbeddedEngineSettings {
  readonly modelId: string;
  /** Tokens per sequence: prompt and completion together never exceed it. */
  readonly contextSize: number;
  readonly parallelSequences: number;
  readonly maxQueue: number;
  readonly threads: number;
  /** Tokens per llama.cpp decode call. */
  readonly batchSize: number;
  /** Whether llama.cpp runs on a GPU backend. */
  readonly gpu: boolean;
  /** "model": the GGUF's `tokenizer.chat_template`; "default": {@link defaultChatTemplate}. */
  readonly chatTemplate: "model" | "default";
  /**
   * How an embedding vector is pooled: the GGUF's `<arch>.pooling_type` where
   * the model declares one (embedding models: "mean", "cls", "last"); else
   * "last", the final hidden state of the last token, which is what llama.cpp
   * gives for a decoder-only model without pooling (stories260K).
   */
  readonly embeddingPooling: "mean" | "cls" | "last" | "rank";
}

/** An {@link Engine} running llama.cpp in process. */
export interface EmbeddedEngine extends Engine {
  readonly kind: "embedded";
  readonly settings: EmbeddedEngineSettings;
  /** Same as {@link engineBinaryPaths}: the native files this process runs. */
  binaryPaths(): Promise<string[]>;
  /** Generations holding a sequence now, and requests waiting for one (for metrics and tests). */
  load(): { readonly running: number; readonly queued: number };
}

/**
 * Measured on the 2-core development machine, stories260K, greedy, 200–500
 * generated tokens per run, node-llama-cpp 3.22.1 (medians; the machine was
 * shared with other jobs, so runs spread widely):
 *
 * | threads | batch | ctx/seq | machine      | 1 sequence  | 4 sequences (aggregate) | prompt (402 tokens) |
 * | ------- | ----- | ------- | ------------ | ----------- | ----------------------- | ------------------- |
 * | 2       | 512   | 2048    | lightly used | ~970 tok/s  | ~1,020 tok/s            | ~1,900 tok/s        |
 * | 1       | 512   | 2048    | lightly used | ~900 tok/s  | ~650 tok/s              | ~990 tok/s          |
 * | 2       | 64    | 2048    | lightly used | ~920 tok/s  | ~900 tok/s              | ~1,340 tok/s        |
 * | 2       | 512   | 2048    | loaded       | 12–80 tok/s | ~100 tok/s              |                     |
 * | 1       | 512   | 2048    | loaded       | ~600 tok/s  | ~600 tok/s              |                     |
 *
 * Chosen: threads = cores − 1 (see {@link defaultThreads}: all cores win a
 * little on an idle machine and collapse when anything else runs), batch 512
 * (halves prompt time against 64; generation steps carry one token per
 * sequence, so batch size does not matter for them), 4 sequences: a model
 * this small is bound by per-step overhead, not arithmetic, so 4 sequences
 * give about the aggregate throughput of 1 but serve 4 clients at once.
 * The engine's own per-token work (incremental detokenization, stop scan,
 * chunk hand-off) measured ~27 µs, under 2% of a decode step.
 */
const DEFAULT_BATCH = 512;
const DEFAULT_SEQUENCES = 4;
const DEFAULT_MAX_QUEUE = 64;
const DEFAULT_CONTEXT_CAP = 2048;
/** Retry-After for "busy": a short generation on this engine takes well under a second. */
const BUSY_RETRY_AFTER_SECONDS = 1;
/** Messages per chat and inputs per embedding request are bounded by the HTTP layer; this is a backstop. */
const MAX_EMBEDDING_INPUTS = 2048;

const LOG_RANK: Record<EngineLogLevel, number> = { disabled: 0, error: 1, warn: 2, info: 3, debug: 4 };
// LlamaLogLevel is a string enum whose values are these names.
const TO_LLAMA_LEVEL = {
  disabled: "disabled",
  error: "error",
  warn: "warn",
  info: "info",
  debug: "debug",
} as Record<EngineLogLevel, LlamaLogLevel>;

type NodeLlamaCpp = typeof import("node-llama-cpp");
let nodeLlamaCpp: NodeLlamaCpp | undefined;

/**
 * node-llama-cpp is loaded on first use, not at import: a process that never
 * runs the embedded engine (an upstream server, the CLI's other commands)
 * should not pay for loading its ~100 modules — about a second of start-up,
 * and a measurably slower HTTP path once loaded (bench/http-overhead.ts).
 */
async function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  nodeLlamaCpp ??= await import("node-llama-cpp");
  return nodeLlamaCpp;
}

/** A chat or completion prompt, ready to evaluate. */
interface PreparedPrompt {
  readonly tokens: Token[];
  readonly stop: readonly string[];
  readonly stopTokens: ReadonlySet<Token>;
  readonly trimLeadingSpace: boolean;
}

/**
 * Load a GGUF model and serve it. Never downloads or builds anything: a
 * missing prebuilt llama.cpp binary fails here.
 *
 * Prompts are tokenized as llama.cpp tokenizes them with `add_special`: the
 * model's BOS first when its vocabulary asks for one; control-token text in
 * user content (e.g. "</s>") is plain text, never a control token.
 *
 * Usage follows the llama.cpp server: `promptTokens` counts every token
 * evaluated for the prompt (BOS and template included); `completionTokens`
 * counts every token sampled, including the EOS token and the token that
 * completed a stop string, although neither appears in the text.
 *
 * Embeddings use the same model through a second llama.cpp context (one
 * sequence, `contextSize` tokens of KV cache, created on first use); inputs
 * are embedded one at a time, pooled as `settings.embeddingPooling` says and
 * scaled to unit length (as OpenAI's and llama.cpp server's are). An empty
 * string is accepted and embeds as BOS alone (1 prompt token), consistently;
 * a model without BOS refuses it ("unsupported").
 *
 * @example
 * const engine = await createEmbeddedEngine({ modelPath: "stories260K.gguf" });
 * const gen = await engine.complete({
 *   model: "stories260K",
 *   prompt: "Once upon a time",
 *   params: { maxTokens: 32, temperature: 0, topP: 1, seed: undefined, stop: [] },
 *   signal: AbortSignal.timeout(10_000),
 * });
 * for await (const chunk of gen) process.stdout.write(chunk);
 * console.log(await gen.result); // { finishReason: "length", promptTokens: 5, completionTokens: 32 }
 */
export async function createEmbeddedEngine(options: EmbeddedEngineOptions): Promise<EmbeddedEngine> {
  const threads = positiveInt(options.threads ?? defaultThreads(), "threads");
  const parallelSequences = positiveInt(options.parallelSequences ?? DEFAULT_SEQUENCES, "parallelSequences");
  const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError("maxQueue must be an integer >= 0");
  const logLevel = options.logLevel ?? "warn";
  const sinkLog = options.logger ?? defaultLogger;
  const gpu = options.gpu ?? false;
  if (options.modelId !== undefined && options.modelId.length === 0) throw new RangeError("modelId must not be empty");

  const { getLlama } = await loadNodeLlamaCpp();
  const llama = await getLlama({
    gpu: gpu === false ? false : "auto",
    build: "never",
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    maxThreads: threads,
    logLevel: TO_LLAMA_LEVEL[logLevel],
    logger: (level, message) => {
      const mapped = fromLlamaLevel(level);
      if (mapped !== undefined && LOG_RANK[mapped] <= LOG_RANK[logLevel]) sinkLog(mapped, message);
    },
  });
  const cleanup: (() => Promise<void>)[] = [() => llama.dispose()];
  const undo = async (): Promise<void> => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  try {
    if (gpu === true && llama.gpu === false) throw new Error("gpu: true, but no GPU backend is available");
    const model = await llama.loadModel({ modelPath: options.modelPath, gpuLayers: llama.gpu === false ? 0 : "auto" });
    cleanup.push(() => model.dispose());
    const contextSize = positiveInt(options.contextSize ?? defaultContextSize(model.trainContextSize), "contextSize");
    const batchSize = positiveInt(
      options.batchSize ?? Math.min(DEFAULT_BATCH, contextSize * parallelSequences),
      "batchSize",
    );
    const context = await model.createContext({
      contextSize,
      sequences: parallelSequences,
      threads,
      batchSize,
      failedCreationRemedy: false,
    });
    cleanup.push(() => context.dispose());
    const sequences: LlamaContextSequence[] = [];
    for (let i = 0; i < parallelSequences; i++) sequences.push(context.getSequence());
    const modelTemplate = modelChatTemplate(model);
    const settings: EmbeddedEngineSettings = Object.freeze({
      modelId: options.modelId ?? path.basename(options.modelPath).replace(/\.gguf$/i, ""),
      // llama.cpp may round the context up (to a multiple of 256); the configured size stays the limit.
      contextSize: Math.min(contextSize, context.contextSize),
      parallelSequences,
      maxQueue,
      threads,
      batchSize: context.batchSize,
      gpu: llama.gpu !== false,
      chatTemplate: modelTemplate === undefined ? "default" : "model",
      embeddingPooling: poolingOf(model),
    });
    return new Embedded(llama, model, sequences, settings, modelTemplate);
  } catch (error) {
    await undo();
    throw error;
  }
}

/** Renders a chat with the model's own template into a prepared prompt. */
type ChatRenderer = (messages: readonly ChatMessage[]) => PreparedPrompt;

class Embedded implements EmbeddedEngine {
  readonly kind = "embedded" as const;
  readonly settings: EmbeddedEngineSettings;
  readonly #llama: Llama;
  readonly #model: LlamaModel;
  readonly #pool: SlotPool<LlamaContextSequence>;
  readonly #embedPool: SlotPool<null>;
  readonly #info: readonly ModelInfo[];
  readonly #modelTemplate: ChatRenderer | undefined;
  #embedding: Promise<LlamaEmbeddingContext> | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    llama: Llama,
    model: LlamaModel,
    sequences: readonly LlamaContextSequence[],
    settings: EmbeddedEngineSettings,
    modelTemplate: ChatRenderer | undefined,
  ) {
    this.#llama = llama;
    this.#model = model;
    this.settings = settings;
    this.#modelTemplate = modelTemplate;
    const poolOptions = { maxQueue: settings.maxQueue, retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS };
    this.#pool = new SlotPool(sequences, poolOptions);
    // One embedding context with one sequence: embedding requests run one at a time, queued like generations.
    this.#embedPool = new SlotPool([null], poolOptions);
    this.#info = Object.freeze([
      Object.freeze({
        id: settings.modelId,
        created: Math.floor(Date.now() / 1000),
        ownedBy: "veritee",
        contextSize: settings.contextSize,
      }),
    ]);
  }

  models(): readonly ModelInfo[] {
    return this.#info;
  }

  binaryPaths(): Promise<string[]> {
    return engineBinaryPaths();
  }

  load(): { readonly running: number; readonly queued: number } {
    return { running: this.#pool.busy, queued: this.#pool.waiting };
  }

  async complete(request: CompletionRequest): Promise<Generation> {
    this.#admit(request.model);
    const tokens = withBos(this.#model, this.#model.tokenize(request.prompt, false));
    return this.#generate({ tokens, stop: [], stopTokens: new Set(), trimLeadingSpace: false }, request);
  }

  async chat(request: ChatRequest): Promise<Generation> {
    this.#admit(request.model);
    let prompt: PreparedPrompt;
    if (this.#modelTemplate !== undefined) prompt = this.#modelTemplate(request.messages);
    else prompt = fromTemplate(this.#model, defaultChatTemplate(request.messages));
    return this.#generate(prompt, request);
  }

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    this.#admit(request.model);
    if (request.input.length > MAX_EMBEDDING_INPUTS) throw new RangeError("too many embedding inputs");
    const bos = beginningToken(this.#model);
    const inputs = request.input.map((text) => {
      // "" embeds as the model's BOS alone (what llama.cpp's tokenizer gives for ""); without a BOS there is nothing to embed.
      const tokens = text.length === 0 ? (bos === null ? [] : [bos]) : this.#model.tokenize(text, false);
      if (tokens.length === 0) throw new EngineError("unsupported", "an empty input cannot be embedded by this model");
      return tokens;
    });
    const lease = await this.#embedPool.acquire(request.signal);
    try {
      const context = await this.#embeddingContext();
      const lengths = inputs.map((tokens) => context.calculateInputLength(tokens));
      for (const length of lengths) {
        // node-llama-cpp needs one free cell beyond the input.
        if (length >= this.settings.contextSize) {
          throw new EngineError(
            "context-length-exceeded",
            `an input has ${length} tokens; the context holds ${this.settings.contextSize - 1}`,
          );
        }
      }
      const vectors: Float32Array[] = [];
      for (const tokens of inputs) {
        if (request.signal.aborted) throw abortedError(request.signal.reason);
        const embedding = await context.getEmbeddingFor(tokens);
        vectors.push(normalize(embedding.vector));
      }
      if (request.signal.aborted) throw abortedError(request.signal.reason);
      return { vectors, promptTokens: lengths.reduce((a, b) => a + b, 0) };
    } catch (error) {
      throw asEngineError(error);
    } finally {
      lease.release();
    }
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#pool.close();
      this.#embedPool.close();
      this.#closing = (async () => {
        await Promise.all([this.#pool.whenIdle(), this.#embedPool.whenIdle()]);
        const embedding = await this.#embedding?.catch(() => undefined);
        await embedding?.dispose();
        await this.#model.dispose();
        await this.#llama.dispose();
      })();
    }
    return this.#closing;
  }

  /** Refuse work after close and for unknown models. */
  #admit(model: string): void {
    if (this.#closing !== undefined) throw new EngineError("closed", "the engine is shutting down");
    if (model !== this.settings.modelId)
      throw new EngineError("model-not-found", "the requested model is not served here");
  }

  #embeddingContext(): Promise<LlamaEmbeddingContext> {
    if (this.#embedding === undefined) {
      const creating = this.#model.createEmbeddingContext({
        contextSize: this.settings.contextSize,
        threads: this.settings.threads,
        batchSize: Math.min(this.settings.batchSize, this.settings.contextSize),
      });
      // A failed creation is retried by the next request rather than cached.
      creating.catch(() => {
        if (this.#embedding === creating) this.#embedding = undefined;
      });
      this.#embedding = creating;
    }
    return this.#embedding;
  }

  async #generate(prompt: PreparedPrompt, request: ChatRequest | CompletionRequest): Promise<Generation> {
    const { params, signal } = request;
    checkParams(params);
    const contextSize = this.settings.contextSize;
    const promptTokens = prompt.tokens.length;
    if (promptTokens === 0) throw new EngineError("unsupported", "an empty prompt cannot be evaluated by this model");
    if (promptTokens >= contextSize) {
      throw new EngineError(
        "context-length-exceeded",
        `the prompt has ${promptTokens} tokens; the context holds ${contextSize} including the completion`,
      );
    }
    if (params.maxTokens !== undefined && promptTokens + params.maxTokens > contextSize) {
      throw new EngineError(
        "max-tokens-exceeded",
        `${promptTokens} prompt tokens + ${params.maxTokens} max tokens exceed the context of ${contextSize}`,
      );
    }
    // Prompt and completion together never exceed the context, so node-llama-cpp never shifts it.
    const budget = params.maxTokens ?? contextSize - promptTokens;
    const { generation, sink } = createGeneration(signal);
    if (budget === 0) {
      sink.end({ finishReason: "length", promptTokens, completionTokens: 0 });
      return generation;
    }
    const lease = await this.#pool.acquire(signal);
    void runGeneration(this.#model, lease, prompt, params, budget, sink);
    return generation;
  }
}

/**
 * The decode loop of one request: evaluate the prompt, then sample, decode
 * and scan one token per step until EOS, a stop string, the budget, or
 * cancellation; clear the sequence and hand it back in every case.
 */
async function runGeneration(
  model: LlamaModel,
  lease: Lease<LlamaContextSequence>,
  prompt: PreparedPrompt,
  params: GenerationParams,
  budget: number,
  sink: GenerationSink,
): Promise<void> {
  const sequence = lease.slot;
  const decoder = new TokenTextDecoder((tokens) => model.detokenize(tokens), prompt.tokens);
  const scanner = new StopScanner([...params.stop, ...prompt.stop]);
  let trimPending = prompt.trimLeadingSpace;
  const trim = (text: string): string => {
    if (!trimPending || text.length === 0) return text;
    trimPending = false;
    return text.startsWith(" ") ? text.slice(1) : text;
  };
  let iterator: ReturnType<LlamaContextSequence["evaluate"]> | undefined;
  let outcome: { ok: true; result: GenerationResult } | { ok: false; error: EngineError };
  try {
    // Defence in depth: a sequence is cleared when released; never evaluate on top of leftover state.
    if (sequence.nextTokenIndex !== 0) await sequence.clearHistory();
    iterator = sequence.evaluate(prompt.tokens, samplingOptions(params));
    let completionTokens = 0;
    let finishReason: FinishReason | undefined;
    while (finishReason === undefined) {
      if (sink.cancelled.aborted) throw abortedError();
      const step = await iterator.next();
      if (step.done === true) {
        finishReason = "stop";
        break;
      }
      completionTokens++;
      const token = step.value;
      if (model.isEogToken(token) || prompt.stopTokens.has(token)) {
        finishReason = "stop";
        break;
      }
      const scan = scanner.push(trim(decoder.push(token)));
      sink.push(scan.emit);
      if (scan.stopped) finishReason = "stop";
      else if (completionTokens >= budget) finishReason = "length";
    }
    if (!scanner.stopped) {
      // Bytes still pending in the decoder may complete a stop string; otherwise release the held text.
      const scan = scanner.push(trim(decoder.flush()));
      sink.push(scan.emit);
      if (scan.stopped) finishReason = "stop";
      else sink.push(scanner.flush());
    }
    outcome = { ok: true, result: { finishReason, promptTokens: prompt.tokens.length, completionTokens } };
  } catch (error) {
    outcome = { ok: false, error: asEngineError(error) };
  }
  // Free the sequence before the generation settles: once `result` resolves, the sequence is available again.
  await iterator?.return().catch(() => {});
  try {
    await sequence.clearHistory();
  } catch {
    // The context is gone (engine closing); the next use re-checks nextTokenIndex.
  }
  lease.release();
  if (outcome.ok) sink.end(outcome.result);
  else sink.fail(outcome.error);
}

/** node-llama-cpp sampling options with OpenAI semantics: temperature 0 is greedy; top_p only; no top-k, min-p or penalties. */
function samplingOptions(params: GenerationParams) {
  const common = { topK: 0, minP: 0, yieldEogToken: true } as const;
  if (params.temperature === 0) return { ...common, temperature: 0 };
  return { ...common, temperature: params.temperature, topP: params.topP, seed: samplerSeed(params.seed) };
}

/**
 * llama.cpp's dist sampler takes a 32-bit seed and reads 0xFFFFFFFF
 * (LLAMA_DEFAULT_SEED) as "pick one at random", so OpenAI's integer seed is
 * reduced modulo 2^32 − 1 into [0, 0xFFFFFFFE]. No seed: a fresh random one
 * per request.
 */
function samplerSeed(seed: number | undefined): number {
  const range = 0xffff_ffff;
  if (seed === undefined) return randomInt(0, range);
  const n = Math.trunc(seed) % range;
  return n < 0 ? n + range : n;
}

function checkParams(params: GenerationParams): void {
  if (params.maxTokens !== undefined && (!Number.isInteger(params.maxTokens) || params.maxTokens < 0)) {
    throw new RangeError("maxTokens must be an integer >= 0");
  }
  if (!Number.isFinite(params.temperature) || params.temperature < 0) throw new RangeError("temperature must be >= 0");
  if (!(params.topP >= 0 && params.topP <= 1)) throw new RangeError("topP must be in [0, 1]");
}

/** llama.cpp's `add_special` for the start of a prompt: the BOS token where the vocabulary asks for one. */
function beginningToken(model: LlamaModel): Token | null {
  return model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
}

function withBos(model: LlamaModel, tokens: Token[]): Token[] {
  const bos = beginningToken(model);
  return bos !== null && tokens[0] !== bos ? [bos, ...tokens] : tokens;
}

function fromTemplate(model: LlamaModel, rendered: ChatPrompt): PreparedPrompt {
  return {
    tokens: withBos(model, model.tokenize(rendered.text, false)),
    stop: rendered.stop,
    stopTokens: new Set(),
    trimLeadingSpace: rendered.trimLeadingSpace,
  };
}

/**
 * The model's own chat template (GGUF `tokenizer.chat_template`), rendered by
 * node-llama-cpp's resolved chat wrapper (a specialized wrapper when the
 * template is equivalent to one, else its Jinja renderer). Message content
 * enters as plain text, never as special tokens. Undefined when the GGUF has
 * no template: node-llama-cpp would then guess a format from the file name,
 * and a guess is worse than the documented default.
 */
function modelChatTemplate(model: LlamaModel): ChatRenderer | undefined {
  const template = model.fileInfo.metadata.tokenizer?.chat_template;
  if (typeof template !== "string" || template.length === 0) return undefined;
  const wrapper = nodeLlamaCpp!.resolveChatWrapper(model, { warningLogs: false });
  return (messages) => {
    const history: ChatHistoryItem[] = messages.map((m) =>
      m.role === "assistant" ? { type: "model", response: [m.content] } : { type: m.role, text: m.content },
    );
    history.push({ type: "model", response: [] });
    let state: ReturnType<typeof wrapper.generateContextState>;
    try {
      state = wrapper.generateContextState({ chatHistory: history });
    } catch (error) {
      throw new EngineError("unsupported", "the model's chat template cannot render this conversation", {
        cause: error,
      });
    }
    const stop: string[] = [];
    const stopTokens = new Set<Token>();
    for (const trigger of state.stopGenerationTriggers) {
      const tokens = trigger.tokenize(model.tokenizer);
      if (tokens.length === 1 && model.isSpecialToken(tokens[0])) {
        stopTokens.add(tokens[0]!);
        continue;
      }
      const text = trigger.values
        .map((v) => (typeof v === "string" ? v : v instanceof nodeLlamaCpp!.SpecialTokensText ? v.value : ""))
        .join("");
      if (text.length > 0) stop.push(text);
    }
    return {
      tokens: withBos(model, state.contextText.tokenize(model.tokenizer)),
      stop,
      stopTokens,
      trimLeadingSpace: false,
    };
  };
}

function poolingOf(model: LlamaModel): EmbeddedEngineSettings["embeddingPooling"] {
  const metadata = model.fileInfo.metadata as unknown as Record<string, { pooling_type?: unknown } | undefined>;
  // llama.cpp's enum llama_pooling_type: 0 none, 1 mean, 2 cls, 3 last, 4 rank.
  switch (metadata[model.fileInfo.metadata.general.architecture]?.pooling_type) {
    case 1:
      return "mean";
    case 2:
      return "cls";
    case 4:
      return "rank";
    default:
      // 0 (none), 3 (last) or undeclared: node-llama-cpp reads the last token's embedding.
      return "last";
  }
}

/** Unit length, as OpenAI's and llama.cpp server's embeddings are; a zero vector stays zero. */
function normalize(vector: readonly number[]): Float32Array {
  let sum = 0;
  for (const x of vector) sum += x * x;
  const norm = Math.sqrt(sum);
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = norm > 0 ? vector[i]! / norm : 0;
  return out;
}

function asEngineError(error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  // A native failure: its message is llama.cpp's, never request data, but it stays in `cause` only.
  return new EngineError("upstream-error", "the inference backend failed", { cause: error });
}

/**
 * One core is left to the event loop (HTTP, SSE, JSON) and the rest of the
 * machine: llama.cpp's worker threads meet at a barrier after every graph
 * node, so one worker descheduled by any other process stalls all of them.
 * On the 2-core development machine under load from other jobs, 200 greedy
 * tokens ran at ~600 tok/s with 1 thread and 12–80 tok/s with 2.
 */
export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

/**
 * The context per sequence when none is asked for: the model's training
 * context (GGUF `<arch>.context_length`), capped at 2048 tokens so a model
 * trained on long contexts does not reserve gigabytes of KV cache per sequence.
 */
export function defaultContextSize(trainContextSize: number | undefined): number {
  return Math.min(trainContextSize || DEFAULT_CONTEXT_CAP, DEFAULT_CONTEXT_CAP);
}

/**
 * The context per sequence the embedded engine would use for `modelPath`,
 * read from the GGUF header alone (no native code loaded, no weights read):
 * what `veritee measure` needs to recompute the configuration a server measures.
 */
export async function embeddedContextSize(modelPath: string): Promise<number> {
  const { readGgufFileInfo } = await loadNodeLlamaCpp();
  const info = await readGgufFileInfo(modelPath, { readTensorInfo: false });
  const trained = (info.architectureMetadata as { context_length?: unknown } | undefined)?.context_length;
  return defaultContextSize(typeof trained === "number" ? trained : undefined);
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

function fromLlamaLevel(level: LlamaLogLevel): Exclude<EngineLogLevel, "disabled"> | undefined {
  switch (level as string) {
    case "fatal":
    case "error":
      return "error";
    case "warn":
      return "warn";
    case "info":
    case "log":
      return "info";
    case "debug":
      return "debug";
    default:
      return undefined;
  }
}

function defaultLogger(level: Exclude<EngineLogLevel, "disabled">, message: string): void {
  process.stderr.write(`llama.cpp ${level}: ${message}\n`);
}
