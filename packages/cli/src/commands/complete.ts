/**
 * `veritee complete URL --policy FILE --prompt TEXT`: one completion for
 * scripts, through the verified channel. The server is verified first
 * (nothing is sent before); the completion streams to stdout and nothing
 * else goes there (the verification summary and any INSECURE label go to
 * stderr).
 */
import type { Session } from "@veritee/client/node";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";
import {
  checkServerUrl,
  loadPolicyFile,
  openSession,
  positiveInteger,
  TIMEOUT_HELP,
  timeoutsOption,
} from "../client-session.js";
import { listModels, streamText } from "../inference.js";
import { modelOutputWriter } from "../terminal-text.js";

interface Options {
  policy: string;
  prompt: string;
  model?: string;
  maxTokens?: string;
  temperature?: string;
  timeout?: string;
  rawOutput?: boolean;
}

/** `veritee complete`. */
export function registerComplete(program: Command): void {
  program
    .command("complete")
    .description(
      "verify a Veritee server, then print one completion of --prompt (streamed) through the attested channel",
    )
    .argument("<url>", "the server's API root, e.g. https://host:8443/v1")
    .requiredOption("--policy <file>", "the policy document (JSON)")
    .requiredOption("--prompt <text>", "the prompt to complete")
    .option("--model <id>", "the model (default: the server's first)")
    .option("--max-tokens <n>", "the most tokens to generate", "256")
    .option("--temperature <t>", "sampling temperature 0..2 (0: greedy)")
    .option("--timeout <seconds>", TIMEOUT_HELP)
    .option(
      "--raw-output",
      "print the model's output unfiltered on a terminal too (otherwise a terminal gets it without control sequences)",
    )
    .action(async (url: string, opts: Options) => {
      checkServerUrl(url);
      const maxTokens = positiveInteger(opts.maxTokens ?? "256", "--max-tokens");
      const temperature = parseTemperature(opts.temperature);
      const timeouts = timeoutsOption(opts.timeout);
      const policy = await loadPolicyFile(opts.policy);
      const session = await openSession(url, policy, timeouts ? { timeouts } : {});
      try {
        const model = opts.model ?? (await firstModel(session));
        const stream = streamText(session, "/completions", {
          model,
          prompt: opts.prompt,
          max_tokens: maxTokens,
          ...(temperature === undefined ? {} : { temperature }),
        });
        const write = modelOutputWriter(process.stdout, opts.rawOutput === true);
        for await (const text of stream) write(text);
        process.stdout.write("\n");
      } finally {
        await session.close();
      }
    });
}

/** `--temperature`: a number 0..2, or undefined for the server's default. */
export function parseTemperature(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Number(value);
  if (value.trim() === "" || !Number.isFinite(t) || t < 0 || t > 2) {
    throw new CliError("bad-argument", "--temperature must be a number 0..2");
  }
  return t;
}

/** The server's first model, asked through the verified session. */
export async function firstModel(session: Session): Promise<string> {
  const first = (await listModels(session))[0];
  if (first === undefined) throw new CliError("bad-argument", "the server lists no model: pass --model");
  return first;
}
