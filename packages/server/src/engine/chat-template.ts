/**
 * The plain-text chat template used for models whose GGUF has no
 * `tokenizer.chat_template` (base models such as stories260K). Models that
 * carry a template use it instead (see `embedded.ts`).
 *
 * Format (every message's content is inserted verbatim):
 *
 *     {system message 1}\n\n
 *     {system message 2}\n\n
 *     User: {user content}\n
 *     Assistant: {assistant content}\n
 *     User: {user content}\n
 *     Assistant:
 *
 * System messages, wherever they appear, come first in their original order,
 * each followed by a blank line; user and assistant turns follow in order, one
 * "Role: content" line each; the prompt ends with the assistant prefix
 * "Assistant:" (no trailing space: SentencePiece and BPE vocabularies attach a
 * word's leading space to the word, so the model writes " Hello" as one
 * token). The completion's single leading space is trimmed, and generation
 * stops at "\nUser:" so a base model that goes on to write the user's next
 * turn is cut there.
 *
 * A plain-text template cannot separate roles by construction: content that
 * itself contains "\nAssistant:" reads to the model like a turn boundary. Only
 * a model's own template with special tokens does better; this one is for
 * base models, which have no notion of roles anyway.
 */
import type { ChatMessage } from "./types.js";

/** A chat rendered for a model: the prompt text and the template's own stop strings. */
export interface ChatPrompt {
  /** The prompt text (tokenized after the model's BOS). */
  readonly text: string;
  /** Stop strings the template implies, applied in addition to the request's. */
  readonly stop: readonly string[];
  /** Trim one leading space from the completion (the space after the assistant prefix). */
  readonly trimLeadingSpace: boolean;
}

/**
 * Render `messages` with the default plain-text template.
 *
 * @example
 * defaultChatTemplate([
 *   { role: "system", content: "You tell short stories." },
 *   { role: "user", content: "Tell me about a cat." },
 * ]).text;
 * // "You tell short stories.\n\nUser: Tell me about a cat.\nAssistant:"
 */
export function defaultChatTemplate(messages: readonly ChatMessage[]): ChatPrompt {
  let text = "";
  for (const m of messages) if (m.role === "system") text += `${m.content}\n\n`;
  for (const m of messages) {
    if (m.role === "user") text += `User: ${m.content}\n`;
    else if (m.role === "assistant") text += `Assistant: ${m.content}\n`;
  }
  text += "Assistant:";
  return { text, stop: ["\nUser:"], trimLeadingSpace: true };
}
