/**
 * The contract between the HTTP layer and an inference engine. Engines see
 * prompts and produce text; they never log either. The HTTP layer owns the
 * OpenAI wire format; engines own tokenization, templates and scheduling.
 */
import { VeriteeError } from "@veritee/core";

/** A model an engine serves. */
export interface ModelInfo {
  /** The id clients name in `model` (e.g. "stories260K"). */
  readonly id: string;
  /** Unix seconds when the engine loaded it. */
  readonly created: number;
  readonly ownedBy: string;
  /**
   * Context window in tokens (per sequence); undefined when unknown (an
   * upstream that does not say): requests are then not checked against it
   * here, and the engine itself enforces its limit.
   */
  readonly contextSize: number | undefined;
}

/** One chat message after validation. */
export interface ChatMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

/** Sampling and stopping parameters after validation (OpenAI semantics). */
export interface GenerationParams {
  /** Upper bound of generated tokens; undefined means "until the context is full". */
  readonly maxTokens: number | undefined;
  /** 0 means greedy (deterministic). */
  readonly temperature: number;
  readonly topP: number;
  /** Fixed seed for reproducible sampling at temperature > 0. */
  readonly seed: number | undefined;
  /** Up to 4 stop strings; generation ends before the first occurrence, which is not returned. */
  readonly stop: readonly string[];
}

/** Why generation ended, in OpenAI's terms. */
export type FinishReason = "stop" | "length";

/** What a finished generation reports; token counts are exact (the engine's own tokenizer). */
export interface GenerationResult {
  readonly finishReason: FinishReason;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/**
 * A generation in progress: iterate it for text chunks (in order, concatenating
 * to the full completion); when iteration ends, `result` resolves. Aborting the
 * signal stops generation promptly and frees the engine's sequence; iteration
 * then throws an EngineError "aborted".
 */
export interface Generation extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
}

export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly params: GenerationParams;
  readonly signal: AbortSignal;
}

export interface CompletionRequest {
  readonly model: string;
  readonly prompt: string;
  readonly params: GenerationParams;
  readonly signal: AbortSignal;
}

export interface EmbeddingRequest {
  readonly model: string;
  readonly input: readonly string[];
  readonly signal: AbortSignal;
}

export interface EmbeddingResult {
  /** One vector per input, in input order. */
  readonly vectors: readonly Float32Array[];
  readonly promptTokens: number;
}

/** An inference engine: embedded llama.cpp, or an upstream OpenAI-compatible server. */
export interface Engine {
  readonly kind: "embedded" | "upstream" | "onnx";
  /** The models served; the first is the default. */
  models(): readonly ModelInfo[];
  /**
   * Start a chat completion. Throws EngineError synchronously-or-rejected for
   * requests that cannot start: unknown model, prompt longer than the context,
   * max tokens beyond the context, queue full.
   */
  chat(request: ChatRequest): Promise<Generation>;
  complete(request: CompletionRequest): Promise<Generation>;
  embed(request: EmbeddingRequest): Promise<EmbeddingResult>;
  /** Stop accepting work, let in-flight generations finish or abort, free native memory. */
  close(): Promise<void>;
}

/** Engine failures; the HTTP layer maps each code to an OpenAI error and status. */
export type EngineErrorCode =
  | "model-not-found" // 404
  | "context-length-exceeded" // 400: the prompt does not fit the context
  | "max-tokens-exceeded" // 400: prompt + max_tokens exceed the context
  | "busy" // 429 with Retry-After: every sequence busy and the queue full
  | "aborted" // the client went away or the request timed out
  | "unsupported" // 400: e.g. embeddings on a model that cannot embed
  | "upstream-error" // 502: the upstream engine failed
  | "closed"; // 503: shutting down

/** An engine failure. Messages never contain prompt or completion text. */
export class EngineError extends VeriteeError<EngineErrorCode> {
  readonly kind = "engine" as const;
  /** Seconds after which a retry may succeed (for "busy"). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(code, message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}
