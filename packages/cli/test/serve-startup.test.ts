/**
 * `veritee serve` start-up as a new user meets it: every option is checked
 * and the ports are bound before anything slow (swtpm, the model) starts, and
 * each mistake exits with its documented code (docs/CLI.md). Before: a taken
 * port exited 1 ("internal bug") after loading the model, and `--write-policy`
 * on a real TPM failed with `trust.ekRoots: must not be empty` after the
 * server was listening — and it kept serving.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { encodePemCertificate } from "@veritee/policy";
import { makeRoot } from "@veritee/testkit/x509";
import { TpmClient } from "@veritee/tpm";
import { EXIT } from "../src/exit-codes.js";
import { BIN, serverEnv, veritee } from "./run-cli.js";

let tmp: string;
let taken: Server;
let takenPort: number;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "veritee-serve-start-"));
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  takenPort = (taken.address() as { port: number }).port;
});

after(() => {
  taken.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Run serve and require it to fail fast (no model load, no swtpm: well under the seconds those take). */
async function failsFast(args: string[], code: number, message: RegExp) {
  const began = performance.now();
  const r = await veritee("serve", ...args);
  const seconds = (performance.now() - began) / 1000;
  assert.equal(r.code, code, `serve ${args.join(" ")}: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stdout, /listening/);
  assert.doesNotMatch(r.stderr, /starting/, "nothing was started");
  assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s`);
}

describe("veritee serve: checks before loading", () => {
  test("a port in use is an environment error (15), before the TPM or the model", async () => {
    const began = performance.now();
    const r = await veritee("serve", "--dev", "--port", String(takenPort));
    assert.equal(r.code, EXIT.environment, r.stderr);
    assert.match(r.stderr, /environment error port-in-use: 127\.0\.0\.1:\d+ is already in use/);
    assert.doesNotMatch(r.stdout, /listening/);
    assert.ok(performance.now() - began < 10_000);
  });

  test("a --tls-port in use is an environment error (15) too, and the plain port is released", async () => {
    const r = await veritee("serve", "--dev", "--port", "0", "--tls-port", String(takenPort));
    assert.equal(r.code, EXIT.environment, r.stderr);
    assert.match(r.stderr, /port-in-use/);
  });

  test("--write-policy with a real TPM and no --ek-root is a usage error (2), before listening", async () => {
    await failsFast(
      ["--tpm", "swtpm:host=127.0.0.1,port=1", "--write-policy", path.join(tmp, "p.json")],
      EXIT.usage,
      /--write-policy with a real TPM needs its EK root CA: --ek-root/,
    );
  });

  test("--ek-root must be a PEM certificate, and is for real TPMs only", async () => {
    const notPem = path.join(tmp, "not.pem");
    writeFileSync(notPem, "hello\n");
    await failsFast(
      ["--tpm", "swtpm:host=127.0.0.1,port=1", "--write-policy", path.join(tmp, "p.json"), "--ek-root", notPem],
      EXIT.usage,
      /--ek-root .*not a PEM certificate/,
    );
    await failsFast(
      ["--tpm", "swtpm:host=127.0.0.1,port=1", "--ek-root", path.join(tmp, "missing.pem")],
      EXIT.environment,
      /--ek-root: no such file/,
    );
    await failsFast(["--dev", "--ek-root", notPem], EXIT.usage, /for a real TPM/);
    await failsFast(["--dev-state-dir", tmp], EXIT.usage, /--dev-state-dir goes with --dev/);
  });

  test("a --write-policy into a missing directory, or a missing --model, fails before loading (15)", async () => {
    await failsFast(
      ["--dev", "--write-policy", path.join(tmp, "no", "such", "p.json")],
      EXIT.environment,
      /--write-policy: no such directory/,
    );
    await failsFast(["--dev", "--model", path.join(tmp, "none.gguf")], EXIT.environment, /--model: no such file/);
  });

  test("--cors-origin and --metrics-listen are checked before loading (2)", async () => {
    for (const origin of ["*", "app.example", "https://app.example/path"]) {
      await failsFast(["--dev", "--cors-origin", origin], EXIT.usage, /--cors-origin: /);
    }
    for (const address of ["9090", "127.0.0.1", "127.0.0.1:99999", "host:port"]) {
      await failsFast(["--dev", "--metrics-listen", address], EXIT.usage, /--metrics-listen takes HOST:PORT/);
    }
  });

  test("a --metrics-listen port in use is an environment error (15)", async () => {
    const r = await veritee("serve", "--dev", "--port", "0", "--metrics-listen", `127.0.0.1:${takenPort}`);
    assert.equal(r.code, EXIT.environment, r.stderr);
    assert.match(r.stderr, /port-in-use/);
  });

  test("--tls-port equal to --port is a usage error (2)", async () => {
    await failsFast(["--dev", "--port", "18080", "--tls-port", "18080"], EXIT.usage, /--tls-port must differ/);
  });
});

describe("veritee serve --write-policy on a non-development TPM", () => {
  test("the EK roots are checked before loading: a swtpm CA is refused for a production policy (2)", async () => {
    const state = path.join(tmp, "sim-ca");
    const started = await veritee("tpm", "sim", "start", "--state-dir", state, "--port", "0", "--json");
    assert.equal(started.code, 0, started.stderr);
    try {
      const { port } = JSON.parse(started.stdout) as { port: number };
      await failsFast(
        [
          "--tpm",
          `swtpm:host=127.0.0.1,port=${port}`,
          "--ek-root",
          path.join(state, "ca", "swtpm-localca-rootca-cert.pem"),
          "--write-policy",
          path.join(tmp, "p.json"),
        ],
        EXIT.usage,
        /invalid-policy: trust\.ekRoots\[0\]\.pem: is the swtpm local CA/,
      );
    } finally {
      await veritee("tpm", "sim", "stop", "--state-dir", state);
    }
  });

  test("--ek-root goes into the written policy's trust.ekRoots, for a TPM addressed by --tpm", {
    timeout: 180_000,
  }, async () => {
    const state = path.join(tmp, "sim");
    const started = await veritee("tpm", "sim", "start", "--state-dir", state, "--port", "0", "--json");
    assert.equal(started.code, 0, started.stderr);
    const { port } = JSON.parse(started.stdout) as { port: number };
    // Measured boot, as firmware would do it: a production policy refuses all-zero boot PCRs (swtpm has none).
    const tpm = await TpmClient.connect({ kind: "tcp", host: "127.0.0.1", port });
    await tpm.startup("clear");
    for (let pcr = 0; pcr < 8; pcr++) await tpm.pcrExtend(pcr, { sha256: new Uint8Array(32).fill(pcr + 1) });
    await tpm.close();
    // A vendor root (a test CA: only a development policy may trust the swtpm's own).
    const rootPem = encodePemCertificate(makeRoot("Veritee Test TPM Vendor Root").cert);
    const rootFile = path.join(tmp, "vendor-root.pem");
    writeFileSync(rootFile, rootPem);
    const policyFile = path.join(tmp, "real-tpm-policy.json");
    const child = spawn(
      process.execPath,
      [
        BIN,
        "serve",
        "--tpm",
        `swtpm:host=127.0.0.1,port=${port}`,
        "--ek-root",
        rootFile,
        "--port",
        "0",
        "--write-policy",
        policyFile,
      ],
      { env: serverEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes("policy written")) resolve();
        });
        void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
      });
      const policy = JSON.parse(readFileSync(policyFile, "utf8")) as {
        development: boolean;
        trust: { ekRoots: { pem: string }[] };
      };
      assert.equal(policy.development, false);
      assert.deepEqual(
        policy.trust.ekRoots.map((r) => r.pem.trim()),
        [rootPem.trim()],
      );
    } finally {
      child.kill("SIGTERM");
      await exited;
      await veritee("tpm", "sim", "stop", "--state-dir", state);
    }
  });
});
