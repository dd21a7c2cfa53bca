/**
 * The measured launch against a real swtpm: the application PCR ends at the
 * replay of the launch log; a second launch in the same boot is refused; a
 * launch that fails before extending leaves the PCR untouched.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { MalformedError, toHex } from "@veritee/core";
import { decodeLaunchLog, encodeLaunchLog, replayLaunchLog, verifyLaunchLog } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import {
  assertApplicationPcrFresh,
  LaunchError,
  type LaunchMeasurements,
  measureLaunch,
  readAppPcr,
  runMeasuredLaunch,
} from "../../src/index.js";
import { writeTree } from "./code-tree.js";
import { type DevTpm, startDevTpm } from "./dev-tpm.js";
import { SAMPLE_CONFIG } from "./sample-config.js";

let dir: string;
let dev: DevTpm;
let measurements: LaunchMeasurements;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-launch-"));
  await writeTree(path.join(dir, "release"));
  measurements = await measureLaunch({
    codeRoot: path.join(dir, "release"),
    config: SAMPLE_CONFIG,
    models: [{ id: "stories260K", path: sharedPath("models", "stories260K.gguf") }],
    engineBinaries: [],
  });
  dev = await startDevTpm(dir, "tpm");
});

after(async () => {
  await dev?.stop();
  await rm(dir, { recursive: true, force: true });
});

function launchError(code: string) {
  return (e: unknown) => e instanceof LaunchError && e.code === code;
}

describe("runMeasuredLaunch", () => {
  test("extends PCR 15 to the replay of a sealed launch log that verifies", async () => {
    await dev.reboot();
    const { launchLog, keys, pcrValue } = await runMeasuredLaunch({ tpm: dev.tpm, measurements });
    const pcr15 = await readAppPcr(dev.tpm, 15);
    assert.deepEqual(pcr15, replayLaunchLog(launchLog));
    assert.deepEqual(pcrValue, pcr15);
    assert.deepEqual(
      launchLog.events.map((e) => e.type),
      ["code-bundle", "configuration", "runtime", "model", "key-set", "separator"],
    );
    const verified = verifyLaunchLog(decodeLaunchLog(encodeLaunchLog(launchLog)), pcr15);
    assert.equal(verified.codeBundle.digest, measurements.codeBundle.digest);
    assert.equal(verified.models[0]!.digest, measurements.models[0]!.digest);
    assert.equal(verified.configuration.digest, measurements.configuration.digest);
    assert.deepEqual(verified.keySetDigest, keys.keySetDigest);
    // Secrets stay out of the published log.
    assert.ok(!new TextDecoder().decode(encodeLaunchLog(launchLog)).includes("sk-canary"));
    // Only PCR 15 moved.
    const others = await dev.tpm.pcrRead({ sha256: [0, 7, 14, 16, 23] });
    for (const v of others.get("sha256")!.values()) assert.equal(toHex(v), "00".repeat(32));
  });

  test("a second launch in the same boot is refused, and leaves the PCR as it was", async () => {
    await dev.reboot();
    await runMeasuredLaunch({ tpm: dev.tpm, measurements });
    const before = await readAppPcr(dev.tpm, 15);
    await assert.rejects(runMeasuredLaunch({ tpm: dev.tpm, measurements }), launchError("pcr-not-zero"));
    await assert.rejects(assertApplicationPcrFresh(dev.tpm), launchError("pcr-not-zero"));
    assert.deepEqual(await readAppPcr(dev.tpm, 15), before);
    // A reboot (here: a fresh swtpm power cycle) resets the PCR, and the server can start again.
    await dev.reboot();
    await assertApplicationPcrFresh(dev.tpm);
    await runMeasuredLaunch({ tpm: dev.tpm, measurements });
  });

  test("anything already measured into the PCR makes the launch refuse to start", async () => {
    await dev.reboot();
    await dev.tpm.pcrExtend(15, { sha256: new Uint8Array(32).fill(9) });
    await assert.rejects(runMeasuredLaunch({ tpm: dev.tpm, measurements }), launchError("pcr-not-zero"));
  });

  test("resettable or DRTM PCRs are refused as application PCRs", async () => {
    await dev.reboot();
    for (const appPcr of [16, 23, 17, 7, 0]) {
      await assert.rejects(runMeasuredLaunch({ tpm: dev.tpm, measurements, appPcr }), launchError("bad-config"));
    }
    // Another static PCR works, and the log names it.
    const { launchLog } = await runMeasuredLaunch({ tpm: dev.tpm, measurements, appPcr: 14 });
    assert.equal(launchLog.pcr, 14);
    assert.deepEqual(await readAppPcr(dev.tpm, 14), replayLaunchLog(launchLog));
  });

  test("a measurement the log cannot hold fails before any extend", async () => {
    await dev.reboot();
    const bad = { ...measurements, models: [{ id: "bad\nid", digest: "a".repeat(64), size: 1 }] };
    await assert.rejects(runMeasuredLaunch({ tpm: dev.tpm, measurements: bad }), MalformedError);
    assert.equal(toHex(await readAppPcr(dev.tpm, 15)), "00".repeat(32));
  });

  test("a closed TPM connection fails the launch with tpm-failed", async () => {
    await dev.reboot();
    await dev.tpm.close();
    await assert.rejects(runMeasuredLaunch({ tpm: dev.tpm, measurements }), launchError("tpm-failed"));
  });
});
