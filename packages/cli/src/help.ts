/**
 * One way to write defaults in every `--help`: a trailing `(default: VALUE)`,
 * the value as a user would type it (commander's own format quotes strings as
 * JSON and prints `(default: [])` for repeatable options). Repeatable
 * options without a value show none; an option whose default is not a plain
 * value says so in its description, in the same form.
 */
import type { Argument, Command, HelpConfiguration, Option } from "commander";

/** The text of a default value, or undefined when there is nothing worth printing. */
function defaultText(value: unknown, description: string | undefined): string | undefined {
  if (description !== undefined) return description;
  if (value === undefined || value === false) return undefined;
  if (Array.isArray(value)) return value.length === 0 || typeof value[0] === "object" ? undefined : value.join(", ");
  // A parsed structure has no faithful text: its option states the default in its description.
  if (typeof value === "object" || typeof value === "function") return undefined;
  return String(value);
}

function withExtras(description: string, extras: readonly string[]): string {
  return extras.length === 0 ? description : `${description} (${extras.join("; ")})`;
}

/** `configureHelp` settings for every command of the CLI. */
export const HELP_CONFIGURATION: HelpConfiguration = {
  optionDescription(option: Option): string {
    const extras: string[] = [];
    if (option.argChoices) extras.push(`one of: ${option.argChoices.join(", ")}`);
    const value = defaultText(option.defaultValue, option.defaultValueDescription);
    if (value !== undefined) extras.push(`default: ${value}`);
    if (option.envVar !== undefined) extras.push(`env: ${option.envVar}`);
    return withExtras(option.description, extras);
  },
  argumentDescription(argument: Argument): string {
    const extras: string[] = [];
    if (argument.argChoices) extras.push(`one of: ${argument.argChoices.join(", ")}`);
    const value = defaultText(argument.defaultValue, argument.defaultValueDescription);
    if (value !== undefined) extras.push(`default: ${value}`);
    return withExtras(argument.description, extras);
  },
};

/** Apply {@link HELP_CONFIGURATION} to `command` and all its subcommands. */
export function configureHelpEverywhere(command: Command): void {
  command.configureHelp(HELP_CONFIGURATION);
  for (const sub of command.commands) configureHelpEverywhere(sub);
}
