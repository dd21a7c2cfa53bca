/**
 * `veritee chat URL --policy FILE`: an interactive, streaming chat with a
 * verified server. The server is verified before the first line is read;
 * the whole history goes with every turn (the server keeps no state). Lines
 * come from stdin, so it works in a terminal (with a prompt) and in a pipe
 * (one user turn per line, each reply on its own line of stdout). `/exit`
 * or the end of input ends it.
 */
import { createInterface } from "node:readline";
import type { Session } from "@veritee/client/node";
import type { Command } from "commander";
import {
  checkServerUrl,
  loadPolicyFile,
  openSession,
  positiveInteger,
  TIMEOUT_HELP,
  timeoutsOption,
} from "../client-session.js";
import { type ChatMessage, quotaRemaining, streamText } from "../inference.js";
import { modelOutputWriter } from "../terminal-text.js";
import { firstModel, parseTemperature } from "./complete.js";

interface Options {
  policy: string;
  model?: string;
  system?: string;
  maxTokens?: string;
  temperature?: string;
  timeout?: string;
  rawOutput?: boolean;
}

/** What one chat needs besides the session. */
export interface ChatLoopOptions {
  readonly model: string;
  readonly maxTokens: number;
  readonly temperature?: number;
  readonly system?: string;
  /** Called before each line is read (a terminal's prompt). */
  readonly prompt?: () => void;
  /** Called before each reply is written. */
  readonly beforeReply?: () => void;
  /** Where reply text goes, as it streams. */
  readonly write: (text: string) => void;
  /** Told a custodial deployment's remaining quota after each reply (`x-veritee-quota-remaining`). */
  readonly quota?: (remaining: string) => void;
}

/**
 * The chat loop: each non-empty line is a user turn; the reply streams to
 * `write` and joins the history that goes with the next turn.
 *
 * @returns the conversation.
 */
export async function chatLoop(
  session: Session,
  lines: AsyncIterable<string>,
  options: ChatLoopOptions,
): Promise<ChatMessage[]> {
  const history: ChatMessage[] = options.system ? [{ role: "system", content: options.system }] : [];
  options.prompt?.();
  for await (const line of lines) {
    if (line.trim() === "/exit") break;
    if (line.trim() !== "") {
      history.push({ role: "user", content: line });
      options.beforeReply?.();
      let reply = "";
      let remaining: string | undefined;
      for await (const delta of streamText(
        session,
        "/chat/completions",
        {
          model: options.model,
          messages: history,
          max_tokens: options.maxTokens,
          ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
        },
        (response) => {
          remaining = quotaRemaining(response);
        },
      )) {
        reply += delta;
        options.write(delta);
      }
      options.write("\n");
      if (remaining !== undefined) options.quota?.(remaining);
      history.push({ role: "assistant", content: reply });
    }
    options.prompt?.();
  }
  return history;
}

/** `veritee chat`. */
export function registerChat(program: Command): void {
  program
    .command("chat")
    .description("verify a Veritee server, then chat with it (streaming) through the attested channel")
    .argument("<url>", "the server's API root, e.g. https://host:8443/v1")
    .requiredOption("--policy <file>", "the policy document (JSON)")
    .option("--model <id>", "the model (default: the server's first)")
    .option("--system <text>", "a system message to start the conversation with")
    .option("--max-tokens <n>", "the most tokens per reply", "512")
    .option("--temperature <t>", "sampling temperature 0..2 (0: greedy)")
    .option("--timeout <seconds>", TIMEOUT_HELP)
    .option(
      "--raw-output",
      "print the model's output unfiltered on a terminal too (otherwise a terminal gets it without control sequences)",
    )
    .action(async (url: string, opts: Options) => {
      checkServerUrl(url);
      const maxTokens = positiveInteger(opts.maxTokens ?? "512", "--max-tokens");
      const temperature = parseTemperature(opts.temperature);
      const timeouts = timeoutsOption(opts.timeout);
      const policy = await loadPolicyFile(opts.policy);
      const session = await openSession(url, policy, timeouts ? { timeouts } : {});
      const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
      let rl: ReturnType<typeof createInterface> | undefined;
      try {
        const model = opts.model ?? (await firstModel(session));
        if (interactive) process.stderr.write(`chatting with ${model}; /exit or Ctrl-D to end\n`);
        // Made right before the loop iterates it: readline reads stdin at once, and lines it emits before
        // the loop's iterator exists would be lost.
        rl = createInterface({
          input: process.stdin,
          terminal: interactive,
          ...(interactive ? { output: process.stdout } : {}),
        });
        const lines = rl;
        rl.setPrompt("you> ");
        await chatLoop(session, lines, {
          model,
          maxTokens,
          ...(temperature === undefined ? {} : { temperature }),
          ...(opts.system ? { system: opts.system } : {}),
          ...(interactive
            ? { prompt: () => lines.prompt(), beforeReply: () => process.stdout.write("assistant> ") }
            : {}),
          write: modelOutputWriter(process.stdout, opts.rawOutput === true),
          // On stderr: stdout holds only the replies.
          quota: (remaining) => process.stderr.write(`(quota left: ${remaining})\n`),
        });
      } finally {
        rl?.close();
        await session.close();
      }
    });
}
