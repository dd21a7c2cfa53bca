/**
 * Per-request overhead of the HTTP layer: requests/s of
 * `POST /v1/chat/completions` with `max_tokens: 1` through our handler
 * (routing, strict validation, limits, metrics, the OpenAI wire format) over
 * an engine that answers at once, against a bare `node:http` server that
 * parses the same body and sends the same response bytes. Each server is a
 * process of its own; rounds alternate; the median per-pair ratio is the
 * result. Goal ≥ 0.8.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fmt } from "./harness.js";
import { measure } from "./load.js";

const BODY = JSON.stringify({
  model: "bench",
  messages: [{ role: "user", content: "Say one word." }],
  max_tokens: 1,
  temperature: 0,
});
const REQUEST = [
  "POST /v1/chat/completions HTTP/1.1",
  "Host: 127.0.0.1",
  "Content-Type: application/json",
  "Authorization: Bearer sk-bench",
  `Content-Length: ${Buffer.byteLength(BODY)}`,
  "",
  BODY,
].join("\r\n");

async function startServer(kind: "veritee" | "bare"): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL("./http-overhead-server.js", import.meta.url), [kind], { stdio: "ignore", execArgv: [] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (message) => resolve(message as number));
    child.once("error", reject);
    child.once("exit", () => reject(new Error("the bench server exited")));
  });
  return { child, port };
}

export async function benchHttpOverhead(): Promise<void> {
  const veritee = await startServer("veritee");
  const bare = await startServer("bare");
  try {
    const connections = 16;
    await measure(veritee.port, REQUEST, connections, 400);
    await measure(bare.port, REQUEST, connections, 400);
    const ratios: number[] = [];
    let ours = 0;
    let theirs = 0;
    const rounds = 16;
    for (let round = 0; round < rounds; round++) {
      const [a, b] = round % 2 === 0 ? [veritee, bare] : [bare, veritee];
      const first = await measure(a.port, REQUEST, connections, 200);
      const second = await measure(b.port, REQUEST, connections, 200);
      const [v, w] = a === veritee ? [first, second] : [second, first];
      ratios.push(v / w);
      ours += v;
      theirs += w;
    }
    ratios.sort((x, y) => x - y);
    const ratio = (ratios[rounds / 2 - 1]! + ratios[rounds / 2]!) / 2;
    console.log(
      "\n## HTTP layer overhead: chat completions with max_tokens 1 (instant engine) vs a bare node:http server",
    );
    console.log("| ours req/s (mean) | bare req/s (mean) | ratio (median of 16 pairs; goal ≥ 0.8) |");
    console.log("| ---: | ---: | ---: |");
    console.log(`| ${fmt(ours / rounds)} | ${fmt(theirs / rounds)} | ${fmt(ratio)} |`);
  } finally {
    veritee.child.kill();
    bare.child.kill();
  }
}
