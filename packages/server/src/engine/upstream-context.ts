/**
 * The context window of an upstream model, asked the way each engine answers
 * it. OpenAI's `GET /v1/models` has no such field, so every engine has its own:
 *
 * - vLLM (and Veritee itself): `max_model_len` on each `/v1/models` entry;
 * - llama.cpp server: `GET /props` → `default_generation_settings.n_ctx` (the
 *   context per slot it was started with, tools/server/README.md "GET /props");
 * - Ollama: `POST /api/show {"model": ID}` → the `num_ctx` in `parameters` when
 *   the model file sets one, else `model_info["<arch>.context_length"]` with
 *   `<arch>` = `model_info["general.architecture"]` (docs/api.md "Show Model
 *   Information").
 *
 * An answer nobody gives is `undefined` ("unknown"), never 0: the HTTP layer
 * then leaves the limit to the upstream, which rejects an oversized request
 * itself (mapped to `max-tokens-exceeded`/`context-length-exceeded`).
 */

/** Fetch a JSON document from the upstream's origin; `undefined` when it does not answer with JSON. */
export type ProbeJson = (path: string, init?: { readonly method: "POST"; readonly body: unknown }) => Promise<unknown>;

/** A positive safe integer, else undefined. */
export function contextLength(value: unknown): number | undefined {
  return Number.isSafeInteger(value) && (value as number) > 0 ? (value as number) : undefined;
}

/** `max_model_len` of one `/v1/models` entry (vLLM). */
export function contextFromModelEntry(entry: unknown): number | undefined {
  return contextLength(field(entry, "max_model_len"));
}

/** llama.cpp server's `GET /props` answer. */
export function contextFromLlamaCppProps(props: unknown): number | undefined {
  return contextLength(field(field(props, "default_generation_settings"), "n_ctx"));
}

/** Ollama's `POST /api/show` answer: the configured `num_ctx`, else the architecture's context length. */
export function contextFromOllamaShow(show: unknown): number | undefined {
  const parameters = field(show, "parameters");
  if (typeof parameters === "string") {
    // One "name value" pair per line, e.g. "num_ctx                        8192".
    const match = /^num_ctx\s+(\d{1,9})\s*$/m.exec(parameters);
    const configured = match ? contextLength(Number(match[1])) : undefined;
    if (configured !== undefined) return configured;
  }
  const info = field(show, "model_info");
  const arch = field(info, "general.architecture");
  if (typeof arch !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(arch)) return undefined;
  return contextLength(field(info, `${arch}.context_length`));
}

/**
 * The context window of `model`: llama.cpp's `/props` first (one answer for
 * the whole server), then Ollama's `/api/show`; undefined when neither answers.
 */
export async function probeContextSize(probe: ProbeJson, model: string): Promise<number | undefined> {
  const props = contextFromLlamaCppProps(await probe("props"));
  if (props !== undefined) return props;
  return contextFromOllamaShow(await probe("api/show", { method: "POST", body: { model } }));
}

/** A property of a JSON object, or undefined for anything else. */
function field(value: unknown, name: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
}
