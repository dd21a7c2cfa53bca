/**
 * A child process serving either the handler under test (over a one-token
 * engine) or a bare `node:http` server answering the same JSON: a process of
 * its own, as a deployed server is, apart from the load generator. Sends its
 * port to the parent over IPC.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type ChatRequest,
  createHttpHandler,
  type Engine,
  type Generation,
  type ModelInfo,
  silentLogger,
  startHttpServer,
} from "@veritee/server";

const MODEL: ModelInfo = { id: "bench", created: 1, ownedBy: "bench", contextSize: 512 };
const RESULT = { finishReason: "length", promptTokens: 5, completionTokens: 1 } as const;

const DONE: Promise<IteratorResult<string>> = Promise.resolve({ done: true, value: undefined });
const TOKEN: Promise<IteratorResult<string>> = Promise.resolve({ done: false, value: "x" });
const RESOLVED = Promise.resolve(RESULT);

/**
 * An engine that "generates" one token at once, as cheaply as the contract
 * allows (a hand-written iterator: an async generator alone would cost more
 * than the HTTP layer being measured).
 */
const oneToken: Engine = {
  kind: "embedded",
  models: () => [MODEL],
  chat: (_request: ChatRequest): Promise<Generation> =>
    Promise.resolve({
      result: RESOLVED,
      [Symbol.asyncIterator]: () => {
        let first = true;
        return {
          next: () => {
            if (!first) return DONE;
            first = false;
            return TOKEN;
          },
        };
      },
    }),
  complete: () => Promise.reject(new Error("unused")),
  embed: () => Promise.reject(new Error("unused")),
  close: async () => {},
};

let served = 0;

async function main(): Promise<void> {
  const kind = process.argv[2] as "veritee" | "bare";
  let port: number;
  if (kind === "veritee") {
    const running = await startHttpServer(createHttpHandler({ engine: oneToken, logger: silentLogger }));
    port = running.port;
  } else {
    // The least a server must do: read and parse the body, build and serialize the
    // answer, and send it with the same headers (the same response bytes).
    const server = createServer({ noDelay: true }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { model: string };
        const text = JSON.stringify({
          // A counter: cheaper than the server's random ids, so the floor stays a floor.
          id: `chatcmpl-${(served++).toString(16).padStart(32, "0")}`,
          object: "chat.completion",
          created: Math.floor(Date.now() / 1000),
          model: body.model,
          choices: [
            {
              index: 0,
              message: { role: "assistant", content: "x", refusal: null },
              logprobs: null,
              finish_reason: "length",
            },
          ],
          usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
        });
        res.writeHead(200, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(text),
          "cache-control": "no-store",
          "x-content-type-options": "nosniff",
        });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  }
  process.send!(port);
}

void main();
