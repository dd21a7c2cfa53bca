/**
 * Incremental detokenization that never yields a broken character.
 *
 * A token is a byte string, not a character string: byte-fallback tokens
 * (SentencePiece `<0xE2>`) and byte-level BPE tokens can end in the middle of
 * a multi-byte UTF-8 sequence. node-llama-cpp's `detokenize` decodes the bytes
 * it is given, so an incomplete sequence comes back as U+FFFD. The decoder
 * keeps such tokens pending until the character completes, and detokenizes
 * them together with the tokens that precede them, so tokenizer rules that
 * depend on the previous token apply as they would to the whole text:
 * SentencePiece drops the leading space of a text's first token only, so a
 * token's text is `detokenize(context + token)` minus `detokenize(context)`.
 */

/** Text of `tokens` decoded as the start of a text (llama.cpp `llama_detokenize`). */
export type Detokenize<T> = (tokens: readonly T[]) => string;

const REPLACEMENT = "\uFFFD";
/**
 * A UTF-8 character has at most 4 bytes (RFC 3629 §3), so it spans at most 4
 * tokens; 8 leaves room for an invalid byte the model produced just before a
 * character. Past this, a trailing U+FFFD is genuine and is released.
 */
const MAX_PENDING = 8;
/** Context tokens kept before the pending ones; a few suffice for every tokenizer's spacing rules. */
const CONTEXT_TOKENS = 16;
/** The context grows to this before it is cut back (and re-detokenized), so most tokens cost one detokenize call. */
const CONTEXT_SLACK = 64;

/**
 * Turns generated tokens into text chunks that are always whole characters.
 *
 * @example
 * const d = new TokenTextDecoder((t) => model.detokenize(t), promptTokens);
 * for (const t of tokens) out += d.push(t);
 * out += d.flush();
 */
export class TokenTextDecoder<T> {
  readonly #detokenize: Detokenize<T>;
  #context: T[];
  #contextText: string;
  /** detokenize(context + pending) from the last #pendingText, when its prefix was the context's text. */
  #full: string | undefined;
  #pending: T[] = [];

  /** `context`: the tokens before the first generated one (the prompt), for spacing rules. */
  constructor(detokenize: Detokenize<T>, context: readonly T[]) {
    this.#detokenize = detokenize;
    this.#context = context.slice(-CONTEXT_TOKENS);
    this.#contextText = this.#context.length === 0 ? "" : detokenize(this.#context);
  }

  /** Add one token; returns the text that is now complete (possibly ""). */
  push(token: T): string {
    this.#pending.push(token);
    const text = this.#pendingText();
    if (text.endsWith(REPLACEMENT) && this.#pending.length < MAX_PENDING) return "";
    this.#commit();
    return text;
  }

  /** End of generation: whatever is pending, even if it ends in an incomplete character. */
  flush(): string {
    if (this.#pending.length === 0) return "";
    const text = this.#pendingText();
    this.#commit();
    return text;
  }

  #pendingText(): string {
    this.#full = undefined;
    if (this.#context.length === 0) return this.#detokenize(this.#pending);
    const full = this.#detokenize([...this.#context, ...this.#pending]);
    // The context's text is a prefix of the longer text for every llama.cpp tokenizer; fall back if one ever differs.
    if (!full.startsWith(this.#contextText)) return this.#detokenize(this.#pending);
    this.#full = full;
    return full.slice(this.#contextText.length);
  }

  /** Move the pending tokens into the context. */
  #commit(): void {
    this.#context.push(...this.#pending);
    this.#pending = [];
    if (this.#context.length > CONTEXT_SLACK) this.#context = this.#context.slice(-CONTEXT_TOKENS);
    else if (this.#full !== undefined) {
      // The text of the grown context was just computed: no second detokenize call.
      this.#contextText = this.#full;
      return;
    }
    this.#contextText = this.#detokenize(this.#context);
  }
}
