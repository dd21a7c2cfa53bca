/**
 * What the OpenAI routes see on a server of ONNX models: no model to chat
 * with. `/v1/models` lists none and the generation routes answer 404
 * (`model_not_found`); the models are served by the Open Inference Protocol
 * routes (http/inference-protocol.ts).
 */
import {
  type ChatRequest,
  type CompletionRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type Engine,
  EngineError,
  type Generation,
  type ModelInfo,
} from "../types.js";

/** The OpenAI side of an ONNX server. */
export class NoOpenAiModels implements Engine {
  readonly kind = "onnx" as const;
  readonly #close: () => Promise<void>;

  /** `close` ends what the server runs (the ONNX engine). */
  constructor(close: () => Promise<void>) {
    this.#close = close;
  }

  models(): readonly ModelInfo[] {
    return [];
  }

  chat(_request: ChatRequest): Promise<Generation> {
    return Promise.reject(new EngineError("model-not-found", "this server serves ONNX models through /v2"));
  }

  complete(_request: CompletionRequest): Promise<Generation> {
    return Promise.reject(new EngineError("model-not-found", "this server serves ONNX models through /v2"));
  }

  embed(_request: EmbeddingRequest): Promise<EmbeddingResult> {
    return Promise.reject(new EngineError("model-not-found", "this server serves ONNX models through /v2"));
  }

  close(): Promise<void> {
    return this.#close();
  }
}
