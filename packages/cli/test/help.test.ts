/**
 * `--help` written one way everywhere: defaults as a trailing
 * `(default: VALUE)` with the value as typed (no JSON quotes, no `[]` for
 * repeatable options, no `[object Object]`), and every command that prints
 * results offers `--json` where its siblings do.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "commander";
import { buildProgram } from "../src/main.js";

function commands(root: Command, prefix: string[] = []): { path: string[]; command: Command }[] {
  const all = [{ path: prefix, command: root }];
  for (const sub of root.commands) all.push(...commands(sub, [...prefix, sub.name()]));
  return all;
}

const program = buildProgram();

test("every default is written `(default: VALUE)`, VALUE as typed", () => {
  for (const { path, command } of commands(program)) {
    const help = command.helpInformation().replace(/\s+/g, " ");
    const where = `veritee ${path.join(" ")} --help`;
    assert.doesNotMatch(help, /\(default: \[\]\)/, `${where}: an empty default`);
    assert.doesNotMatch(help, /\(default: "/, `${where}: a JSON-quoted default`);
    assert.doesNotMatch(help, /\[object /, `${where}: an object default`);
    assert.doesNotMatch(help, /\bdefault\b(?!:)/, `${where}: a default not written "(default: …)"`);
    for (const match of help.matchAll(/default: /g)) {
      assert.equal(help[match.index - 1], "(", `${where}: "default:" not in parentheses at ${match.index}`);
    }
  }
});

test("the tpm sim subcommands all take --json", () => {
  const sim = program.commands.find((c) => c.name() === "tpm")!.commands.find((c) => c.name() === "sim")!;
  for (const sub of sim.commands) {
    assert.ok(
      sub.options.some((o) => o.long === "--json"),
      `veritee tpm sim ${sub.name()} has no --json`,
    );
  }
});
