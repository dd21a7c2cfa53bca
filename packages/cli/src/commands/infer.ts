/**
 * `veritee infer URL --model NAME --input NAME=JSON|NAME=@FILE.npy … --policy
 * FILE [--json]`: verify a Veritee server, then run one inference on one of
 * its ONNX models through the attested channel (the Open Inference Protocol,
 * `session.infer`). A JSON input takes the model's datatype and its shape
 * from its nesting (`--input 'x=[[1,2]]'` is a 1×2 tensor); a `.npy` file
 * brings its own dtype and shape, and is sent as a binary tensor. Outputs go
 * to stdout, one line each (name, datatype, shape, values) or as JSON.
 */
import { readFile } from "node:fs/promises";
import type { InferInput, InferOutput, TensorDatatype } from "@veritee/client/node";
import type { Command } from "commander";
import { CliError } from "../cli-error.js";
import { checkServerUrl, loadPolicyFile, openSession, TIMEOUT_HELP, timeoutsOption } from "../client-session.js";
import { out } from "../io.js";
import { decodeNpy } from "../npy.js";

interface Options {
  policy: string;
  model: string;
  input: string[];
  json?: boolean;
  timeout?: string;
}

/** The most values of an output printed on its line (all of them with --json). */
const PRINTED_VALUES = 16;

/** The shape of a nested JSON array, checked rectangular; the values flattened. */
function shapeOf(value: unknown, name: string): { shape: number[]; flat: unknown[] } {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
    if (shape.length > 8) throw new CliError("bad-argument", `--input ${name}: nested deeper than 8`);
  }
  const flat: unknown[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new CliError("bad-argument", `--input ${name}: not a rectangular array`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new CliError("bad-argument", `--input ${name}: not a rectangular array`);
    }
    for (const x of v) walk(x, depth + 1);
  };
  walk(value, 0);
  return { shape, flat };
}

async function parseInput(spec: string, datatypes: ReadonlyMap<string, TensorDatatype>): Promise<InferInput> {
  const at = spec.indexOf("=");
  if (at < 1) throw new CliError("bad-argument", "--input takes NAME=JSON or NAME=@FILE.npy");
  const name = spec.slice(0, at);
  const value = spec.slice(at + 1);
  if (value.startsWith("@")) {
    const file = value.slice(1);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(file));
    } catch {
      throw new CliError("file-not-found", `--input ${name}: cannot read ${file}`);
    }
    return decodeNpy(bytes, name, file);
  }
  const datatype = datatypes.get(name);
  if (!datatype) throw new CliError("bad-argument", `--input ${name}: the model has no such input`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new CliError("bad-argument", `--input ${name}: not JSON (e.g. --input '${name}=[[1,2]]')`);
  }
  const { shape, flat } = shapeOf(parsed, name);
  return { name, datatype, shape, data: flat };
}

function printable(o: InferOutput): unknown[] {
  return Array.from(o.data as ArrayLike<number | bigint>, (v) => (typeof v === "bigint" ? Number(v) : v));
}

/** `veritee infer`. */
export function registerInfer(program: Command): void {
  program
    .command("infer")
    .description(
      "verify a Veritee server, then run one inference on one of its ONNX models (Open Inference Protocol) through the attested channel",
    )
    .argument("<url>", "the server's API root, e.g. https://host:8443/v1")
    .requiredOption("--policy <file>", "the policy document (JSON)")
    .requiredOption("--model <name>", "the model (its file's base name on the server)")
    .requiredOption(
      "--input <name=value>",
      "an input: NAME=JSON (shape from the nesting, datatype from the model) or NAME=@FILE.npy; repeatable",
      (v: string, p: string[] = []) => [...p, v],
      [],
    )
    .option("--json", "print the outputs as JSON")
    .option("--timeout <seconds>", TIMEOUT_HELP)
    .action(async (url: string, opts: Options) => {
      checkServerUrl(url);
      const timeouts = timeoutsOption(opts.timeout);
      const policy = await loadPolicyFile(opts.policy);
      const session = await openSession(url, policy, timeouts ? { timeouts } : {});
      try {
        const root = session.baseURL.replace(/\/v1$/, "");
        const meta = await session.fetch(`${root}/v2/models/${encodeURIComponent(opts.model)}`);
        if (meta.status === 404) throw new CliError("bad-argument", `--model: the server has no model ${opts.model}`);
        if (!meta.ok) throw new CliError("bad-argument", `the server answered HTTP ${meta.status} for the model`);
        const info = (await meta.json()) as { inputs?: { name: string; datatype: TensorDatatype }[] };
        const datatypes = new Map((info.inputs ?? []).map((i) => [i.name, i.datatype]));
        const inputs = [];
        for (const spec of opts.input) inputs.push(await parseInput(spec, datatypes));
        const outputs = await session.infer(opts.model, inputs);
        if (opts.json) {
          out(
            JSON.stringify(
              {
                model_name: opts.model,
                outputs: outputs.map((o) => ({
                  name: o.name,
                  datatype: o.datatype,
                  shape: o.shape,
                  data: printable(o),
                })),
              },
              null,
              2,
            ),
          );
          return;
        }
        for (const o of outputs) {
          const values = printable(o);
          const shown = values.slice(0, PRINTED_VALUES).join(" ");
          out(
            `${o.name}  ${o.datatype}  [${o.shape.join(",")}]  ${shown}${values.length > PRINTED_VALUES ? " …" : ""}`,
          );
        }
      } finally {
        await session.close();
      }
    });
}
