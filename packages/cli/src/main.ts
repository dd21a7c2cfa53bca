import { Command, CommanderError } from "commander";
import { registerChat } from "./commands/chat.js";
import { registerComplete } from "./commands/complete.js";
import { registerCustodian } from "./commands/custodian.js";
import { registerEventlog } from "./commands/eventlog.js";
import { registerEvidence } from "./commands/evidence.js";
import { registerInfer } from "./commands/infer.js";
import { registerMeasure } from "./commands/measure.js";
import { registerModel } from "./commands/model.js";
import { registerServe } from "./commands/serve.js";
import { registerTpmAttest } from "./commands/tpm-attest.js";
import { registerTpmSim } from "./commands/tpm-sim.js";
import { registerVerifyQuote } from "./commands/tpm-verify-quote.js";
import { registerVerify } from "./commands/verify.js";
import { describeError, EXIT, exitCodeFor } from "./exit-codes.js";
import { configureHelpEverywhere } from "./help.js";

/** Build the `veritee` command tree. Exported for in-process tests. */
export function buildProgram(): Command {
  const program = new Command("veritee")
    .description("Veritee: confidential, verifiable AI inference — attest, verify, serve")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();

  const tpm = program.command("tpm").description("TPM 2.0: the development TPM, attestation and quote verification");
  registerTpmSim(tpm);
  registerTpmAttest(tpm);
  registerVerifyQuote(tpm);

  registerEventlog(program);
  registerEvidence(program);
  registerServe(program);
  registerMeasure(program);
  registerVerify(program);
  registerModel(program);
  registerCustodian(program);
  registerChat(program);
  registerComplete(program);
  registerInfer(program);

  // Every subcommand inherits exitOverride so that errors come back to main().
  const inherit = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().showHelpAfterError();
      inherit(sub);
    }
  };
  inherit(program);
  configureHelpEverywhere(program);
  return program;
}

/** Run the CLI with `argv` (as in process.argv) and return the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version land here with exit code 0; usage errors were already printed.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`veritee: ${describeError(error)}\n`);
    return exitCodeFor(error);
  }
}
