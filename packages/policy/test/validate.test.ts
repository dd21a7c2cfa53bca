/**
 * Policy validation: every field of schema version 1, each with a
 * wrong-type, missing, unknown-member and out-of-range case, naming its JSON
 * path; "any" exactly where the schema allows it; fail-closed rules for
 * production policies; and property tests that nothing but `PolicyError`
 * ever comes out of the validator.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MalformedError } from "@veritee/core";
import fc from "fast-check";
import {
  isPolicy,
  type Policy,
  PolicyError,
  parsePolicy,
  parsePolicyJson,
  policyFromReferenceValues,
} from "../src/index.js";
import {
  clone,
  deletePath,
  devPolicyJson,
  FIXTURE,
  getPath,
  googleRootPem,
  type JsonDoc,
  productionPolicyJson,
  setPath,
} from "./support/fixtures.js";

type Key = string | number;
const H = (c: string, n = 64) => c.repeat(n);
const ZERO = H("0");

function invalid(path: string, message?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof PolicyError, `expected a PolicyError, got ${String(e)}`);
    assert.equal(e.code, "invalid-policy");
    assert.equal(e.kind, "usage");
    assert.equal(e.path, path);
    assert.ok(e.message.includes(path === "" ? "the policy" : path), e.message);
    if (message) assert.match(e.message, message);
    return true;
  };
}

function withValue(base: () => JsonDoc, path: readonly Key[], value: unknown): JsonDoc {
  const doc = base();
  setPath(doc, path, value);
  return doc;
}

function without(base: () => JsonDoc, path: readonly Key[]): JsonDoc {
  const doc = base();
  deletePath(doc, path);
  return doc;
}

const prod = productionPolicyJson;
const swtpmRootPem = FIXTURE.ekRootsPem[0]!;

describe("parsePolicy accepts valid documents", () => {
  test("a production policy and a development policy validate; the result is a deep-frozen copy", () => {
    for (const make of [prod, devPolicyJson]) {
      const input = make();
      const policy = parsePolicy(input);
      assert.ok(isPolicy(policy));
      assert.deepEqual(clone(policy), input);
      assert.ok(Object.isFrozen(policy) && Object.isFrozen(policy.launch) && Object.isFrozen(policy.trust.ekRoots[0]));
      setPath(input, ["launch", "pcr"], 14);
      assert.equal(policy.launch.pcr, 15, "a later change to the input does not reach the policy");
      assert.equal(parsePolicy(policy), policy, "a validated policy passes as is");
      assert.ok(!isPolicy(clone(policy)), "a copy is not registered as validated");
    }
  });

  test("JSON text round-trips through parsePolicyJson", () => {
    const policy = parsePolicy(prod());
    assert.deepEqual(clone(parsePolicyJson(JSON.stringify(policy, null, 2))), clone(policy));
    assert.deepEqual(clone(parsePolicyJson(new TextEncoder().encode(JSON.stringify(policy)))), clone(policy));
  });

  test('"any" is accepted everywhere the schema allows it', () => {
    const doc = prod();
    setPath(doc, ["trust", "akProof"], "any");
    setPath(doc, ["allowInsecure"], ["akProof"]);
    setPath(doc, ["boot", "sha256"], "any");
    for (const field of ["codeBundle", "configuration", "runtime", "engineBinaries", "models"]) {
      setPath(doc, ["launch", field], "any");
    }
    const policy = parsePolicy(doc);
    assert.equal(policy.launch.models, "any");
    assert.equal(policy.boot.sha256, "any");
    const perEntry = prod();
    setPath(perEntry, ["boot", "sha256", "0"], "any");
    setPath(perEntry, ["launch", "models", "stories260K"], "any");
    setPath(perEntry, ["launch", "engineBinaries", "@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node"], "any");
    parsePolicy(perEntry);
  });

  test("empty allow-lists are valid (no engine binaries, no models) and newlines are allowed in the description", () => {
    const doc = prod();
    setPath(doc, ["launch", "engineBinaries"], {});
    setPath(doc, ["launch", "models"], {});
    setPath(doc, ["description"], "line one\nline two");
    setPath(doc, ["trust", "ekIntermediates"], []);
    setPath(doc, ["channel", "modes"], ["sealed"]);
    parsePolicy(doc);
  });

  test("a development policy may trust the swtpm local CA and zero boot PCRs", () => {
    const policy = parsePolicy(devPolicyJson());
    assert.equal(policy.development, true);
    assert.equal(policy.boot.sha256 === "any" ? undefined : policy.boot.sha256["0"], ZERO);
  });

  test('a model id "__proto__" stays data and pollutes nothing', () => {
    const doc = prod();
    setPath(doc, ["launch", "models", "__proto__"], H("f"));
    const policy = parsePolicy(doc);
    const models = policy.launch.models as Readonly<Record<string, unknown>>;
    assert.ok(Object.hasOwn(models, "__proto__"));
    assert.equal(Object.getPrototypeOf(models), Object.prototype);
    assert.equal(({} as Record<string, unknown>).stories260K, undefined);
    const fromText = parsePolicyJson(JSON.stringify(policy));
    assert.ok(Object.hasOwn(fromText.launch.models as object, "__proto__"));
  });
});

describe("parsePolicy refuses, naming the JSON path", () => {
  test("not an object", () => {
    for (const value of [null, [], "policy", 1, true, undefined, new Date()]) {
      assert.throws(() => parsePolicy(value), invalid("", /must be a JSON object/));
    }
  });

  test("version: missing, another version, another type", () => {
    assert.throws(() => parsePolicy(without(prod, ["version"])), invalid("version", /missing/));
    assert.throws(() => parsePolicy(withValue(prod, ["version"], 2)), invalid("version", /unsupported policy version/));
    assert.throws(() => parsePolicy(withValue(prod, ["version"], "1")), invalid("version", /the number 1/));
  });

  test("every member of every object is required", () => {
    const objects: [readonly Key[], readonly string[]][] = [
      [[], ["development", "description", "trust", "boot", "launch", "freshness", "channel"]],
      [["trust"], ["ekRoots", "ekIntermediates", "akProof"]],
      [
        ["trust", "ekRoots", 0],
        ["name", "pem"],
      ],
      [
        ["trust", "ekIntermediates", 0],
        ["name", "pem"],
      ],
      [["boot"], ["sha256"]],
      [["launch"], ["pcr", "codeBundle", "configuration", "runtime", "engineBinaries", "models"]],
      [["freshness"], ["maxAgeSeconds", "minNonceBytes"]],
      [["channel"], ["modes"]],
    ];
    for (const [path, members] of objects) {
      for (const m of members) {
        const expected = [...path, m]
          .map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`))
          .join("");
        assert.throws(() => parsePolicy(without(prod, [...path, m])), invalid(expected, /missing/), expected);
      }
    }
  });

  test("unknown members are errors at every level", () => {
    const places: [readonly Key[], string][] = [
      [["comment"], "comment"],
      [["trust", "akCertificates"], "trust.akCertificates"],
      [["trust", "ekRoots", 0, "der"], "trust.ekRoots[0].der"],
      [["boot", "sha1"], "boot.sha1"],
      [["launch", "kernel"], "launch.kernel"],
      [["freshness", "maxClockSkew"], "freshness.maxClockSkew"],
      [["channel", "ciphers"], "channel.ciphers"],
      [["odd name!"], '["odd name!"]'],
    ];
    for (const [path, shown] of places) {
      assert.throws(() => parsePolicy(withValue(prod, path, "any")), invalid(shown, /unknown member/), shown);
    }
  });

  test("development and description", () => {
    assert.throws(
      () => parsePolicy(withValue(prod, ["development"], "false")),
      invalid("development", /true or false/),
    );
    assert.throws(() => parsePolicy(withValue(prod, ["development"], 0)), invalid("development"));
    assert.throws(() => parsePolicy(withValue(prod, ["description"], 5)), invalid("description", /a string/));
    assert.throws(() => parsePolicy(withValue(prod, ["description"], "bell\u0007")), invalid("description", /control/));
    assert.throws(
      () => parsePolicy(withValue(prod, ["description"], "x".repeat(1025))),
      invalid("description", /1024/),
    );
  });

  test("trust: roots and intermediates", () => {
    const root = (pem: string, name = "r") => ({ name, pem });
    assert.throws(() => parsePolicy(withValue(prod, ["trust"], [])), invalid("trust", /an object/));
    assert.throws(() => parsePolicy(withValue(prod, ["trust", "ekRoots"], [])), invalid("trust.ekRoots", /empty/));
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekRoots"], "any")),
      invalid("trust.ekRoots", /an array/),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekIntermediates"], "any")),
      invalid("trust.ekIntermediates"),
    );
    assert.throws(
      () =>
        parsePolicy(
          withValue(
            prod,
            ["trust", "ekRoots"],
            Array.from({ length: 33 }, () => root(googleRootPem())),
          ),
        ),
      invalid("trust.ekRoots", /at most 32/),
    );
    assert.throws(() => parsePolicy(withValue(prod, ["trust", "ekRoots", 0], "pem")), invalid("trust.ekRoots[0]"));
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekRoots", 0, "name"], "")),
      invalid("trust.ekRoots[0].name"),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekRoots", 0, "name"], "a\nb")),
      invalid("trust.ekRoots[0].name", /control/),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekRoots", 0, "name"], "n".repeat(129))),
      invalid("trust.ekRoots[0].name", /128/),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekRoots", 0, "pem"], 7)),
      invalid("trust.ekRoots[0].pem"),
    );
    const pem = googleRootPem();
    const badPems = [
      "not a certificate",
      pem.replace("BEGIN CERTIFICATE", "BEGIN PUBLIC KEY"),
      `subject=CN=x\n${pem}`,
      `${pem}${pem}`,
      pem.replace(/\n[A-Za-z0-9+/]{8}/, "\n*"),
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
      "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
      `-----BEGIN CERTIFICATE-----\n${Buffer.from("not DER at all").toString("base64")}\n-----END CERTIFICATE-----`,
      // Core's strict PEM decoder: a mismatched END label, junk between blocks, a space inside a line.
      pem.replace("END CERTIFICATE", "END X509 CRL"),
      `${pem}junk\n${pem}`,
      pem.replace(/\n([A-Za-z0-9+/]{10})/, "\n$1 "),
    ];
    for (const bad of badPems) {
      assert.throws(
        () => parsePolicy(withValue(prod, ["trust", "ekRoots", 0, "pem"], bad)),
        invalid("trust.ekRoots[0].pem", /not a PEM X\.509 certificate/),
        bad.slice(0, 40),
      );
    }
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekRoots"], [root(pem, "a"), root(pem, "b")])),
      invalid("trust.ekRoots[1].pem", /repeats/),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekRoots"], [root(pem, "a"), root(swtpmRootPem, "a")])),
      invalid("trust.ekRoots[1].name", /twice/),
    );
    // CRLF line breaks and surrounding whitespace are fine.
    parsePolicy(withValue(prod, ["trust", "ekRoots", 0, "pem"], `\n  ${pem.replace(/\n/g, "\r\n")}  \n`));
  });

  test("the swtpm local CA only in a development policy", () => {
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekRoots", 0, "pem"], swtpmRootPem)),
      invalid("trust.ekRoots[0].pem", /swtpm local CA.*development/),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["trust", "ekIntermediates", 1, "pem"], swtpmRootPem)),
      invalid("trust.ekIntermediates[1].pem", /swtpm local CA/),
    );
    const dev = withValue(prod, ["trust", "ekRoots", 0, "pem"], swtpmRootPem);
    setPath(dev, ["development"], true);
    parsePolicy(dev);
  });

  test("trust.akProof", () => {
    for (const value of ["none", "", "ANY", 1, null, ["any"]]) {
      assert.throws(
        () => parsePolicy(withValue(prod, ["trust", "akProof"], value)),
        invalid("trust.akProof", /one of/),
      );
    }
  });

  test("boot.sha256: shape, PCR indices, digests", () => {
    const at = (...p: Key[]) => ["boot", "sha256", ...p];
    assert.throws(() => parsePolicy(withValue(prod, at(), [])), invalid("boot.sha256", /"any" or an object/));
    assert.throws(() => parsePolicy(withValue(prod, at(), "ANY")), invalid("boot.sha256"));
    assert.throws(() => parsePolicy(withValue(prod, at(), {})), invalid("boot.sha256", /at least one/));
    for (const index of ["08", "24", "-1", "x", "1.0", " 1", ""]) {
      assert.throws(
        () => parsePolicy(withValue(prod, at(index), H("5"))),
        invalid(index === "x" ? "boot.sha256.x" : `boot.sha256[${JSON.stringify(index)}]`, /not a PCR index/),
        index,
      );
    }
    assert.throws(
      () => parsePolicy(withValue(prod, at("15"), H("5"))),
      invalid('boot.sha256["15"]', /application PCR/),
    );
    parsePolicy(withValue(prod, at("23"), H("5")));
    assert.throws(
      () => parsePolicy(withValue(prod, at("0"), H("a", 63))),
      invalid('boot.sha256["0"]', /64 hex digits \(SHA-256\), not 63/),
    );
    assert.throws(() => parsePolicy(withValue(prod, at("0"), H("a", 40))), invalid('boot.sha256["0"]', /not 40/));
    assert.throws(() => parsePolicy(withValue(prod, at("0"), H("A"))), invalid('boot.sha256["0"]', /lower-case/));
    assert.throws(() => parsePolicy(withValue(prod, at("0"), `0x${H("a", 62)}`)), invalid('boot.sha256["0"]'));
    assert.throws(() => parsePolicy(withValue(prod, at("0"), [])), invalid('boot.sha256["0"]', /empty/));
    assert.throws(() => parsePolicy(withValue(prod, at("0"), [H("1"), H("1")])), invalid('boot.sha256["0"]', /twice/));
    assert.throws(
      () => parsePolicy(withValue(prod, at("0"), [H("1"), "any"])),
      invalid('boot.sha256["0"][1]', /SHA-256 digest/),
    );
    assert.throws(
      () =>
        parsePolicy(
          withValue(
            prod,
            at("0"),
            Array.from({ length: 65 }, (_, i) => i.toString(16).padStart(64, "0")),
          ),
        ),
      invalid('boot.sha256["0"]', /at most 64/),
    );
    assert.throws(() => parsePolicy(withValue(prod, at("0"), 0)), invalid('boot.sha256["0"]', /not a number/));
  });

  test("a production policy refuses zero firmware PCRs (0–7), in a list too; later PCRs may be zero", () => {
    assert.throws(
      () => parsePolicy(withValue(prod, ["boot", "sha256", "0"], ZERO)),
      invalid('boot.sha256["0"]', /zero/),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["boot", "sha256", "7"], [H("9"), ZERO])),
      invalid('boot.sha256["7"]', /development policy/),
    );
    parsePolicy(withValue(prod, ["boot", "sha256", "9"], ZERO));
  });

  test("launch: the application PCR and the digests", () => {
    for (const pcr of [7, 16, 15.5, "15", "any", null]) {
      assert.throws(() => parsePolicy(withValue(prod, ["launch", "pcr"], pcr)), invalid("launch.pcr"), String(pcr));
    }
    for (const field of ["codeBundle", "configuration", "runtime"]) {
      const path = `launch.${field}`;
      for (const bad of [H("a", 65), H("a", 62), "ANY", "", 5, null, {}, [], [H("a"), 1]]) {
        assert.throws(
          () => parsePolicy(withValue(prod, ["launch", field], bad)),
          (e: unknown) => {
            assert.ok(e instanceof PolicyError && e.code === "invalid-policy");
            assert.ok(e.path === path || e.path?.startsWith(`${path}[`), `${e.path} for ${JSON.stringify(bad)}`);
            return true;
          },
        );
      }
    }
  });

  test("launch.engineBinaries and launch.models: names and digests", () => {
    for (const field of ["engineBinaries", "models"]) {
      assert.throws(
        () => parsePolicy(withValue(prod, ["launch", field], [])),
        invalid(`launch.${field}`, /"any" or an object/),
      );
      assert.throws(() => parsePolicy(withValue(prod, ["launch", field], H("a"))), invalid(`launch.${field}`));
      assert.throws(
        () => parsePolicy(withValue(prod, ["launch", field], { "": H("a") })),
        invalid(`launch.${field}[""]`, /empty/),
      );
      assert.throws(
        () => parsePolicy(withValue(prod, ["launch", field], { "a\tb": H("a") })),
        invalid(`launch.${field}["a\\tb"]`, /control/),
      );
      const long = "m".repeat(257);
      assert.throws(
        () => parsePolicy(withValue(prod, ["launch", field], { [long]: H("a") })),
        (e: unknown) => e instanceof PolicyError && /longer than 256/.test(e.message) && e.path!.endsWith('…"]'),
      );
      assert.throws(
        () => parsePolicy(withValue(prod, ["launch", field], { ok: H("a", 10) })),
        invalid(`launch.${field}.ok`, /not 10/),
      );
    }
    const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, H("a")]));
    assert.throws(
      () => parsePolicy(withValue(prod, ["launch", "models"], tooMany)),
      invalid("launch.models", /at most 64/),
    );
    parsePolicy(withValue(prod, ["launch", "engineBinaries"], tooMany));
  });

  test("freshness", () => {
    for (const [value, ok] of [
      [0, false],
      [1, true],
      [86_400, true],
      [86_401, false],
      [1.5, false],
      ["300", false],
    ] as const) {
      const run = () => parsePolicy(withValue(prod, ["freshness", "maxAgeSeconds"], value));
      if (ok) run();
      else assert.throws(run, invalid("freshness.maxAgeSeconds"));
    }
    for (const [value, ok] of [
      [15, false],
      [16, true],
      [64, true],
      [65, false],
      [null, false],
    ] as const) {
      const run = () => parsePolicy(withValue(prod, ["freshness", "minNonceBytes"], value));
      if (ok) run();
      else assert.throws(run, invalid("freshness.minNonceBytes"));
    }
  });

  test("channel.modes", () => {
    assert.throws(() => parsePolicy(withValue(prod, ["channel", "modes"], [])), invalid("channel.modes", /empty/));
    assert.throws(
      () => parsePolicy(withValue(prod, ["channel", "modes"], "sealed")),
      invalid("channel.modes", /an array/),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["channel", "modes"], ["tls"])),
      invalid("channel.modes[0]", /one of/),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["channel", "modes"], ["sealed", "sealed"])),
      invalid("channel.modes", /twice/),
    );
    assert.throws(
      () => parsePolicy(withValue(prod, ["channel", "modes"], ["sealed", "attested-tls", "sealed"])),
      invalid("channel.modes", /at most 2/),
    );
  });
});

describe("parsePolicyJson", () => {
  test("refuses duplicate member names, which JSON.parse would silently resolve", () => {
    const text = JSON.stringify(prod(), null, 2).replace(
      '"codeBundle": ',
      `"codeBundle": "${H("0")}",\n    "codeBundle": `,
    );
    assert.doesNotThrow(() => JSON.parse(text));
    assert.throws(
      () => parsePolicyJson(text),
      (e: unknown) =>
        e instanceof PolicyError &&
        e.code === "invalid-policy" &&
        /duplicate member name/.test(e.message) &&
        e.cause instanceof MalformedError,
    );
  });

  test("refuses text that is not JSON, with a byte-order mark, or not UTF-8", () => {
    const good = JSON.stringify(prod());
    for (const bad of ["", "{", `${good}x`, `\ufeff${good}`, good.replace("{", "{,")]) {
      assert.throws(() => parsePolicyJson(bad), invalid("", /not valid JSON/));
    }
    assert.throws(() => parsePolicyJson(Uint8Array.of(0x7b, 0xff, 0x7d)), invalid("", /UTF-8/));
  });
});

describe("policyFromReferenceValues", () => {
  test("a development server's values make a valid development policy labelled INSECURE", () => {
    const policy = policyFromReferenceValues({ ...FIXTURE.referenceValues, ekRootsPem: FIXTURE.ekRootsPem });
    assert.ok(isPolicy(policy));
    assert.equal(policy.development, true);
    assert.match(policy.description, /INSECURE/);
    assert.equal(policy.trust.ekRoots[0]!.name, "swtpm-localca-rootca");
    assert.equal(policy.trust.akProof, "credential-activation");
    assert.deepEqual(clone(policy.launch.models), FIXTURE.referenceValues.launch.models);
    assert.deepEqual(clone(parsePolicyJson(JSON.stringify(policy))), clone(policy));
  });

  test("production values with a development CA or zero boot PCRs are refused", () => {
    const rv = { ...FIXTURE.referenceValues, ekRootsPem: FIXTURE.ekRootsPem, development: false };
    assert.throws(() => policyFromReferenceValues(rv), invalid("trust.ekRoots[0].pem", /swtpm/));
    assert.throws(
      () => policyFromReferenceValues({ ...rv, ekRootsPem: [googleRootPem()] }),
      invalid('boot.sha256["0"]', /zero/),
    );
  });

  test("duplicate subjects get distinct names", () => {
    const pem = googleRootPem();
    const policy = policyFromReferenceValues({
      ...FIXTURE.referenceValues,
      development: true,
      ekRootsPem: [pem],
      ekIntermediatesPem: [FIXTURE.ekRootsPem[0]!],
    });
    assert.equal(policy.trust.ekIntermediates.length, 1);
    assert.notEqual(policy.trust.ekRoots[0]!.name, "");
  });

  const digest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
  const name = fc
    .string({ minLength: 1, maxLength: 40, unit: "grapheme" })
    // biome-ignore lint/suspicious/noControlCharactersInRegex: names must not hold control characters
    .filter((s) => !/[\u0000-\u001f\u007f]/.test(s));

  test("property: the validator accepts whatever policyFromReferenceValues makes from reference values", () => {
    fc.assert(
      fc.property(
        fc.record({
          development: fc.boolean(),
          appPcr: fc.integer({ min: 8, max: 15 }),
          boot: fc.dictionary(fc.integer({ min: 0, max: 7 }).map(String), digest, { minKeys: 1 }),
          codeBundle: digest,
          configuration: digest,
          runtime: fc.oneof(digest, fc.constant("any")),
          engineBinaries: fc.dictionary(name, digest, { maxKeys: 8 }),
          models: fc.oneof(
            fc.dictionary(
              name,
              fc.array(digest, { minLength: 1, maxLength: 3 }).map((l) => [...new Set(l)]),
            ),
            fc.constant("any" as const),
          ),
          maxAgeSeconds: fc.integer({ min: 1, max: 86_400 }),
        }),
        (r) => {
          const policy = policyFromReferenceValues({
            development: r.development,
            appPcr: r.appPcr,
            bootPcrs: r.boot,
            launch: {
              codeBundle: r.codeBundle,
              configuration: r.configuration,
              runtime: r.runtime,
              engineBinaries: r.engineBinaries,
              models: r.models,
            },
            ekRootsPem: [googleRootPem()],
            maxAgeSeconds: r.maxAgeSeconds,
          });
          const again = parsePolicyJson(JSON.stringify(policy));
          assert.deepEqual(clone(again), clone(policy));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("property: only PolicyError comes out of the validator", () => {
  function onlyPolicyError(run: () => Policy): void {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof PolicyError, `not a PolicyError: ${String(error)}`);
      assert.equal(error.code, "invalid-policy");
      assert.equal(typeof error.path, "string");
    }
  }

  test("random values", () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), (value) => {
        onlyPolicyError(() => parsePolicy(value));
      }),
      { numRuns: 500 },
    );
  });

  test("random JSON text", () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), (text) => {
        onlyPolicyError(() => parsePolicyJson(text));
      }),
      { numRuns: 500 },
    );
  });

  /** Every path to a value inside a document. */
  function paths(value: unknown, prefix: Key[] = []): Key[][] {
    const out: Key[][] = [prefix];
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) out.push(...paths(v, [...prefix, i]));
    } else if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
    }
    return out;
  }

  test("a valid document with one value replaced by random JSON: valid, or a PolicyError naming a path", () => {
    const base = prod();
    const all = paths(base).filter((p) => p.length > 0);
    fc.assert(
      fc.property(fc.constantFrom(...all), fc.jsonValue({ maxDepth: 3 }), (path, value) => {
        const doc = clone(base);
        setPath(doc, path, value);
        onlyPolicyError(() => parsePolicy(doc));
      }),
      { numRuns: 500 },
    );
  });

  test("a valid document with one member removed is always refused", () => {
    const base = prod();
    const objectMembers = paths(base)
      .filter(
        (p) => p.length > 0 && !Array.isArray(getPath(base, p.slice(0, -1))) && !/^\d+$/.test(String(p[p.length - 1])),
      )
      .filter((p) => !["sha256", "engineBinaries", "models"].includes(String(p[p.length - 2])))
      // platform.sgx is the one optional member (absent means "none").
      .filter((p) => p.join(".") !== "platform.sgx");
    for (const path of objectMembers) {
      assert.throws(() => parsePolicy(without(() => clone(base), path)), PolicyError, path.join("."));
    }
  });
});

describe("launch.access (optional)", () => {
  test("absent demands nothing; true or any for each member, both required", () => {
    assert.equal(parsePolicy(prod()).launch.access, undefined);
    const policy = parsePolicy(withValue(prod, ["launch", "access"], { requireSealed: true, requireApiKey: "any" }));
    assert.deepEqual(policy.launch.access, { requireSealed: true, requireApiKey: "any" });
    assert.ok(Object.isFrozen(policy.launch.access));
  });

  test("false, other values, a missing or an unknown member are refused with their path", () => {
    const access = (value: unknown) => withValue(prod, ["launch", "access"], value);
    assert.throws(
      () => parsePolicy(access({ requireSealed: false, requireApiKey: "any" })),
      invalid("launch.access.requireSealed", /must be true or "any"/),
    );
    assert.throws(
      () => parsePolicy(access({ requireSealed: true, requireApiKey: 1 })),
      invalid("launch.access.requireApiKey", /not a number/),
    );
    assert.throws(
      () => parsePolicy(access({ requireSealed: true })),
      invalid("launch.access.requireApiKey", /missing/),
    );
    assert.throws(
      () => parsePolicy(access({ requireSealed: true, requireApiKey: true, tls: true })),
      invalid("launch.access.tls", /unknown member/),
    );
    assert.throws(() => parsePolicy(access(true)), invalid("launch.access", /must be an object/));
  });
});
