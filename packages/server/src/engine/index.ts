/**
 * Inference engines behind the OpenAI-compatible HTTP layer: `createEmbeddedEngine`
 * (llama.cpp in process) and `createUpstreamEngine` (an OpenAI-compatible
 * server inside the trust boundary), both implementing `Engine`.
 */
export type { ChatPrompt } from "./chat-template.js";
export { defaultChatTemplate } from "./chat-template.js";
export type {
  EmbeddedEngine,
  EmbeddedEngineOptions,
  EmbeddedEngineSettings,
  EngineLogger,
  EngineLogLevel,
} from "./embedded.js";
export { createEmbeddedEngine, defaultContextSize, defaultThreads, embeddedContextSize } from "./embedded.js";
export { engineBinaryPaths, engineFileMappings, isEngineFile } from "./native.js";
export type {
  ChatMessage,
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  Engine,
  EngineErrorCode,
  FinishReason,
  Generation,
  GenerationParams,
  GenerationResult,
  ModelInfo,
} from "./types.js";
export { EngineError } from "./types.js";
export type { UpstreamEngine, UpstreamEngineOptions } from "./upstream.js";
export { createUpstreamEngine } from "./upstream.js";
