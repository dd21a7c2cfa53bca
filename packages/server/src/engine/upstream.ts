/**
 * The upstream engine: an OpenAI-compatible server (vLLM, SGLang, llama.cpp
 * server, Ollama) that runs inside the same trust boundary, reached over
 * loopback or an in-boundary address. Requests stream (`stream: true`,
 * `stream_options.include_usage`) so text reaches the client as the upstream
 * produces it, and usage and finish reason come from the upstream's own
 * tokenizer.
 *
 * Privacy: upstream error bodies may echo the prompt, so they are read only
 * to recognise a few error kinds and never copied into messages or causes.
 * Redirects are refused: a redirect could send a prompt elsewhere.
 */
import { MalformedError } from "@veritee/core";
import { abortedError, createGeneration, type GenerationSink } from "./generation.js";
import { SseParser } from "./sse.js";
import {
  type ChatRequest,
  type CompletionRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type Engine,
  EngineError,
  type FinishReason,
  type Generation,
  type GenerationParams,
  type ModelInfo,
} from "./types.js";
import { contextFromModelEntry, contextLength, probeContextSize } from "./upstream-context.js";

/** Options of {@link createUpstreamEngine}. */
export interface UpstreamEngineOptions {
  /** The API root, e.g. "http://127.0.0.1:8000/v1". http(s) only, no credentials in the URL. */
  readonly baseURL: string;
  /** Sent as `Authorization: Bearer …`. */
  readonly apiKey?: string;
  /** The models to serve; default: the upstream's `GET /models`, read once at start. */
  readonly models?: readonly string[];
  /**
   * Milliseconds to wait for the upstream: for response headers, between two
   * received chunks of a stream, and for a whole non-streamed response
   * (models, embeddings). Default 60 000.
   */
  readonly timeoutMs?: number;
  /**
   * Context window of every served model, in tokens (`--context-size`). Default:
   * asked from the upstream (upstream-context.ts: vLLM `max_model_len`,
   * llama.cpp `/props`, Ollama `/api/show`); unknown when it does not say,
   * and then the upstream alone enforces its limit.
   */
  readonly contextSize?: number;
  /** Upper bound of a non-streamed response body (embeddings, models) in bytes; default 64 MiB. */
  readonly maxResponseBytes?: number;
  /** The fetch implementation; default the global (undici). */
  readonly fetch?: typeof fetch;
}

/** An {@link Engine} that forwards to an OpenAI-compatible server. */
export interface UpstreamEngine extends Engine {
  readonly kind: "upstream";
  /** The normalized API root requests go to. */
  readonly baseURL: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_RESPONSE = 64 * 1024 * 1024;
/** Error bodies are read only this far, to recognise the error kind. */
const MAX_ERROR_BODY = 64 * 1024;
const DEFAULT_RETRY_AFTER_SECONDS = 1;
/** Engine-specific documents (llama.cpp `/props`, Ollama `/api/show`) are read only this far. */
const MAX_PROBE_BODY = 4 * 1024 * 1024;

/**
 * Connect to an OpenAI-compatible server. Lists its models (unless `models`
 * is given) before returning, so a wrong URL or key fails at start.
 *
 * Error mapping (before any text is streamed): 404 → "model-not-found";
 * 400 recognisable as a context overflow → "context-length-exceeded" or
 * "max-tokens-exceeded"; 429 → "busy" with the upstream's Retry-After;
 * anything else, a malformed stream, or a stream without usage →
 * "upstream-error". Aborting the request's signal, or leaving the iteration,
 * aborts the upstream request.
 *
 * @example
 * const engine = await createUpstreamEngine({ baseURL: "http://127.0.0.1:8000/v1" });
 * const gen = await engine.chat({ model: engine.models()[0].id, messages, params, signal });
 */
export async function createUpstreamEngine(options: UpstreamEngineOptions): Promise<UpstreamEngine> {
  const baseURL = normalizeBaseURL(options.baseURL);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError("timeoutMs must be a positive integer");
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE;
  if (options.contextSize !== undefined && contextLength(options.contextSize) === undefined) {
    throw new RangeError("contextSize must be a positive integer");
  }
  const client = new Client(baseURL, options.apiKey, timeoutMs, maxResponseBytes, options.fetch ?? fetch);
  let models: ModelInfo[];
  const now = Math.floor(Date.now() / 1000);
  if (options.models !== undefined) {
    if (options.models.length === 0) throw new RangeError("models must not be empty");
    // The list is optional here (the ids are given), so it is only read for max_model_len.
    const listed = options.contextSize === undefined ? await client.listModels(now).catch(() => [] as ModelInfo[]) : [];
    models = options.models.map((id) => ({
      id,
      created: now,
      ownedBy: "upstream",
      contextSize: listed.find((m) => m.id === id)?.contextSize,
    }));
  } else {
    models = await client.listModels(now);
    if (models.length === 0) throw new EngineError("upstream-error", "the upstream lists no models");
  }
  models = await Promise.all(
    models.map(async (m) => ({
      ...m,
      contextSize: options.contextSize ?? m.contextSize ?? (await probeContextSize(client.probe, m.id)),
    })),
  );
  return new Upstream(baseURL, client, Object.freeze(models.map((m) => Object.freeze(m))));
}

class Upstream implements UpstreamEngine {
  readonly kind = "upstream" as const;
  readonly baseURL: string;
  readonly #client: Client;
  readonly #models: readonly ModelInfo[];
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(baseURL: string, client: Client, models: readonly ModelInfo[]) {
    this.baseURL = baseURL;
    this.#client = client;
    this.#models = models;
  }

  models(): readonly ModelInfo[] {
    return this.#models;
  }

  chat(request: ChatRequest): Promise<Generation> {
    return this.#stream("chat/completions", request, {
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
    });
  }

  complete(request: CompletionRequest): Promise<Generation> {
    return this.#stream("completions", request, { prompt: request.prompt });
  }

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    this.#admit(request.model);
    return this.#track(this.#client.embed(request));
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #admit(model: string): void {
    if (this.#closed) throw new EngineError("closed", "the engine is shutting down");
    if (!this.#models.some((m) => m.id === model)) {
      throw new EngineError("model-not-found", "the requested model is not served here");
    }
  }

  #track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#inFlight.add(settled);
    void settled.then(() => this.#inFlight.delete(settled));
    return work;
  }

  async #stream(
    endpoint: "chat/completions" | "completions",
    request: ChatRequest | CompletionRequest,
    input: Record<string, unknown>,
  ): Promise<Generation> {
    this.#admit(request.model);
    const { generation, sink } = createGeneration(request.signal);
    const body = {
      model: request.model,
      ...input,
      ...wireParams(request.params),
      stream: true,
      stream_options: { include_usage: true },
    };
    const response = await this.#track(this.#client.startStream(endpoint, body, request.signal, sink.cancelled));
    this.#track(this.#client.readStream(response, endpoint, sink));
    return generation;
  }
}

/** OpenAI request fields for validated params. */
function wireParams(params: GenerationParams): Record<string, unknown> {
  const out: Record<string, unknown> = { temperature: params.temperature, top_p: params.topP };
  if (params.maxTokens !== undefined) out.max_tokens = params.maxTokens;
  if (params.seed !== undefined) out.seed = params.seed;
  if (params.stop.length > 0) out.stop = [...params.stop];
  return out;
}

/** A started streaming response and the controls that end it. */
interface StreamResponse {
  readonly body: ReadableStream<Uint8Array>;
  readonly abort: AbortController;
  /** Restart the inactivity timer (called per received chunk). */
  readonly touch: () => void;
  readonly timedOut: () => boolean;
  readonly stopTimer: () => void;
}

class Client {
  readonly #base: string;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;
  readonly #maxResponse: number;
  readonly #fetch: typeof fetch;

  constructor(
    base: string,
    apiKey: string | undefined,
    timeoutMs: number,
    maxResponse: number,
    fetchImpl: typeof fetch,
  ) {
    this.#base = base;
    this.#apiKey = apiKey;
    this.#timeoutMs = timeoutMs;
    this.#maxResponse = maxResponse;
    this.#fetch = fetchImpl;
  }

  async listModels(now: number): Promise<ModelInfo[]> {
    const json = await this.#json("models", "GET", undefined, AbortSignal.timeout(this.#timeoutMs), undefined);
    const data = field(json, "data");
    if (!Array.isArray(data)) throw malformed("models.data");
    return data.map((entry): ModelInfo => {
      const id = field(entry, "id");
      if (typeof id !== "string" || id.length === 0) throw malformed("models.data[].id");
      const created = field(entry, "created");
      const ownedBy = field(entry, "owned_by");
      return {
        id,
        created: Number.isSafeInteger(created) ? (created as number) : now,
        ownedBy: typeof ownedBy === "string" ? ownedBy : "upstream",
        contextSize: contextFromModelEntry(entry),
      };
    });
  }

  /**
   * GET (or POST) a JSON document at `path` below the upstream's server root
   * (the API root without its `/v1`), for engine-specific facts such as the
   * context size. Any failure (a status, a timeout, not JSON) is `undefined`:
   * these endpoints are optional.
   */
  readonly probe = async (path: string, init?: { readonly method: "POST"; readonly body: unknown }) => {
    const root = this.#base.replace(/\/v1$/, "");
    try {
      const response = await this.#fetch(`${root}/${path}`, {
        method: init?.method ?? "GET",
        headers: this.#headers("application/json"),
        body: init === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: "error",
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        return undefined;
      }
      const text = await readLimited(response, MAX_PROBE_BODY);
      return text === undefined ? undefined : (JSON.parse(text) as unknown);
    } catch {
      return undefined;
    }
  };

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(this.#timeoutMs)]);
    const json = await this.#json(
      "embeddings",
      "POST",
      { model: request.model, input: [...request.input], encoding_format: "float" },
      signal,
      request.signal,
    );
    const data = field(json, "data");
    if (!Array.isArray(data) || data.length !== request.input.length) throw malformed("embeddings.data");
    const vectors: (Float32Array | undefined)[] = new Array(data.length).fill(undefined);
    let dimension: number | undefined;
    for (const entry of data) {
      const index = field(entry, "index");
      const embedding = field(entry, "embedding");
      if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= data.length) {
        throw malformed("embeddings.data[].index");
      }
      if (vectors[index as number] !== undefined) throw malformed("embeddings.data[].index");
      if (!Array.isArray(embedding) || embedding.length === 0 || !embedding.every(Number.isFinite)) {
        throw malformed("embeddings.data[].embedding");
      }
      dimension ??= embedding.length;
      if (embedding.length !== dimension) throw malformed("embeddings.data[].embedding");
      vectors[index as number] = Float32Array.from(embedding as number[]);
    }
    const promptTokens = field(field(json, "usage"), "prompt_tokens");
    if (!Number.isSafeInteger(promptTokens) || (promptTokens as number) < 0) throw malformed("embeddings.usage");
    return { vectors: vectors as Float32Array[], promptTokens: promptTokens as number };
  }

  /**
   * POST a streaming request and wait for its response headers. Rejects with
   * the mapped EngineError for a non-2xx status; the body is left unread.
   */
  async startStream(
    endpoint: string,
    body: unknown,
    requestSignal: AbortSignal,
    cancelled: AbortSignal,
  ): Promise<StreamResponse> {
    const abort = new AbortController();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, this.#timeoutMs);
    };
    const stopTimer = (): void => clearTimeout(timer);
    const signal = AbortSignal.any([requestSignal, cancelled, abort.signal]);
    touch();
    let response: Response;
    try {
      response = await this.#fetch(this.#url(endpoint), {
        method: "POST",
        headers: this.#headers("text/event-stream"),
        body: JSON.stringify(body),
        signal,
        redirect: "error",
      });
    } catch (error) {
      stopTimer();
      throw failure(error, requestSignal, cancelled, timedOut);
    }
    if (!response.ok) {
      stopTimer();
      throw await statusError(response);
    }
    if (response.body === null) {
      stopTimer();
      throw new EngineError("upstream-error", "the upstream sent no body");
    }
    return { body: response.body, abort, touch, timedOut: () => timedOut, stopTimer };
  }

  /** Read the SSE stream into the sink; never throws (failures go to the sink). */
  async readStream(stream: StreamResponse, endpoint: string, sink: GenerationSink): Promise<void> {
    const parser = new SseParser();
    const state: StreamState = { finishReason: undefined, usage: undefined, done: false };
    const reader = stream.body.getReader();
    const onCancel = (): void => stream.abort.abort();
    sink.cancelled.addEventListener("abort", onCancel, { once: true });
    try {
      while (!state.done) {
        const { done, value } = await reader.read();
        if (done) break;
        stream.touch();
        for (const event of parser.push(value)) {
          handleEvent(event.data, endpoint, state, sink);
          if (state.done) break;
        }
      }
      if (!state.done) for (const event of parser.end()) handleEvent(event.data, endpoint, state, sink);
      if (state.finishReason === undefined) throw new EngineError("upstream-error", "the upstream stream ended early");
      if (state.usage === undefined) throw new EngineError("upstream-error", "the upstream reported no usage");
      sink.end({ finishReason: state.finishReason, ...state.usage });
    } catch (error) {
      sink.fail(
        error instanceof EngineError
          ? error
          : error instanceof MalformedError
            ? new EngineError("upstream-error", "the upstream sent a malformed stream", { cause: error })
            : failure(error, sink.cancelled, sink.cancelled, stream.timedOut()),
      );
    } finally {
      stream.stopTimer();
      sink.cancelled.removeEventListener("abort", onCancel);
      // Close the connection if we stopped before the upstream did (stop, abort, error).
      if (!state.done || sink.cancelled.aborted) stream.abort.abort();
      await reader.cancel().catch(() => {});
    }
  }

  async #json(
    endpoint: string,
    method: "GET" | "POST",
    body: unknown,
    signal: AbortSignal,
    requestSignal: AbortSignal | undefined,
  ): Promise<unknown> {
    let response: Response;
    try {
      response = await this.#fetch(this.#url(endpoint), {
        method,
        headers: this.#headers("application/json"),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        redirect: "error",
      });
      if (!response.ok) throw await statusError(response);
      const text = await readLimited(response, this.#maxResponse);
      if (text === undefined) throw new EngineError("upstream-error", "the upstream response is too large");
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new EngineError("upstream-error", "the upstream response is not JSON");
      }
    } catch (error) {
      if (error instanceof EngineError) throw error;
      const timedOut = signal.aborted && !(requestSignal?.aborted ?? false);
      throw failure(error, requestSignal ?? signal, requestSignal ?? signal, timedOut);
    }
  }

  #url(endpoint: string): string {
    return `${this.#base}/${endpoint}`;
  }

  #headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { "content-type": "application/json", accept };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    return headers;
  }
}

interface StreamState {
  finishReason: FinishReason | undefined;
  usage: { promptTokens: number; completionTokens: number } | undefined;
  done: boolean;
}

/** One `data:` payload of an OpenAI stream: a chunk, or the `[DONE]` sentinel. */
function handleEvent(data: string, endpoint: string, state: StreamState, sink: GenerationSink): void {
  if (data === "[DONE]") {
    state.done = true;
    return;
  }
  let chunk: unknown;
  try {
    chunk = JSON.parse(data) as unknown;
  } catch {
    throw new EngineError("upstream-error", "the upstream sent a chunk that is not JSON");
  }
  if (field(chunk, "error") !== undefined) throw new EngineError("upstream-error", "the upstream failed mid-stream");
  const choices = field(chunk, "choices");
  if (choices !== undefined && !Array.isArray(choices)) throw malformed("chunk.choices");
  const choice = Array.isArray(choices) ? (choices.find((c) => (field(c, "index") ?? 0) === 0) as unknown) : undefined;
  if (choice !== undefined) {
    const text = endpoint === "chat/completions" ? field(field(choice, "delta"), "content") : field(choice, "text");
    if (typeof text === "string") sink.push(text);
    else if (text !== undefined && text !== null) throw malformed("chunk.choices[].content");
    const reason = field(choice, "finish_reason");
    if (reason !== undefined && reason !== null) state.finishReason = finishReason(reason);
  }
  const usage = field(chunk, "usage");
  if (usage !== undefined && usage !== null) {
    const prompt = field(usage, "prompt_tokens");
    const completion = field(usage, "completion_tokens");
    if (
      !Number.isSafeInteger(prompt) ||
      !Number.isSafeInteger(completion) ||
      (prompt as number) < 0 ||
      (completion as number) < 0
    ) {
      throw malformed("chunk.usage");
    }
    state.usage = { promptTokens: prompt as number, completionTokens: completion as number };
  }
}

function finishReason(reason: unknown): FinishReason {
  switch (reason) {
    case "stop":
    case "eos": // some llama.cpp builds
      return "stop";
    case "length":
      return "length";
    default:
      throw new EngineError("upstream-error", "the upstream ended with an unsupported finish reason");
  }
}

/** Map a non-2xx upstream response to an EngineError; the body is read only to classify, never quoted. */
async function statusError(response: Response): Promise<EngineError> {
  const status = response.status;
  if (status === 429) {
    const retryAfterSeconds = parseRetryAfter(response.headers.get("retry-after"));
    await response.body?.cancel().catch(() => {});
    return new EngineError("busy", "the upstream is busy", { retryAfterSeconds });
  }
  if (status === 404) {
    await response.body?.cancel().catch(() => {});
    return new EngineError("model-not-found", "the upstream does not serve the requested model");
  }
  if (status === 400) {
    const kind = classifyBadRequest(await readLimited(response, MAX_ERROR_BODY).catch(() => undefined));
    if (kind === "context")
      return new EngineError("context-length-exceeded", "the prompt does not fit the upstream's context");
    if (kind === "max-tokens") {
      return new EngineError("max-tokens-exceeded", "prompt and max tokens exceed the upstream's context");
    }
    return new EngineError("upstream-error", "the upstream rejected the request (400)");
  }
  await response.body?.cancel().catch(() => {});
  return new EngineError("upstream-error", `the upstream answered ${status}`);
}

/**
 * Recognise context-overflow errors of common servers, from their structure
 * and fixed wording only: OpenAI and vLLM `code: "context_length_exceeded"`
 * or "maximum context length is N tokens … (P in the messages, C in the
 * completion)", llama.cpp server `type: "exceed_context_size_error"`.
 */
function classifyBadRequest(text: string | undefined): "context" | "max-tokens" | undefined {
  if (text === undefined) return undefined;
  let error: unknown;
  try {
    error = field(JSON.parse(text) as unknown, "error");
  } catch {
    return undefined;
  }
  const code = field(error, "code");
  const type = field(error, "type");
  const message = typeof error === "string" ? error : field(error, "message");
  const words = typeof message === "string" ? message : "";
  const split =
    /maximum context length is (\d+)[\s\S]*?\((\d+) in the (?:messages|prompt)[^,]*, (\d+) in the completion\)/.exec(
      words,
    );
  if (split !== null) return Number(split[2]) >= Number(split[1]) ? "context" : "max-tokens";
  if (code === "context_length_exceeded" || type === "exceed_context_size_error") return "context";
  if (/maximum context length|exceeds the available context|context length exceeded/i.test(words)) return "context";
  return undefined;
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. */
function parseRetryAfter(value: string | null): number {
  if (value === null) return DEFAULT_RETRY_AFTER_SECONDS;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed), 86_400);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return DEFAULT_RETRY_AFTER_SECONDS;
  return Math.max(0, Math.min(Math.ceil((date - Date.now()) / 1000), 86_400));
}

/** The body as text, or undefined past `limit` bytes (the rest is not read). */
async function readLimited(response: Response, limit: number): Promise<string | undefined> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString("utf8");
}

/** A transport failure as an EngineError: "aborted" when the request went away, else "upstream-error". */
function failure(error: unknown, requestSignal: AbortSignal, cancelled: AbortSignal, timedOut: boolean): EngineError {
  if (error instanceof EngineError) return error;
  if (!timedOut && (requestSignal.aborted || cancelled.aborted)) return abortedError();
  return new EngineError("upstream-error", timedOut ? "the upstream timed out" : "the upstream is unreachable", {
    cause: error,
  });
}

function normalizeBaseURL(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RangeError("baseURL is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError("baseURL must be http or https");
  if (url.username !== "" || url.password !== "") throw new RangeError("baseURL must not carry credentials");
  if (url.search !== "" || url.hash !== "") throw new RangeError("baseURL must not have a query or fragment");
  return url.href.replace(/\/+$/, "");
}

/** A property of a JSON object, or undefined for anything else. */
function field(value: unknown, name: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
}

function malformed(what: string): EngineError {
  return new EngineError("upstream-error", "the upstream sent a malformed response", {
    cause: new MalformedError("bad-value", what),
  });
}
