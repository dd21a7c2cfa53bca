/**
 * The OpenAI response objects, field for field as the API reference (and the
 * official `openai` package's types) define them: `chat.completion`,
 * `chat.completion.chunk`, `text_completion`, `list` of `model` and of
 * `embedding`. Only builders live here; no I/O.
 */
import { randomFillSync } from "node:crypto";
import os from "node:os";
import type { FinishReason, GenerationResult, ModelInfo } from "../engine/types.js";

/** OpenAI's usage object. */
export interface WireUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

/** Random bytes drawn in bulk: one CSPRNG call serves 256 ids. */
const ID_BYTES = 16;
const idPool = Buffer.alloc(ID_BYTES * 256);
let idOffset = idPool.length;

/**
 * A fresh response id with OpenAI's prefix ("chatcmpl-", "cmpl-") and 128
 * random bits: unguessable, and unlike a counter it does not reveal how many
 * requests the server has served.
 */
export function responseId(prefix: "chatcmpl" | "cmpl"): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString("hex", idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return `${prefix}-${id}`;
}

/** Unix seconds, as every `created` field. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/** Usage from an engine result. */
export function usageOf(result: GenerationResult): WireUsage {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
  };
}

/** One `model` object. */
export function modelObject(model: ModelInfo): object {
  // max_model_len as vLLM names it, so that a Veritee (or any client) upstream of this server learns the context size.
  return {
    id: model.id,
    object: "model",
    created: model.created,
    owned_by: model.ownedBy,
    ...(model.contextSize === undefined ? {} : { max_model_len: model.contextSize }),
  };
}

/** `GET /v1/models`. */
export function modelList(models: readonly ModelInfo[]): object {
  return { object: "list", data: models.map(modelObject) };
}

/** Identity shared by every chunk of one response. */
export interface ResponseHead {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

/** A non-streamed chat completion. */
export function chatCompletion(head: ResponseHead, content: string, result: GenerationResult): object {
  return {
    id: head.id,
    object: "chat.completion",
    created: head.created,
    model: head.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, refusal: null },
        logprobs: null,
        finish_reason: result.finishReason,
      },
    ],
    usage: usageOf(result),
  };
}

/** A non-streamed text completion. */
export function textCompletion(head: ResponseHead, text: string, result: GenerationResult): object {
  return {
    id: head.id,
    object: "text_completion",
    created: head.created,
    model: head.model,
    choices: [{ text, index: 0, logprobs: null, finish_reason: result.finishReason }],
    usage: usageOf(result),
  };
}

/**
 * Serializes the chunks of one stream. The JSON prefix shared by all chunks is
 * built once; each chunk then costs one `JSON.stringify` of its text.
 */
export class ChunkEncoder {
  readonly #prefix: string;
  readonly #chat: boolean;
  /** With `include_usage`, every chunk carries `"usage":null` until the last one. */
  readonly #usageTail: string;

  constructor(kind: "chat" | "text", head: ResponseHead, includeUsage: boolean) {
    this.#chat = kind === "chat";
    const object = this.#chat ? "chat.completion.chunk" : "text_completion";
    this.#prefix = `{"id":${JSON.stringify(head.id)},"object":"${object}","created":${head.created},"model":${JSON.stringify(head.model)},"choices":`;
    this.#usageTail = includeUsage ? `,"usage":null}` : "}";
  }

  /** The first chat chunk announces the role (OpenAI sends it with empty content). */
  role(): string {
    return `${this.#prefix}[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]${this.#usageTail}`;
  }

  /** A chunk carrying generated text. */
  text(text: string): string {
    const t = JSON.stringify(text);
    return this.#chat
      ? `${this.#prefix}[{"index":0,"delta":{"content":${t}},"logprobs":null,"finish_reason":null}]${this.#usageTail}`
      : `${this.#prefix}[{"text":${t},"index":0,"logprobs":null,"finish_reason":null}]${this.#usageTail}`;
  }

  /** The chunk that ends the choice. */
  finish(reason: FinishReason): string {
    return this.#chat
      ? `${this.#prefix}[{"index":0,"delta":{},"logprobs":null,"finish_reason":"${reason}"}]${this.#usageTail}`
      : `${this.#prefix}[{"text":"","index":0,"logprobs":null,"finish_reason":"${reason}"}]${this.#usageTail}`;
  }

  /** `stream_options.include_usage`: a last chunk with no choices and the usage. */
  usage(result: GenerationResult): string {
    return `${this.#prefix}[],"usage":${JSON.stringify(usageOf(result))}}`;
  }
}

const LITTLE_ENDIAN = os.endianness() === "LE";

/**
 * An embedding as `encoding_format: "base64"` wants it: the float32 values,
 * little-endian, base64-encoded (what the `openai` package decodes by default).
 */
export function embeddingBase64(vector: Float32Array): string {
  if (LITTLE_ENDIAN) return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64");
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes.toString("base64");
}

/** `POST /v1/embeddings`. */
export function embeddingList(
  model: string,
  vectors: readonly Float32Array[],
  format: "float" | "base64",
  promptTokens: number,
): object {
  return {
    object: "list",
    data: vectors.map((vector, index) => ({
      object: "embedding",
      index,
      embedding: format === "base64" ? embeddingBase64(vector) : Array.from(vector),
    })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
