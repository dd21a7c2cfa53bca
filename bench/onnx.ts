/**
 * The ONNX engine (issue 13), ratios measured side by side in one run:
 * inferences per second of the conv classifier (@veritee/testkit/onnx)
 * through an attested `veritee serve --engine onnx` — verified by the SDK,
 * every request and response sealed — with JSON tensors and with binary
 * tensors, against onnxruntime-node run in this process on the same model
 * (the floor: no HTTP, no sealing, no tensor checks), at batch 1 and batch
 * 32, one request at a time, alternating rounds. Goal: ≥ 0.9 at batch 32
 * with binary tensors.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { connect } from "@veritee/client/node";
import { freePort, startVeritee, type VeriteeProcess } from "@veritee/e2e/support/process";
import { convClassifier, weights } from "@veritee/testkit/onnx";
import ort from "onnxruntime-node";
import { fmt } from "./harness.js";

const ROUND_MS = 1500;
const ROUNDS = 5;

/** Calls per second of `op`, sequentially, for `ms`. */
async function rate(op: () => Promise<unknown>, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    await op();
    n++;
  }
  return (n * 1000) / ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function benchOnnx(): Promise<void> {
  console.log("\n## ONNX: conv classifier inferences/s, attested server (sealed) vs onnxruntime-node in process");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-bench-onnx-"));
  const model = convClassifier({ size: 32, channels: 16 });
  const file = path.join(tmp, "conv.onnx");
  writeFileSync(file, model.bytes);
  const policyFile = path.join(tmp, "policy.json");
  let server: VeriteeProcess | undefined;
  try {
    server = await startVeritee(
      [
        ...["serve", "--dev", "--engine", "onnx", "--model", file, "--port", String(await freePort())],
        ...["--write-policy", policyFile],
      ],
      { ready: /listening on (http:\/\/\S+)[\s\S]*policy written/, timeoutMs: 120_000 },
    );
    const url = server.ready[1]!;
    const session = await connect({ baseURL: `${url}/v1`, policy: readFileSync(policyFile, "utf8") });
    const local = await ort.InferenceSession.create(model.bytes, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
    });
    const pixels = 3 * 32 * 32;
    for (const batch of [1, 32]) {
      const x = weights(batch * pixels, batch);
      const shape = [batch, 3, 32, 32];
      const inProcess = () => local.run({ x: new ort.Tensor("float32", x, shape) });
      const json = JSON.stringify({ inputs: [{ name: "x", shape, datatype: "FP32", data: Array.from(x) }] });
      const overJson = async () => {
        const r = await session.fetch(`${url}/v2/models/conv/infer`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: json,
        });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        await r.arrayBuffer();
      };
      const header = Buffer.from(
        JSON.stringify({
          inputs: [{ name: "x", shape, datatype: "FP32", parameters: { binary_data_size: x.byteLength } }],
          outputs: [{ name: "y", parameters: { binary_data: true } }],
        }),
      );
      const binaryBody = new Uint8Array(Buffer.concat([header, Buffer.from(x.buffer)]));
      const overBinary = async () => {
        const r = await session.fetch(`${url}/v2/models/conv/infer`, {
          method: "POST",
          headers: {
            "content-type": "application/octet-stream",
            "inference-header-content-length": String(header.length),
          },
          body: binaryBody,
        });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        await r.arrayBuffer();
      };
      await inProcess();
      await overJson();
      await overBinary();
      const rates = { local: [] as number[], json: [] as number[], binary: [] as number[] };
      const ratios = { json: [] as number[], binary: [] as number[] };
      for (let r = 0; r < ROUNDS; r++) {
        const l = await rate(inProcess, ROUND_MS);
        const j = await rate(overJson, ROUND_MS);
        const b = await rate(overBinary, ROUND_MS);
        rates.local.push(l);
        rates.json.push(j);
        rates.binary.push(b);
        ratios.json.push(j / l);
        ratios.binary.push(b / l);
      }
      console.log(
        `batch ${batch}: in process ${fmt(median(rates.local) * batch)} images/s; server binary ${fmt(median(rates.binary) * batch)}, JSON ${fmt(median(rates.json) * batch)}`,
      );
      console.log(
        `batch ${batch}: binary / in process ${median(ratios.binary).toFixed(2)}, JSON / in process ${median(ratios.json).toFixed(2)}${batch === 32 ? " (goal ≥ 0.9 binary)" : ""}`,
      );
    }
    await local.release();
    await session.close();
  } finally {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
