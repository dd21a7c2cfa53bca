/**
 * Validation of the three inference request bodies (OpenAI API reference:
 * "Create chat completion", "Create completion", "Create embeddings") into the
 * engine's types. Unknown fields are ignored, as OpenAI does, except features
 * this server cannot honour: silently dropping them would return something
 * other than what the client asked for, so they are rejected with 400
 * `unsupported_parameter`:
 *
 * - `n` ≠ 1, `best_of` ≠ 1 (one choice per request);
 * - tools and function calling (`tools`, `functions`, `tool_choice` other than
 *   "none", `tool` / `function` messages, assistant `tool_calls`);
 * - log probabilities (`logprobs`, `top_logprobs`), `echo`, `suffix`;
 * - non-empty `logit_bias`, non-zero `presence_penalty` / `frequency_penalty`;
 * - structured output (`response_format` other than text), `audio`,
 *   non-text `modalities`, `prediction`, `web_search_options`;
 * - non-text message parts (images, audio, files);
 * - token-array prompts and inputs, embedding `dimensions`.
 *
 * Each parser makes one pass over the body's own keys: absent fields cost
 * nothing, which matters at the request rates of small models.
 */
import type { ChatMessage, GenerationParams } from "../engine/types.js";
import {
  invalid,
  isObject,
  type JsonObject,
  type NumberRange,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  requiredString,
  unsupported,
} from "./fields.js";

/** Where the generation limit came from, to name it in a context-length error. */
export type MaxTokensParam = "max_tokens" | "max_completion_tokens";

/** Fields shared by chat and text completions after validation. */
export interface GenerationInput {
  readonly model: string;
  readonly params: GenerationParams;
  /** The field that set `params.maxTokens`, if any. */
  readonly maxTokensParam: MaxTokensParam | undefined;
  readonly stream: boolean;
  /** `stream_options.include_usage`: send a final chunk with usage. */
  readonly includeUsage: boolean;
}

/** A validated `POST /v1/chat/completions` body. */
export interface ChatCompletionInput extends GenerationInput {
  readonly messages: readonly ChatMessage[];
}

/** A validated `POST /v1/completions` body. */
export interface CompletionInput extends GenerationInput {
  readonly prompt: string;
}

/** A validated `POST /v1/embeddings` body. */
export interface EmbeddingInput {
  readonly model: string;
  readonly input: readonly string[];
  readonly encodingFormat: "float" | "base64";
}

/** Largest accepted token count; anything above is beyond every context anyway. */
const MAX_TOKENS_LIMIT = 0x7fffffff;
/** OpenAI's bound on embedding inputs per request. */
const MAX_EMBEDDING_INPUTS = 2048;
/** OpenAI's bound on stop sequences. */
const MAX_STOP = 4;
/** The legacy completions endpoint's documented default for `max_tokens`. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

const N_RANGE: NumberRange = { min: 1, max: 128 };
const TOKENS_RANGE: NumberRange = { min: 1, max: MAX_TOKENS_LIMIT };
const TEMPERATURE_RANGE: NumberRange = { min: 0, max: 2 };
const TOP_P_RANGE: NumberRange = { min: 0, max: 1, minExclusive: true };
const SEED_RANGE: NumberRange = { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
const PENALTY_RANGE: NumberRange = { min: -2, max: 2 };

/**
 * Validate a chat completion request.
 *
 * @example
 * ```ts
 * const input = parseChatCompletion(parseJsonObject(body));
 * ```
 */
export function parseChatCompletion(body: JsonObject): ChatCompletionInput {
  let model: unknown;
  let messages: unknown;
  const generation = new GenerationFields(true);
  for (const key in body) {
    if (!Object.hasOwn(body, key)) continue;
    const value = body[key];
    if (value === null) continue;
    if (key === "model") model = value;
    else if (key === "messages") messages = value;
    else if (!generation.take(key, value)) CHAT_CHECKS.get(key)?.(value, key);
  }
  const validModel = requiredString(model, "model");
  const validMessages = parseMessages(messages);
  const g = generation.finish(undefined);
  return {
    model: validModel,
    messages: validMessages,
    params: g.params,
    maxTokensParam: g.maxTokensParam,
    stream: g.stream,
    includeUsage: g.includeUsage,
  };
}

/** Validate a legacy text completion request. */
export function parseCompletion(body: JsonObject): CompletionInput {
  let model: unknown;
  let prompt: unknown;
  const generation = new GenerationFields(false);
  for (const key in body) {
    if (!Object.hasOwn(body, key)) continue;
    const value = body[key];
    if (value === null) continue;
    if (key === "model") model = value;
    else if (key === "prompt") prompt = value;
    else if (!generation.take(key, value)) COMPLETION_CHECKS.get(key)?.(value, key);
  }
  const validModel = requiredString(model, "model");
  const validPrompt = parsePrompt(prompt);
  const g = generation.finish(COMPLETIONS_DEFAULT_MAX_TOKENS);
  return {
    model: validModel,
    prompt: validPrompt,
    params: g.params,
    maxTokensParam: g.maxTokensParam,
    stream: g.stream,
    includeUsage: g.includeUsage,
  };
}

/** Validate an embeddings request. */
export function parseEmbedding(body: JsonObject): EmbeddingInput {
  let model: unknown;
  let raw: unknown;
  let format: unknown;
  for (const key in body) {
    if (!Object.hasOwn(body, key)) continue;
    const value = body[key];
    if (value === null) continue;
    if (key === "model") model = value;
    else if (key === "input") raw = value;
    else if (key === "encoding_format") format = value;
    else if (key === "dimensions") throw unsupported("dimensions", "reducing dimensions");
  }
  const validModel = requiredString(model, "model");
  let input: string[];
  if (raw === undefined) throw invalid("input", "is required");
  if (typeof raw === "string") {
    if (raw.length === 0) throw invalid("input", "must not be empty");
    input = [raw];
  } else if (Array.isArray(raw)) {
    if (raw.length === 0) throw invalid("input", "must not be an empty array");
    if (raw.length > MAX_EMBEDDING_INPUTS) throw invalid("input", `must have at most ${MAX_EMBEDDING_INPUTS} items`);
    input = [];
    for (let i = 0; i < raw.length; i++) {
      const item: unknown = raw[i];
      if (typeof item === "number" || Array.isArray(item)) throw unsupported("input", "token-array input");
      if (typeof item !== "string") throw invalid(`input[${i}]`, "must be a string");
      if (item.length === 0) throw invalid(`input[${i}]`, "must not be empty");
      input.push(item);
    }
  } else {
    throw invalid("input", "must be a string or an array of strings");
  }
  const encodingFormat = format ?? "float";
  if (encodingFormat !== "float" && encodingFormat !== "base64") {
    throw invalid("encoding_format", "must be 'float' or 'base64'");
  }
  return { model: validModel, input, encodingFormat };
}

const ROLES: ReadonlyMap<string, ChatMessage["role"]> = new Map([
  ["system", "system"],
  // OpenAI's newer name for system instructions; engines only know "system".
  ["developer", "system"],
  ["user", "user"],
  ["assistant", "assistant"],
]);

function parseMessages(raw: unknown): ChatMessage[] {
  if (raw === undefined) throw invalid("messages", "is required");
  if (!Array.isArray(raw)) throw invalid("messages", "must be an array");
  if (raw.length === 0) throw invalid("messages", "must be a non-empty array");
  const out: ChatMessage[] = [];
  for (let i = 0; i < raw.length; i++) {
    const message: unknown = raw[i];
    if (!isObject(message)) throw invalid(`messages[${i}]`, "must be an object");
    let roleValue: unknown;
    let content: unknown;
    for (const key in message) {
      if (!Object.hasOwn(message, key)) continue;
      const value = message[key];
      if (value === null) continue;
      if (key === "role") roleValue = value;
      else if (key === "content") content = value;
      else if (key === "tool_calls") {
        if (!Array.isArray(value) || value.length > 0) throw unsupported(`messages[${i}].tool_calls`, "tool calls");
      } else if (key === "function_call") {
        throw unsupported(`messages[${i}].function_call`, "function calls");
      }
    }
    const roleName = requiredString(roleValue, `messages[${i}].role`);
    if (roleName === "tool" || roleName === "function") throw unsupported(`messages[${i}].role`, "tool messages");
    const role = ROLES.get(roleName);
    if (role === undefined) {
      throw invalid(`messages[${i}].role`, "must be one of system, developer, user, assistant");
    }
    out.push({
      role,
      content: typeof content === "string" ? content : parseContent(content, i, role === "assistant"),
    });
  }
  return out;
}

/** Content that is not a plain string: absent (assistant only) or an array of text parts. */
function parseContent(content: unknown, i: number, optional: boolean): string {
  const path = `messages[${i}].content`;
  if (content === undefined) {
    if (optional) return "";
    throw invalid(path, "is required");
  }
  if (!Array.isArray(content)) throw invalid(path, "must be a string or an array of text parts");
  const texts: string[] = [];
  for (let j = 0; j < content.length; j++) {
    const part: unknown = content[j];
    const partPath = `${path}[${j}]`;
    if (!isObject(part)) throw invalid(partPath, "must be an object");
    const type = requiredString(part.type, `${partPath}.type`);
    if (type !== "text") throw unsupported(`${partPath}.type`, "non-text content");
    texts.push(requiredString(part.text, `${partPath}.text`));
  }
  return texts.join("\n");
}

function parsePrompt(raw: unknown): string {
  if (raw === undefined) throw invalid("prompt", "is required");
  if (typeof raw === "string") return raw;
  if (Array.isArray(raw)) {
    if (raw.length === 1 && typeof raw[0] === "string") return raw[0];
    if (raw.length > 0 && raw.every((x) => typeof x === "number" || Array.isArray(x))) {
      throw unsupported("prompt", "token-array input");
    }
    if (raw.length > 1 && raw.every((x) => typeof x === "string")) throw unsupported("prompt", "more than one prompt");
  }
  throw invalid("prompt", "must be a string or an array of one string");
}

/** Collects the generation fields during the pass over the body, then validates them. */
class GenerationFields {
  readonly #chat: boolean;
  #n: unknown;
  #maxTokens: unknown;
  #maxCompletionTokens: unknown;
  #temperature: unknown;
  #topP: unknown;
  #seed: unknown;
  #stop: unknown;
  #stream: unknown;
  #streamOptions: unknown;

  constructor(chat: boolean) {
    this.#chat = chat;
  }

  /** Keep `value` if `key` is a generation field; false otherwise. */
  take(key: string, value: unknown): boolean {
    switch (key) {
      case "n":
        this.#n = value;
        return true;
      case "max_tokens":
        this.#maxTokens = value;
        return true;
      case "max_completion_tokens":
        if (!this.#chat) return false;
        this.#maxCompletionTokens = value;
        return true;
      case "temperature":
        this.#temperature = value;
        return true;
      case "top_p":
        this.#topP = value;
        return true;
      case "seed":
        this.#seed = value;
        return true;
      case "stop":
        this.#stop = value;
        return true;
      case "stream":
        this.#stream = value;
        return true;
      case "stream_options":
        this.#streamOptions = value;
        return true;
      default:
        return false;
    }
  }

  finish(defaultMaxTokens: number | undefined): Omit<GenerationInput, "model"> {
    const n = optionalInteger(this.#n, N_RANGE, "n");
    if (n !== undefined && n !== 1) throw unsupported("n", "more than one choice");

    const maxTokens = optionalInteger(this.#maxTokens, TOKENS_RANGE, "max_tokens");
    const maxCompletionTokens = optionalInteger(this.#maxCompletionTokens, TOKENS_RANGE, "max_completion_tokens");
    if (maxTokens !== undefined && maxCompletionTokens !== undefined && maxTokens !== maxCompletionTokens) {
      throw invalid("max_completion_tokens", "must equal 'max_tokens' when both are given");
    }
    const maxTokensParam: MaxTokensParam | undefined =
      maxCompletionTokens !== undefined ? "max_completion_tokens" : maxTokens !== undefined ? "max_tokens" : undefined;

    const temperature = optionalNumber(this.#temperature, TEMPERATURE_RANGE, "temperature") ?? 1;
    const topP = optionalNumber(this.#topP, TOP_P_RANGE, "top_p") ?? 1;
    const seed = optionalInteger(this.#seed, SEED_RANGE, "seed");
    const stop = parseStop(this.#stop);

    const stream = optionalBoolean(this.#stream, false, "stream");
    let includeUsage = false;
    if (this.#streamOptions !== undefined) {
      if (!stream) throw invalid("stream_options", "is only allowed when 'stream' is true");
      if (!isObject(this.#streamOptions)) throw invalid("stream_options", "must be an object");
      const options = this.#streamOptions;
      const include = Object.hasOwn(options, "include_usage") ? options.include_usage : undefined;
      includeUsage = optionalBoolean(include, false, "stream_options.include_usage");
    }
    return {
      params: { maxTokens: maxCompletionTokens ?? maxTokens ?? defaultMaxTokens, temperature, topP, seed, stop },
      maxTokensParam,
      stream,
      includeUsage,
    };
  }
}

const NO_STOP: readonly string[] = Object.freeze([]);

function parseStop(raw: unknown): readonly string[] {
  if (raw === undefined) return NO_STOP;
  if (typeof raw === "string") {
    if (raw.length === 0) throw invalid("stop", "must not be empty");
    return [raw];
  }
  if (!Array.isArray(raw)) throw invalid("stop", "must be a string or an array of strings");
  if (raw.length > MAX_STOP) throw invalid("stop", `must have at most ${MAX_STOP} items`);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const item: unknown = raw[i];
    if (typeof item !== "string") throw invalid(`stop[${i}]`, "must be a string");
    if (item.length === 0) throw invalid(`stop[${i}]`, "must not be empty");
    out.push(item);
  }
  return out;
}

/** A check of a field this server may not support; it throws when the value asks for too much. */
type FeatureCheck = (value: unknown, name: string) => void;

const penalty: FeatureCheck = (value, name) => {
  const number = optionalNumber(value, PENALTY_RANGE, name);
  if (number !== undefined && number !== 0) throw unsupported(name, "a non-zero penalty");
};
const logitBias: FeatureCheck = (value, name) => {
  if (!isObject(value)) throw invalid(name, "must be an object");
  if (Object.keys(value).length > 0) throw unsupported(name, "logit bias");
};
/** Only an empty list is accepted. */
const emptyList =
  (what: string): FeatureCheck =>
  (value, name) => {
    if (!Array.isArray(value) || value.length > 0) throw unsupported(name, what);
  };
/** Only the given value is accepted. */
const only =
  (allowed: unknown, what: string): FeatureCheck =>
  (value, name) => {
    if (value !== allowed) throw unsupported(name, what);
  };
/** Any value but null is refused. */
const never =
  (what: string): FeatureCheck =>
  (_value, name) => {
    throw unsupported(name, what);
  };

const SHARED_CHECKS: Readonly<Record<string, FeatureCheck>> = {
  presence_penalty: penalty,
  frequency_penalty: penalty,
  logit_bias: logitBias,
};

const CHAT_CHECKS: ReadonlyMap<string, FeatureCheck> = new Map(
  Object.entries({
    ...SHARED_CHECKS,
    tools: emptyList("tool calling"),
    functions: emptyList("function calling"),
    tool_choice: only("none", "tool calling"),
    function_call: only("none", "function calling"),
    logprobs: (value, name) => {
      if (optionalBoolean(value, false, name)) throw unsupported(name, "returning log probabilities");
    },
    top_logprobs: never("returning log probabilities"),
    response_format: (value, name) => {
      if (!isObject(value)) throw invalid(name, "must be an object");
      if (value.type !== "text" || !Object.hasOwn(value, "type")) throw unsupported(name, "structured output");
    },
    audio: never("audio output"),
    modalities: (value, name) => {
      if (!(Array.isArray(value) && value.every((m) => m === "text"))) throw unsupported(name, "non-text output");
    },
    prediction: never("predicted outputs"),
    web_search_options: never("web search"),
  }),
);

const COMPLETION_CHECKS: ReadonlyMap<string, FeatureCheck> = new Map(
  Object.entries({
    ...SHARED_CHECKS,
    best_of: (value, name) => {
      const number = optionalInteger(value, TOKENS_RANGE, name);
      if (number !== undefined && number !== 1) throw unsupported(name, "more than one candidate");
    },
    echo: (value, name) => {
      if (optionalBoolean(value, false, name)) throw unsupported(name, "echoing the prompt");
    },
    logprobs: never("returning log probabilities"),
    suffix: only("", "a suffix"),
  }),
);
