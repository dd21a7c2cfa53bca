/**
 * The attested server's throughput, against its floors:
 *  - streaming tokens/s for one client through `veritee serve --dev` (HTTP,
 *    SSE, the embedded engine) vs node-llama-cpp called directly in this
 *    process on the same model, prompt and settings. Goal ≥ 0.95.
 *  - 64 concurrent streaming clients: all complete, time to first token
 *    p50/p99, aggregate tokens/s, the server's peak RSS.
 * The server runs as its own process, as in production; rounds alternate.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { sharedPath } from "@veritee/testkit";
import { getLlama, LlamaCompletion } from "node-llama-cpp";
import { fmt } from "./harness.js";

const MODEL = sharedPath("models", "stories260K.gguf");
const PROMPT = "Once upon a time";
const TOKENS = 400;
const THREADS = 1; // the engine's default on this 2-core machine (cores − 1)
const CONTEXT = 2048;

async function startServer(parallel: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    // --allow-loader-env: the machine's NODE_OPTIONS, NODE_EXTRA_CA_CERTS, … are recorded, not refused (not under test).
    [
      path.resolve("packages/cli/bin/veritee.js"),
      ...["serve", "--dev", "--port", "0", "--parallel", String(parallel), "--allow-loader-env"],
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let seen = "";
    child.stdout?.on("data", (d: Buffer) => {
      seen += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(seen);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { child, url };
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
}

/** One streamed completion; returns time to first token, total time and completion tokens. */
async function streamOnce(url: string, maxTokens: number): Promise<{ ttft: number; total: number; tokens: number }> {
  const start = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "stories260K",
      prompt: PROMPT,
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  let ttft = -1;
  let tokens = 0;
  // Only the last bytes matter (usage comes in the final event): keeping the
  // client's own work per chunk constant keeps it off the server's CPU budget.
  let tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (ttft < 0) ttft = performance.now() - start;
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-512);
  }
  const m = /"completion_tokens":(\d+)/.exec(tail);
  if (m) tokens = Number(m[1]);
  return { ttft, total: performance.now() - start, tokens };
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export async function benchServer(): Promise<void> {
  // 1. One streaming client vs node-llama-cpp in process.
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never });
  const model = await llama.loadModel({ modelPath: MODEL });
  const context = await model.createContext({ contextSize: CONTEXT, sequences: 1, threads: THREADS, batchSize: 512 });
  const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
  const direct = async (): Promise<number> => {
    const start = performance.now();
    let tokens = 0;
    await completion.generateCompletion(PROMPT, {
      maxTokens: TOKENS,
      temperature: 0,
      onToken: (t) => {
        tokens += t.length;
      },
    });
    return tokens / ((performance.now() - start) / 1000);
  };
  const { child, url } = await startServer(1); // one sequence, as in the in-process baseline
  try {
    await direct();
    await streamOnce(url, TOKENS); // warm-up
    const ratios: number[] = [];
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < 7; round++) {
      const s = await streamOnce(url, TOKENS);
      const served = s.tokens / (s.total / 1000);
      const inProcess = await direct();
      ours.push(served);
      theirs.push(inProcess);
      ratios.push(served / inProcess);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log("\n## Generated tokens/s: one streaming client through the server vs node-llama-cpp in process");
    console.log("| server tok/s (median) | in-process tok/s (median) | ratio (median of 7 pairs; goal ≥ 0.95) |");
    console.log("| ---: | ---: | ---: |");
    console.log(`| ${fmt(median(ours))} | ${fmt(median(theirs))} | ${fmt(median(ratios))} |`);
  } finally {
    await stop(child);
    await context.dispose();
    await model.dispose();
  }

  // 2. 64 concurrent streaming clients.
  const clients = 64;
  const perClient = 64;
  const { child: server, url: url64 } = await startServer(4);
  try {
    await streamOnce(url64, 8);
    const start = performance.now();
    const results = await Promise.allSettled(Array.from({ length: clients }, () => streamOnce(url64, perClient)));
    const wall = (performance.now() - start) / 1000;
    const ok = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    const ttfts = ok.map((r) => r.ttft).sort((a, b) => a - b);
    const tokens = ok.reduce((a, r) => a + r.tokens, 0);
    const at = (q: number) => ttfts[Math.min(ttfts.length - 1, Math.floor(q * ttfts.length))] ?? Number.NaN;
    console.log(
      `\n## ${clients} concurrent streaming clients (${perClient} tokens each, 4 parallel sequences, queue for the rest)`,
    );
    console.log("| completed | TTFT p50 ms | TTFT p99 ms | aggregate tok/s | wall s | server peak RSS MiB |");
    console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
    console.log(
      `| ${ok.length}/${clients} | ${fmt(at(0.5))} | ${fmt(at(0.99))} | ${fmt(tokens / wall)} | ${fmt(wall)} | ${fmt(peakRssMiB(server.pid!))} |`,
    );
  } finally {
    await stop(server);
  }
}
