/**
 * The request validators and the body parser, without sockets: accepted
 * shapes map to the engine's types; anything else is a 400 HttpError naming a
 * field and never quoting a value (property-tested with marked strings).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseJsonObject } from "../../src/http/body.js";
import { HttpError } from "../../src/http/errors.js";
import { parseChatCompletion, parseCompletion, parseEmbedding } from "../../src/http/requests.js";
import { Router } from "../../src/http/router.js";

const MARK = "Qz7mark";

/** JSON values whose every string (keys excepted) carries MARK. */
const markedJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.string().map((s) => `${MARK}${s}`),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 4 }),
  ),
})).value;

const FIELDS = [
  "model",
  "messages",
  "prompt",
  "input",
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "seed",
  "stop",
  "stream",
  "stream_options",
  "n",
  "encoding_format",
  "tools",
  "logprobs",
  "response_format",
  "logit_bias",
];

/** Bodies made of known fields with arbitrary (marked) values, sometimes well-formed ones. */
const bodies = fc.dictionary(
  fc.constantFrom(...FIELDS),
  fc.oneof(
    markedJson,
    fc.constant("word-model"),
    fc.constant([{ role: "user", content: `${MARK} hi` }]),
    fc.constant([{ role: "user", content: [{ type: "text", text: `${MARK} hi` }] }]),
    fc.integer({ min: -2, max: 100 }),
  ),
  { maxKeys: 10 },
);

function checkOutcome(run: () => unknown): void {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof HttpError, "only HttpError escapes");
    assert.equal(err.status, 400);
    assert.equal(err.message.includes(MARK), false);
    assert.equal(err.publicMessage.includes(MARK), false);
    assert.equal(JSON.stringify(err.toBody()).includes(MARK), false);
  }
}

describe("request validators", () => {
  it("random bodies yield a value or a 400 HttpError that never quotes the input", () => {
    fc.assert(
      fc.property(bodies, (body) => {
        checkOutcome(() => parseChatCompletion(body));
        checkOutcome(() => parseCompletion(body));
        checkOutcome(() => parseEmbedding(body));
      }),
      { numRuns: 2000 },
    );
  });

  it("random bytes as a body yield an object or invalid_json", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const value = parseJsonObject(Buffer.from(bytes));
          assert.equal(typeof value, "object");
        } catch (err) {
          assert.ok(err instanceof HttpError);
          assert.equal(err.code, "invalid-json");
        }
      }),
    );
    fc.assert(
      fc.property(markedJson, (value) => {
        checkOutcome(() => parseJsonObject(Buffer.from(JSON.stringify(value) ?? "")));
      }),
    );
  });

  it("maps a full chat request to engine parameters", () => {
    const input = parseChatCompletion({
      model: "m",
      messages: [
        { role: "developer", content: "d" },
        {
          role: "system",
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
        { role: "user", content: "u", name: "x" },
        { role: "assistant", content: null, tool_calls: [] },
      ],
      max_completion_tokens: 9,
      temperature: 0,
      top_p: 0.5,
      seed: 42,
      stop: "END",
      stream: true,
      stream_options: { include_usage: true },
      n: 1,
      tool_choice: "none",
      response_format: { type: "text" },
      presence_penalty: 0,
      logit_bias: {},
    });
    assert.deepEqual(input, {
      model: "m",
      messages: [
        { role: "system", content: "d" },
        { role: "system", content: "a\nb" },
        { role: "user", content: "u" },
        { role: "assistant", content: "" },
      ],
      params: { maxTokens: 9, temperature: 0, topP: 0.5, seed: 42, stop: ["END"] },
      maxTokensParam: "max_completion_tokens",
      stream: true,
      includeUsage: true,
    });
  });

  it("applies OpenAI's defaults and treats null as absent", () => {
    const chat = parseChatCompletion({
      model: "m",
      messages: [{ role: "user", content: "x" }],
      stop: null,
      seed: null,
    });
    assert.deepEqual(chat.params, { maxTokens: undefined, temperature: 1, topP: 1, seed: undefined, stop: [] });
    assert.equal(chat.stream, false);
    const text = parseCompletion({ model: "m", prompt: "p" });
    assert.equal(text.params.maxTokens, 16);
    assert.equal(text.maxTokensParam, undefined);
    const embed = parseEmbedding({ model: "m", input: "x" });
    assert.deepEqual(embed, { model: "m", input: ["x"], encodingFormat: "float" });
  });

  it("rejects each invalid field with its name as param", () => {
    const chat = { model: "m", messages: [{ role: "user", content: "x" }] };
    const cases: [() => unknown, string, string][] = [
      [
        () => parseChatCompletion({ ...chat, max_tokens: 3, max_completion_tokens: 4 }),
        "max_completion_tokens",
        "invalid-request",
      ],
      [() => parseChatCompletion({ ...chat, stop: ["a", ""] }), "stop[1]", "invalid-request"],
      [() => parseChatCompletion({ ...chat, top_p: 1.01 }), "top_p", "invalid-request"],
      [() => parseChatCompletion({ ...chat, temperature: Number.NaN }), "temperature", "invalid-request"],
      [() => parseChatCompletion({ ...chat, messages: [null] }), "messages[0]", "invalid-request"],
      [
        () => parseChatCompletion({ ...chat, messages: [{ role: "toString", content: "x" }] }),
        "messages[0].role",
        "invalid-request",
      ],
      [
        () => parseChatCompletion({ ...chat, messages: [{ role: "assistant", content: "x", tool_calls: [{}] }] }),
        "messages[0].tool_calls",
        "unsupported",
      ],
      [() => parseChatCompletion({ ...chat, modalities: ["text", "audio"] }), "modalities", "unsupported"],
      [() => parseChatCompletion({ ...chat, logit_bias: { "1": 5 } }), "logit_bias", "unsupported"],
      [() => parseCompletion({ model: "m", prompt: ["a", "b"] }), "prompt", "unsupported"],
      [() => parseCompletion({ model: "m", prompt: [] }), "prompt", "invalid-request"],
      [() => parseCompletion({ model: "m", prompt: "p", echo: true }), "echo", "unsupported"],
      [() => parseCompletion({ model: "m", prompt: "p", best_of: 2 }), "best_of", "unsupported"],
      [() => parseCompletion({ model: "m", prompt: "p", suffix: "s" }), "suffix", "unsupported"],
      [
        () => parseCompletion({ model: "m", prompt: "p", max_completion_tokens: 5, max_tokens: "5" }),
        "max_tokens",
        "invalid-request",
      ],
      [() => parseEmbedding({ model: "m", input: [""] }), "input[0]", "invalid-request"],
      [() => parseEmbedding({ model: "m", input: "" }), "input", "invalid-request"],
      [() => parseEmbedding({ model: "m", input: ["a", 3] }), "input", "unsupported"],
      [() => parseEmbedding({ model: "m", input: ["a", {}] }), "input[1]", "invalid-request"],
      [() => parseEmbedding({ model: "m", input: "a", encoding_format: "int8" }), "encoding_format", "invalid-request"],
      [() => parseEmbedding({ model: "m", input: "a", dimensions: 4 }), "dimensions", "unsupported"],
      [() => parseEmbedding({ model: "m", input: new Array(2049).fill("a") }), "input", "invalid-request"],
    ];
    for (const [run, param, code] of cases) {
      assert.throws(run, (err: unknown) => {
        assert.ok(err instanceof HttpError);
        assert.equal(err.param, param);
        assert.equal(err.code, code);
        return true;
      });
    }
  });

  it("ignores inherited properties (no prototype lookups)", () => {
    const body = JSON.parse('{"__proto__": {"model": "m"}, "messages": [{"role": "user", "content": "x"}]}') as Record<
      string,
      unknown
    >;
    assert.throws(
      () => parseChatCompletion(body),
      (err: unknown) => err instanceof HttpError && err.param === "model",
    );
  });
});

describe("router", () => {
  const handler = () => {};
  const router = new Router([
    { method: "GET", path: "/v1/models", handler },
    { method: "GET", path: "/v1/models/{id}", handler },
    { method: "POST", path: "/v1/chat/completions", handler },
    { method: "DELETE", path: "/v1/models/{id}", handler },
  ]);

  it("matches exact paths and decoded parameters", () => {
    assert.equal(router.match("GET", "/v1/models").kind, "found");
    const found = router.match("GET", "/v1/models/org%2Fname");
    assert.ok(found.kind === "found");
    assert.deepEqual({ ...found.params }, { id: "org/name" });
    assert.equal(found.route.path, "/v1/models/{id}");
  });

  it("tells a wrong method from an unknown path", () => {
    assert.deepEqual(router.match("POST", "/v1/models/x"), {
      kind: "wrong-method",
      template: "/v1/models/{id}",
      allow: "GET, DELETE",
    });
    assert.equal(router.match("GET", "/v1/models/").kind, "none");
    assert.equal(router.match("GET", "/v1/models/a/b").kind, "none");
    assert.equal(router.match("GET", "/v1/models/%E0%A4%A").kind, "none");
    assert.equal(router.match("GET", "/v1/chat/completions/").kind, "none");
    assert.equal(router.match(undefined, "/v1/models").kind, "wrong-method");
  });

  it("refuses duplicate and relative routes", () => {
    assert.throws(
      () =>
        new Router([
          { method: "GET", path: "/a", handler },
          { method: "GET", path: "/a", handler },
        ]),
    );
    assert.throws(() => new Router([{ method: "GET", path: "a", handler }]));
  });
});
