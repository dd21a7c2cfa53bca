/**
 * The launch environment: Node.js flags and loader-relevant variables are
 * recorded in the configuration (so its digest moves with them), refused
 * unless allowed, named but never quoted in the refusal, and read from the
 * kernel's copy of the start-up environment so that deleting them from
 * `process.env` does not hide them.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  assertNoLoaderEnvironment,
  currentLaunchEnvironment,
  isEmptyLaunchEnvironment,
  isLoaderVariable,
  type LaunchEnvironment,
  LaunchError,
  measureConfiguration,
  NO_LOADER_ENVIRONMENT,
} from "../../src/index.js";
import { SAMPLE_CONFIG } from "./sample-config.js";

const LOADER_NAMES = [
  "NODE_OPTIONS",
  "NODE_PATH",
  "NODE_EXTRA_CA_CERTS",
  "NODE_TLS_REJECT_UNAUTHORIZED",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "LD_AUDIT",
  "GCONV_PATH",
  "OPENSSL_CONF",
  "NODE_LLAMA_CPP_GPU",
  "GGML_BACKEND_DIR",
];

describe("launch environment", () => {
  test("records the flags and exactly the loader-relevant variables, sorted, empty values included", () => {
    const e = currentLaunchEnvironment({
      execArgv: ["--import", "./evil.mjs"],
      env: { PATH: "/usr/bin", HOME: "/root", NODE_ENV: "production", LD_PRELOAD: "/tmp/x.so", NODE_OPTIONS: "" },
    });
    assert.deepEqual(e, { execArgv: ["--import", "./evil.mjs"], env: { LD_PRELOAD: "/tmp/x.so", NODE_OPTIONS: "" } });
    assert.deepEqual(Object.keys(e.env), ["LD_PRELOAD", "NODE_OPTIONS"]);
    assert.ok(Object.isFrozen(e) && Object.isFrozen(e.env) && Object.isFrozen(e.execArgv));
    for (const name of LOADER_NAMES) assert.equal(isLoaderVariable(name), true, name);
    for (const name of ["PATH", "HOME", "NODE_ENV", "NODE_TEST_CONTEXT", "VERITEE_UPSTREAM_API_KEY", "XLD_PRELOAD"]) {
      assert.equal(isLoaderVariable(name), false, name);
    }
  });

  test("a refusal is a LaunchError loader-environment naming each variable and the flags, never a value", () => {
    assert.doesNotThrow(() => assertNoLoaderEnvironment(NO_LOADER_ENVIRONMENT));
    const secretish = "/opt/operator-secret-path/evil.so";
    const cases: LaunchEnvironment[] = [
      { execArgv: ["--require", secretish], env: {} },
      { execArgv: [], env: { LD_PRELOAD: secretish } },
      { execArgv: [], env: { NODE_OPTIONS: `--import=${secretish}`, LD_LIBRARY_PATH: secretish } },
    ];
    for (const environment of cases) {
      assert.equal(isEmptyLaunchEnvironment(environment), false);
      assert.throws(
        () => assertNoLoaderEnvironment(environment),
        (e: unknown) =>
          e instanceof LaunchError &&
          e.code === "loader-environment" &&
          !e.message.includes(secretish) &&
          Object.keys(environment.env).every((name) => e.message.includes(name)) &&
          (environment.execArgv.length === 0 || e.message.includes("process.execArgv")),
      );
    }
  });

  test("property: any flag or loader variable changes the configuration digest; other variables do not", () => {
    const clean = measureConfiguration(SAMPLE_CONFIG).digest;
    const value = fc.string({ maxLength: 40 });
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 30 }), { maxLength: 4 }),
        fc.dictionary(fc.constantFrom(...LOADER_NAMES), value, { maxKeys: 4 }),
        fc.dictionary(fc.constantFrom("PATH", "HOME", "LANG", "NODE_ENV", "TERM"), value, { maxKeys: 4 }),
        (execArgv, loader, other) => {
          const launchEnvironment = currentLaunchEnvironment({ execArgv, env: { ...other, ...loader } });
          assert.deepEqual(launchEnvironment.env, Object.fromEntries(Object.entries(loader).sort()));
          const digest = measureConfiguration({ ...SAMPLE_CONFIG, launchEnvironment }).digest;
          const empty = execArgv.length === 0 && Object.keys(loader).length === 0;
          assert.equal(digest === clean, empty);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a variable deleted from process.env is still read from /proc/self/environ", () => {
    const index = path.resolve("packages/server/dist/src/index.js");
    const script = [
      `const { currentLaunchEnvironment } = await import(${JSON.stringify(index)});`,
      "delete process.env.LD_VERITEE_PROBE;",
      "process.stdout.write(JSON.stringify(currentLaunchEnvironment()));",
    ].join("\n");
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { PATH: process.env.PATH ?? "", LD_VERITEE_PROBE: "hidden" },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const recorded = JSON.parse(r.stdout) as { execArgv: string[]; env: Record<string, string> };
    assert.equal(recorded.env.LD_VERITEE_PROBE, "hidden");
    // Even an -e script is a start-up flag: recorded.
    assert.deepEqual(recorded.execArgv, ["--input-type=module", "-e", script]);
  });
});
