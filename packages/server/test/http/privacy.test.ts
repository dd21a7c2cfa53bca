/**
 * The privacy rule: unique canary strings sent through every endpoint — in
 * prompts, completions, embedding inputs, stop strings, model names, URLs,
 * headers, malformed bodies, failing and aborted requests, and an engine
 * error's message — never reach a log line (at debug level), stdout, stderr,
 * an error body or /metrics.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { describe, it } from "node:test";
import { APIError } from "openai";
import { createHttpHandler, createJsonLogger, startHttpServer } from "../../src/http/index.js";
import { captureOutput } from "./support/capture.js";
import { startTestServer } from "./support/server.js";
import { WordEngine } from "./support/word-engine.js";

const MODEL = "word-model";

describe("no user data in logs, errors or metrics", () => {
  it("canaries through every endpoint, failing and aborted requests included", async () => {
    const tag = randomUUID().replaceAll("-", "");
    const canary = (n: number) => `cnry${n}x${tag}`;
    const capture = captureOutput();
    const lines: string[] = [];
    const logger = createJsonLogger({ level: "debug", write: (line) => lines.push(line) });
    const defaultLogger = createJsonLogger({ level: "debug" }); // writes to the captured stderr
    const both = {
      log: (...args: Parameters<typeof logger.log>) => {
        logger.log(...args);
        defaultLogger.log(...args);
      },
    };
    const engine = new WordEngine({ echo: true, delayMs: 20 });
    const t = await startTestServer(engine, { logger: both, limits: { requestTimeoutMs: 400 } });
    const errorBodies: string[] = [];
    const expectFailure = async (promise: Promise<unknown>): Promise<void> => {
      try {
        await promise;
      } catch (err) {
        if (err instanceof APIError) errorBodies.push(JSON.stringify(err.error), err.message);
        return;
      }
      assert.fail("expected a failure");
    };
    try {
      const c = t.client;
      // Successful requests, whose completions echo the canary back to the client.
      const chat = await c.chat.completions.create({
        model: MODEL,
        messages: [
          { role: "system", content: canary(1) },
          { role: "user", content: [{ type: "text", text: canary(2) }] },
        ],
        stop: [canary(3)],
        user: canary(4),
        max_tokens: 8,
      });
      assert.ok(chat.choices[0]!.message.content!.includes(canary(2)));
      const stream = await c.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: canary(5) }],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 4,
      });
      let streamed = "";
      for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? "";
      assert.ok(streamed.includes(canary(5)));
      const text = await c.completions.create({ model: MODEL, prompt: canary(6), max_tokens: 3 });
      assert.ok(text.choices[0]!.text.includes(canary(6)));
      const textStream = await c.completions.create({ model: MODEL, prompt: canary(7), max_tokens: 3, stream: true });
      for await (const _ of textStream);
      await c.embeddings.create({ model: MODEL, input: [canary(8), canary(9)] });
      await c.embeddings.create({ model: MODEL, input: canary(10), encoding_format: "float" });

      // Failing requests.
      await expectFailure(c.chat.completions.create({ model: canary(11), messages: [{ role: "user", content: "x" }] }));
      await expectFailure(c.models.retrieve(canary(12)));
      await expectFailure(c.embeddings.create({ model: canary(13), input: canary(14) }));
      await expectFailure(
        c.chat.completions.create({ model: MODEL, messages: [{ role: canary(15), content: canary(16) }] } as never),
      );
      await expectFailure(
        c.chat.completions.create({
          model: MODEL,
          messages: [{ role: "user", content: canary(17) }],
          temperature: canary(18),
        } as never),
      );
      await expectFailure(
        c.chat.completions.create({
          model: MODEL,
          messages: [{ role: "user", content: canary(19) }],
          stop: [1, canary(20)],
        } as never),
      );
      await expectFailure(c.completions.create({ model: MODEL, prompt: `${canary(21)} `.repeat(80) }));
      await expectFailure(c.completions.create({ model: MODEL, prompt: canary(22), max_tokens: 100 }));
      await expectFailure(
        c.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: canary(23).repeat(40_000) }] }),
      );
      for (const body of [`{"model":"${canary(24)}",`, `{"model": ${canary(25)}}`, `["${canary(26)}"]`]) {
        const response = await fetch(`${t.url}/v1/chat/completions`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${canary(27)}`,
            "x-custom": canary(28),
          },
          body,
        });
        errorBodies.push(await response.text());
      }
      for (const path of [`/v1/${canary(29)}`, `/v1/models/${canary(30)}?q=${canary(31)}`, `/healthz?${canary(32)}`]) {
        const response = await fetch(`${t.url}${path}`, { headers: { cookie: canary(33) } });
        errorBodies.push(await response.text());
      }
      // A non-standard method (llhttp accepts a fixed list; this one is on it but unrouted).
      errorBodies.push(await (await fetch(`${t.url}/v1/${canary(34)}`, { method: "PATCH" })).text());

      // A timed-out stream and an aborted one.
      const slow = await c.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `${canary(35)} `.repeat(30) }],
        stream: true,
        max_tokens: 30,
      });
      await expectFailure(
        (async () => {
          for await (const _ of slow) await new Promise((resolve) => setTimeout(resolve, 20));
        })(),
      );
      const aborted = await c.completions.create({
        model: MODEL,
        prompt: `${canary(36)} `.repeat(30),
        stream: true,
        max_tokens: 30,
      });
      let n = 0;
      for await (const _ of aborted) if (++n === 2) break;
      // A raw client that resets the connection half-way through its body.
      await new Promise<void>((resolve) => {
        const req = request(`${t.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", "content-length": "1000" },
        });
        req.on("error", () => resolve());
        req.write(`{"model":"word-model","messages":[{"role":"user","content":"${canary(37)}`);
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 30);
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      await t.close();

      // An engine whose errors carry the prompt (a buggy engine).
      const crashing = await startTestServer(new WordEngine({ crashWith: `failed on ${canary(38)}` }), {
        logger: both,
      });
      await expectFailure(
        crashing.client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: canary(38) }] }),
      );
      await expectFailure(crashing.client.embeddings.create({ model: MODEL, input: canary(38) }));
      await crashing.close();

      // The real default logger on a server of its own (writes to process.stderr).
      const plain = createHttpHandler({ engine: new WordEngine({ echo: true }) });
      const running = await startHttpServer(plain);
      await fetch(`${running.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, prompt: canary(39), max_tokens: 2 }),
      });
      await fetch(`${running.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, prompt: canary(40), max_tokens: "x" }),
      });
      await running.close();

      capture.stop();
      const output = capture.text();
      const logs = lines.join("");
      // The checks can fail: logs and metrics were written.
      assert.ok(lines.length >= 25, "request lines were logged");
      assert.ok(output.includes('"event":"request"'), "the default logger wrote to stderr");
      assert.ok(metrics.includes("veritee_http_requests_total"));
      assert.equal(errorBodies.length >= 20, true);
      for (const [name, text] of [
        ["logs", logs],
        ["stdout/stderr", output],
        ["metrics", metrics],
        ["error bodies", errorBodies.join("\n")],
      ] as const) {
        assert.equal(text.includes(tag), false, `a canary leaked into ${name}`);
      }
    } finally {
      capture.stop();
    }
  });
});
