/**
 * /metrics: Prometheus text format, counters that move with traffic, and
 * labels that carry only route templates, statuses, model ids and reasons.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Metrics } from "../../src/http/index.js";
import { startTestServer } from "./support/server.js";
import { WordEngine } from "./support/word-engine.js";

const MODEL = "word-model";

/** Parse exposition lines into name{labels} → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

describe("metrics", () => {
  it("counts requests, tokens, rejections; no request data in labels", async () => {
    const engine = new WordEngine({ delayMs: 10 });
    const t = await startTestServer(engine, { limits: { maxConcurrentRequests: 1 } });
    try {
      const scrape = async () => {
        const response = await fetch(`${t.url}/metrics`);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
        return response.text();
      };
      const before = samples(await scrape());
      assert.equal(before.get("veritee_http_requests_in_flight"), 1); // the scrape itself

      await t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "a b c" }],
        max_tokens: 3,
      });
      const stream = await t.client.completions.create({ model: MODEL, prompt: "p q", max_tokens: 5, stream: true });
      const rejected = await t.client.embeddings.create({ model: MODEL, input: "x" }).catch((err: unknown) => err);
      assert.equal((rejected as { status?: number }).status, 429);
      for await (const _ of stream);
      await t.client.embeddings.create({ model: MODEL, input: ["one two", "three"] });
      await fetch(`${t.url}/v1/secret-path-8c2d`);
      await t.client.models.retrieve("secret-model-8c2d").catch(() => {});

      const text = await scrape();
      const after = samples(text);
      assert.equal(after.get('veritee_http_requests_total{route="/v1/chat/completions",status="200"}'), 1);
      assert.equal(after.get('veritee_http_requests_total{route="/v1/completions",status="200"}'), 1);
      assert.equal(after.get('veritee_http_requests_total{route="/v1/embeddings",status="429"}'), 1);
      assert.equal(after.get('veritee_http_requests_total{route="/v1/embeddings",status="200"}'), 1);
      assert.equal(after.get('veritee_http_requests_total{route="unmatched",status="404"}'), 1);
      assert.equal(after.get('veritee_http_requests_total{route="/v1/models/{id}",status="404"}'), 1);
      assert.equal(after.get('veritee_http_requests_total{route="/metrics",status="200"}'), 1);
      assert.equal(after.get('veritee_http_rejections_total{reason="concurrency"}'), 1);
      // chat: "user: a b c" = 4 words + BOS; completion: "p q" + BOS; embeddings: 3 words.
      assert.equal(after.get('veritee_prompt_tokens_total{model="word-model"}'), 5 + 3 + 3);
      assert.equal(after.get('veritee_completion_tokens_total{model="word-model"}'), 3 + 5);
      assert.equal(after.get('veritee_generations_total{model="word-model"}'), 2);
      assert.equal(after.get('veritee_embedding_inputs_total{model="word-model"}'), 2);
      assert.ok(after.get('veritee_generation_seconds_total{model="word-model"}')! > 0.05);
      assert.ok(after.get('veritee_generation_tokens_per_second{model="word-model"}')! > 0);
      assert.equal(after.get('veritee_time_to_first_token_seconds_count{model="word-model"}'), 2);
      assert.equal(after.get('veritee_http_request_duration_seconds_count{route="/v1/chat/completions"}'), 1);
      assert.equal(
        after.get('veritee_http_request_duration_seconds_bucket{route="/v1/chat/completions",le="+Inf"}'),
        1,
      );
      assert.ok(after.get('veritee_http_request_duration_seconds_sum{route="/v1/chat/completions"}')! > 0.02);
      assert.equal(after.get("veritee_http_requests_in_flight"), 1);
      assert.ok(!text.includes("8c2d"));
      for (const line of text.split("\n")) {
        assert.match(line, /^(#.*|[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [0-9.e+-]+|)$/i);
      }
    } finally {
      await t.close();
    }
  });

  it("renders histograms cumulatively and escapes label values", () => {
    const metrics = new Metrics();
    metrics.requestStarted();
    metrics.requestEnded('/a"b\\c\nd', 200, 0.003);
    metrics.requestStarted();
    metrics.requestEnded('/a"b\\c\nd', 200, 0.2);
    const text = metrics.render();
    assert.ok(text.includes('route="/a\\"b\\\\c\\nd"'));
    const s = samples(text);
    const key = (le: string) => `veritee_http_request_duration_seconds_bucket{route="/a\\"b\\\\c\\nd",le="${le}"}`;
    assert.equal(s.get(key("0.005")), 1);
    assert.equal(s.get(key("0.1")), 1);
    assert.equal(s.get(key("0.25")), 2);
    assert.equal(s.get(key("+Inf")), 2);
    assert.equal(s.get("veritee_http_requests_in_flight"), 0);
  });
});
