/**
 * The swtpm manager: provisioning, start/stop/status, persistence across a
 * restart, the unix-socket data channel, and swtpm dying with its parent.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  provisionSwtpm,
  SwtpmError,
  startSwtpm,
  stopSwtpm,
  swtpmStatus,
  TPM_PT,
  TpmClient,
  TpmError,
} from "../src/index.js";
import { tempDir } from "./helpers.js";

let root: string;
let stateDir: string;
let removeRoot: () => Promise<void>;

before(async () => {
  ({ dir: root, remove: removeRoot } = await tempDir("swtpm"));
  stateDir = path.join(root, "state");
  await provisionSwtpm({ stateDir });
});

after(async () => {
  await stopSwtpm(stateDir);
  await removeRoot();
});

function isSwtpmError(code: string): (e: unknown) => boolean {
  return (e) => e instanceof SwtpmError && e.code === code;
}

describe("provisioning", () => {
  test("lays out the TPM state and the local CA in the state directory, idempotently", async () => {
    const rootCert = path.join(stateDir, "ca", "swtpm-localca-rootca-cert.pem");
    const before = await stat(rootCert);
    const started = Date.now();
    const state = await provisionSwtpm({ stateDir });
    assert.ok(Date.now() - started < 500, "a provisioned directory is not provisioned again");
    assert.equal(state.stateDir, stateDir);
    assert.equal(state.tpmDir, path.join(stateDir, "tpm"));
    assert.equal(state.rootCaCertPath, rootCert);
    assert.equal(state.issuerCertPath, path.join(stateDir, "ca", "issuercert.pem"));
    assert.equal((await stat(rootCert)).mtimeMs, before.mtimeMs);
    assert.ok(existsSync(path.join(stateDir, "tpm", "tpm2-00.permall")));
    assert.match(await readFile(path.join(stateDir, "swtpm-localca.conf"), "utf8"), /statedir = .*\/ca/);
    assert.deepEqual(await swtpmStatus(stateDir), { running: false, provisioned: true });
    assert.deepEqual(await swtpmStatus(path.join(root, "nothing-here")), { running: false, provisioned: false });
  });

  test("rejects unknown PCR banks and paths swtpm would misparse", async () => {
    await assert.rejects(
      provisionSwtpm({ stateDir: path.join(root, "x"), pcrBanks: ["md5"] }),
      isSwtpmError("bad-argument"),
    );
    await assert.rejects(
      provisionSwtpm({ stateDir: path.join(root, "x"), pcrBanks: [] }),
      isSwtpmError("bad-argument"),
    );
    await assert.rejects(provisionSwtpm({ stateDir: path.join(root, "a,b") }), isSwtpmError("bad-argument"));
    await assert.rejects(startSwtpm({ stateDir, port: 70000 }), isSwtpmError("bad-argument"));
  });
});

describe("start, status, stop", () => {
  test("status follows the instance; a second start and a busy port are refused", async () => {
    const sim = await startSwtpm({ stateDir });
    try {
      assert.equal(sim.tcti, `swtpm:host=127.0.0.1,port=${sim.port}`);
      assert.equal(sim.ctrlPort, sim.port + 1);
      assert.deepEqual(await swtpmStatus(stateDir), {
        running: true,
        pid: sim.pid,
        host: "127.0.0.1",
        port: sim.port,
        ctrlPort: sim.ctrlPort,
        provisioned: true,
      });
      await assert.rejects(startSwtpm({ stateDir }), isSwtpmError("already-running"));
      const other = path.join(root, "other");
      await assert.rejects(startSwtpm({ stateDir: other, port: sim.port }), isSwtpmError("port-in-use"));
    } finally {
      await sim.stop();
    }
    assert.deepEqual(await swtpmStatus(stateDir), { running: false, provisioned: true });
    assert.equal(await stopSwtpm(stateDir), false);
    await assert.rejects(
      TpmClient.connect({ kind: "tcp", port: sim.port }, { connectTimeoutMs: 2000 }),
      (e: unknown) => e instanceof TpmError && e.code === "transport-error" && e.command === "connect",
    );
  });

  test("a detached instance is stopped through its state directory", async () => {
    const sim = await startSwtpm({ stateDir, detached: true });
    assert.equal((await swtpmStatus(stateDir)).pid, sim.pid);
    assert.equal(await stopSwtpm(stateDir), true);
    assert.equal((await swtpmStatus(stateDir)).running, false);
    assert.ok(!existsSync(path.join(stateDir, "sim.json")));
  });

  test("a non-detached swtpm dies when its Node process is killed", async () => {
    const indexUrl = new URL("../src/index.js", import.meta.url).href;
    const script = `
      const { startSwtpm } = await import(${JSON.stringify(indexUrl)});
      const sim = await startSwtpm({ stateDir: ${JSON.stringify(stateDir)} });
      process.stdout.write(String(sim.pid) + "\\n");
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once("exit", () => reject(new Error("child exited early")));
    });
    assert.equal((await swtpmStatus(stateDir)).pid, pid);
    child.kill("SIGKILL");
    const deadline = Date.now() + 5000;
    while ((await swtpmStatus(stateDir)).running) {
      assert.ok(Date.now() < deadline, "swtpm outlived its parent");
      await new Promise((r) => setTimeout(r, 20));
    }
    await stopSwtpm(stateDir); // clears the stale record
  });
});

describe("persistence across a restart", () => {
  test("an EvictControl'd AK survives a stop and start; PCRs are reset to zero", async () => {
    const persistent = 0x81000010;
    let sim = await startSwtpm({ stateDir });
    let tpm = await TpmClient.connect({ kind: "tcp", port: sim.port });
    let akName: Uint8Array;
    try {
      await tpm.startup();
      const ek = await tpm.createEk("rsa2048");
      const ak = await tpm.load(ek.handle, await tpm.createAk(ek.handle, "ecc-p256"));
      akName = ak.name;
      await tpm.evictControl(ak.handle, persistent);
      await tpm.flushContext(ak.handle);
      await tpm.flushContext(ek.handle);
      await tpm.pcrExtend(23, { sha256: new Uint8Array(32).fill(1) });
      assert.notDeepEqual((await tpm.pcrRead({ sha256: [23] })).get("sha256")!.get(23), new Uint8Array(32));
    } finally {
      await tpm.close();
      await sim.stop();
    }

    sim = await startSwtpm({ stateDir });
    tpm = await TpmClient.connect({ kind: "tcp", port: sim.port });
    try {
      assert.equal(await tpm.startup(), "started");
      // Provisioning turned dictionary-attack protection off, so the SIGTERM above counted for nothing.
      assert.equal(await tpm.getProperty(TPM_PT.LOCKOUT_INTERVAL), 0);
      assert.equal(await tpm.getProperty(TPM_PT.LOCKOUT_RECOVERY), 0);
      assert.equal(await tpm.getProperty(TPM_PT.LOCKOUT_COUNTER), 0);
      assert.ok((await tpm.listHandles("persistent")).includes(persistent));
      assert.deepEqual((await tpm.readPublic(persistent)).name, akName);
      assert.deepEqual((await tpm.pcrRead({ sha256: [23] })).get("sha256")!.get(23), new Uint8Array(32));
      const quote = await tpm.quote(persistent, new Uint8Array(16), { sha256: [23] });
      assert.equal(quote.attest[0], 0xff);
      await tpm.evictControl(persistent, persistent);
      await assert.rejects(
        tpm.readPublic(persistent),
        (e: unknown) => e instanceof TpmError && e.code === "TPM_RC_HANDLE",
      );
    } finally {
      await tpm.close();
      await sim.stop();
    }
  });
});

describe("unix socket", () => {
  test("the client speaks to swtpm's unixio data channel", async () => {
    const socketPath = path.join(root, "tpm.sock");
    const sim = await startSwtpm({ stateDir, unixSocket: socketPath });
    try {
      assert.equal(sim.socketPath, socketPath);
      assert.equal(sim.port, 0);
      assert.equal(sim.tcti, "");
      assert.equal((await swtpmStatus(stateDir)).socketPath, socketPath);
      const tpm = await TpmClient.connect({ kind: "unix", path: socketPath });
      try {
        assert.equal(tpm.description, `unix ${socketPath}`);
        await tpm.startup();
        assert.equal((await tpm.getRandom(32)).length, 32);
        const values = await tpm.pcrRead({ sha1: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], sha256: [10] });
        assert.equal(values.get("sha1")!.size, 10);
      } finally {
        await tpm.close();
      }
    } finally {
      await sim.stop();
    }
    assert.ok(!existsSync(socketPath));
  });
});

describe("a busy fixed port", () => {
  test("is reported as port-in-use before swtpm is started", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      // The control channel takes port + 1: occupying the data port suffices.
      await assert.rejects(startSwtpm({ stateDir, port }), isSwtpmError("port-in-use"));
      assert.equal((await swtpmStatus(stateDir)).running, false);
    } finally {
      server.close();
    }
  });
});
