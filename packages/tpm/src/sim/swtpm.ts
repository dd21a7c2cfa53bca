/**
 * The development TPM: provisioning, starting, stopping and inspecting a
 * swtpm instance whose whole state (TPM NV, local CA) lives in one directory.
 *
 * Layout of a state directory:
 * - `tpm/`: swtpm's TPM state (`tpm2-00.permall`: NV, persistent handles, seeds);
 * - `ca/`: the swtpm-localca root and intermediate CA that certified the EKs;
 * - `swtpm_setup.conf`, `swtpm-localca.conf`, `swtpm-localca.options`: our own
 *   configuration, so nothing is read from or written to /etc or /var/lib;
 * - `provisioned.json`: written last by {@link provisionSwtpm}, so a half-done
 *   provisioning is redone rather than trusted;
 * - `sim.json`, `swtpm.pid`, `swtpm.log`: the running instance, if any.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { TpmClient } from "../client.js";
import { SwtpmError } from "./errors.js";
import { canBind, ephemeralPort, freePortPair, waitUntilListening } from "./ports.js";
import { findExecutable, isProcessAlive, sleep, waitForProcessExit } from "./process.js";

/** Where a provisioned swtpm keeps its TPM state and local CA. */
export interface SwtpmState {
  /** The state directory (absolute). */
  readonly stateDir: string;
  /** swtpm's TPM state directory (`<stateDir>/tpm`). */
  readonly tpmDir: string;
  /** The local CA directory (`<stateDir>/ca`). */
  readonly caDir: string;
  /** The self-signed root CA certificate (PEM) that anchors the EK certificates. */
  readonly rootCaCertPath: string;
  /** The intermediate CA certificate (PEM) that signed the EK certificates. */
  readonly issuerCertPath: string;
}

/** A running swtpm. */
export interface SwtpmInstance {
  /** The address both channels listen on. */
  readonly host: string;
  /** The TCP data port (raw TPM command bytes); 0 when the data channel is a unix socket. */
  readonly port: number;
  /** The TCP control port (swtpm's ioctl channel). */
  readonly ctrlPort: number;
  /** The unix socket path of the data channel, when started with `unixSocket`. */
  readonly socketPath?: string;
  /** swtpm's process id. */
  readonly pid: number;
  /** The state directory (absolute). */
  readonly stateDir: string;
  /**
   * The tpm2-tools TCTI string, e.g. `swtpm:host=127.0.0.1,port=2321`; empty
   * when the data channel is a unix socket (tpm2-tss 3.x's swtpm TCTI speaks TCP only).
   */
  readonly tcti: string;
  /** SIGTERM, then wait for the process to exit; removes `sim.json`. */
  stop(): Promise<void>;
}

/** What {@link swtpmStatus} reports about a state directory. */
export interface SwtpmStatus {
  /** Whether the instance recorded in `sim.json` is alive. */
  readonly running: boolean;
  readonly pid?: number;
  readonly host?: string;
  readonly port?: number;
  readonly ctrlPort?: number;
  readonly socketPath?: string;
  /** Whether {@link provisionSwtpm} completed in this directory. */
  readonly provisioned: boolean;
}

/** PCR banks swtpm can allocate. */
const KNOWN_BANKS: ReadonlySet<string> = new Set(["sha1", "sha256", "sha384", "sha512"]);
const DEFAULT_BANKS: readonly string[] = ["sha1", "sha256", "sha384"];
const INSTALL_HINT = "install the Debian/Ubuntu packages `swtpm` and `swtpm-tools`";
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

function layout(stateDir: string): SwtpmState {
  const dir = path.resolve(stateDir);
  const caDir = path.join(dir, "ca");
  return {
    stateDir: dir,
    tpmDir: path.join(dir, "tpm"),
    caDir,
    rootCaCertPath: path.join(caDir, "swtpm-localca-rootca-cert.pem"),
    issuerCertPath: path.join(caDir, "issuercert.pem"),
  };
}

/**
 * swtpm parses `dir=...,port=...` option strings and swtpm_setup parses
 * `key = value` lines, so a comma or a control character in a path would
 * silently change the meaning of the options.
 */
function checkPath(p: string, what: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[,\u0000-\u001f\u007f]/.test(p)) {
    throw new SwtpmError("bad-argument", `${what} must not contain commas or control characters`);
  }
}

function isProvisioned(state: SwtpmState): boolean {
  return (
    existsSync(path.join(state.stateDir, "provisioned.json")) &&
    existsSync(path.join(state.tpmDir, "tpm2-00.permall")) &&
    existsSync(state.rootCaCertPath) &&
    existsSync(state.issuerCertPath)
  );
}

async function requireExecutable(name: string): Promise<string> {
  const found = await findExecutable(name);
  if (found === undefined) throw new SwtpmError("swtpm-not-installed", `${name} not found on PATH; ${INSTALL_HINT}`);
  return found;
}

/**
 * Manufacture a swtpm TPM in `stateDir`: EK certificates signed by a local CA
 * kept in `<stateDir>/ca`, a platform certificate, and the given PCR banks.
 * The result has an RSA-2048 EK persisted at 0x81010001 (certificate in NV
 * 0x01c00002) and an ECC P-384 EK at 0x81010016 (certificate in NV 0x01c00016).
 * Dictionary-attack protection is then turned off, because a simulator that is
 * routinely killed would otherwise lock its keys out. Idempotent: an already provisioned directory is returned untouched.
 *
 * @example
 * const state = await provisionSwtpm({ stateDir: ".veritee/swtpm" });
 * const sim = await startSwtpm({ stateDir: state.stateDir });
 */
export async function provisionSwtpm(opts: { stateDir: string; pcrBanks?: readonly string[] }): Promise<SwtpmState> {
  const state = layout(opts.stateDir);
  checkPath(state.stateDir, "stateDir");
  const banks = opts.pcrBanks ?? DEFAULT_BANKS;
  if (banks.length === 0 || new Set(banks).size !== banks.length || !banks.every((b) => KNOWN_BANKS.has(b))) {
    throw new SwtpmError("bad-argument", "pcrBanks must be distinct names among sha1, sha256, sha384, sha512");
  }
  if (isProvisioned(state)) return state;

  const swtpmSetup = await requireExecutable("swtpm_setup");
  const localca = await requireExecutable("swtpm_localca");
  await requireExecutable("swtpm");

  await mkdir(state.tpmDir, { recursive: true, mode: 0o700 });
  await mkdir(state.caDir, { recursive: true, mode: 0o700 });
  const localcaConf = path.join(state.stateDir, "swtpm-localca.conf");
  const localcaOptions = path.join(state.stateDir, "swtpm-localca.options");
  const setupConf = path.join(state.stateDir, "swtpm_setup.conf");
  // swtpm-localca(8): the CA's state, signing key, issuer certificate and serial counter.
  await writeFile(
    localcaConf,
    [
      `statedir = ${state.caDir}`,
      `signingkey = ${path.join(state.caDir, "signkey.pem")}`,
      `issuercert = ${state.issuerCertPath}`,
      `certserial = ${path.join(state.caDir, "certserial")}`,
      "",
    ].join("\n"),
  );
  await writeFile(
    localcaOptions,
    ["--platform-manufacturer Veritee", "--platform-version 2.1", "--platform-model swtpm", ""].join("\n"),
  );
  // swtpm_setup.conf(8): which tool certifies the EKs and with which configuration.
  await writeFile(
    setupConf,
    [
      `create_certs_tool = ${localca}`,
      `create_certs_tool_config = ${localcaConf}`,
      `create_certs_tool_options = ${localcaOptions}`,
      `active_pcr_banks = ${banks.join(",")}`,
      "",
    ].join("\n"),
  );

  const logPath = path.join(state.stateDir, "swtpm_setup.log");
  const status = await runToLog(
    swtpmSetup,
    [
      "--tpm2",
      "--tpmstate",
      state.tpmDir,
      "--create-ek-cert",
      "--create-platform-cert",
      "--pcr-banks",
      banks.join(","),
      "--config",
      setupConf,
      // A half-provisioned state (no provisioned.json) is redone from scratch.
      "--overwrite",
    ],
    logPath,
  );
  if (status !== 0 || !existsSync(state.rootCaCertPath) || !existsSync(state.issuerCertPath)) {
    throw new SwtpmError("provision-failed", `swtpm_setup exited with status ${status}; see ${logPath}`);
  }
  try {
    await disableDictionaryAttackProtection(state.stateDir);
  } catch (cause) {
    throw new SwtpmError("provision-failed", "could not configure the provisioned TPM", { cause });
  }
  await writeFile(
    path.join(state.stateDir, "provisioned.json"),
    `${JSON.stringify({ pcrBanks: banks, provisionedAt: new Date().toISOString() }, null, 2)}\n`,
  );
  return state;
}

/**
 * Turn dictionary-attack protection off (recoveryTime 0, TPM 2.0 Part 1
 * §19.8). A development TPM is stopped with SIGTERM, not after an orderly
 * TPM2_Shutdown, and the TPM counts every such restart after a DA-protected
 * key (an AK) was used as an attack (failedTries++ in DAStartup): after a few
 * restarts its keys would be locked out for good. A hardware TPM keeps its
 * protection; this is only for the simulator.
 */
async function disableDictionaryAttackProtection(stateDir: string): Promise<void> {
  const sim = await startSwtpm({ stateDir });
  try {
    const tpm = await TpmClient.connect({ kind: "tcp", host: sim.host, port: sim.port }, { timeoutMs: 30_000 });
    try {
      await tpm.startup("clear");
      await tpm.dictionaryAttackLockReset();
      await tpm.dictionaryAttackParameters({ maxTries: 32, recoveryTime: 0, lockoutRecovery: 0 });
      await tpm.shutdown("clear");
    } finally {
      await tpm.close();
    }
  } finally {
    await sim.stop();
  }
}

/** Runs a program with stdout and stderr going to `logPath`; resolves with its exit status. */
function runToLog(file: string, args: readonly string[], logPath: string): Promise<number> {
  const fd = openSync(logPath, "w", 0o600);
  return new Promise<number>((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", fd, fd] });
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  }).finally(() => closeSync(fd));
}

/** The record of a running instance, `<stateDir>/sim.json`. */
interface SimRecord {
  pid: number;
  host: string;
  port: number;
  ctrlPort: number;
  socketPath?: string;
  detached: boolean;
  startedAt: string;
}

async function readSimRecord(stateDir: string): Promise<SimRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(stateDir, "sim.json"), "utf8");
  } catch {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new SwtpmError("bad-state", "sim.json is not JSON", { cause });
  }
  const v = value as Partial<SimRecord> | null;
  const isPort = (p: unknown): p is number => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535;
  if (
    typeof v !== "object" ||
    v === null ||
    !Number.isSafeInteger(v.pid) ||
    typeof v.host !== "string" ||
    !isPort(v.port) ||
    !isPort(v.ctrlPort) ||
    (v.socketPath !== undefined && typeof v.socketPath !== "string")
  ) {
    throw new SwtpmError("bad-state", "sim.json does not describe an instance");
  }
  return v as SimRecord;
}

/** Non-detached children, killed when this Node process exits. */
const ownedChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function ownChild(child: ChildProcess): void {
  ownedChildren.add(child);
  child.once("exit", () => ownedChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of ownedChildren) c.kill("SIGTERM");
    });
  }
}

/**
 * Start swtpm on a state directory (provisioned or not). With the default
 * `port: 0` it picks a free data port P with P+1 free for the control channel;
 * with `unixSocket` the data channel is that unix socket and only the control
 * channel uses TCP (on `port`, or a free port when it is 0). The TPM is not started up: the client sends TPM2_Startup.
 *
 * Unless `detached`, swtpm dies with this Node process (SIGTERM through the
 * kernel's parent-death signal, via setpriv(1), and an exit hook).
 *
 * @example
 * const sim = await startSwtpm({ stateDir });
 * try { ... } finally { await sim.stop(); }
 */
export async function startSwtpm(opts: {
  stateDir: string;
  host?: string;
  port?: number;
  unixSocket?: string;
  detached?: boolean;
}): Promise<SwtpmInstance> {
  const state = layout(opts.stateDir);
  checkPath(state.stateDir, "stateDir");
  const host = opts.host ?? "127.0.0.1";
  checkPath(host, "host");
  const requested = opts.port ?? 0;
  if (!Number.isInteger(requested) || requested < 0 || requested > 65534) {
    throw new SwtpmError("bad-argument", "port must be an integer in 0..65534 (the control channel takes port + 1)");
  }
  const socketPath = opts.unixSocket === undefined ? undefined : path.resolve(opts.unixSocket);
  if (socketPath !== undefined) checkPath(socketPath, "unixSocket");
  const detached = opts.detached ?? false;

  const previous = await readSimRecord(state.stateDir).catch(() => undefined);
  if (previous !== undefined && (await isProcessAlive(previous.pid, "swtpm"))) {
    throw new SwtpmError("already-running", `swtpm already runs on this state directory (pid ${previous.pid})`);
  }
  const swtpm = await requireExecutable("swtpm");
  const setpriv = detached ? undefined : await findExecutable("setpriv");
  await mkdir(state.tpmDir, { recursive: true, mode: 0o700 });
  const logPath = path.join(state.stateDir, "swtpm.log");
  const pidPath = path.join(state.stateDir, "swtpm.pid");

  const attempts = requested === 0 ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    let port: number;
    let ctrlPort: number;
    if (socketPath !== undefined) {
      port = 0;
      ctrlPort = requested === 0 ? await ephemeralPort(host) : requested;
      await rm(socketPath, { force: true });
    } else if (requested === 0) {
      port = await freePortPair(host);
      ctrlPort = port + 1;
    } else {
      port = requested;
      ctrlPort = requested + 1;
    }
    if (requested !== 0) {
      const busy = [port, ctrlPort].filter((p) => p !== 0);
      for (const p of busy) {
        if (!(await canBind(host, p))) throw new SwtpmError("port-in-use", `TCP port ${p} on ${host} is in use`);
      }
    }

    const server =
      socketPath !== undefined ? `type=unixio,path=${socketPath}` : `type=tcp,port=${port},bindaddr=${host}`;
    const swtpmArgs = [
      "socket",
      "--tpm2",
      "--tpmstate",
      `dir=${state.tpmDir}`,
      "--server",
      server,
      "--ctrl",
      `type=tcp,port=${ctrlPort},bindaddr=${host}`,
      "--flags",
      "not-need-init",
      "--pid",
      `file=${pidPath}`,
    ];
    // setpriv(1) sets PR_SET_PDEATHSIG and execs swtpm in place, so the pid stays swtpm's
    // and the kernel signals it even when this process is SIGKILLed.
    const [file, args] =
      setpriv !== undefined ? [setpriv, ["--pdeathsig", "TERM", "--", swtpm, ...swtpmArgs]] : [swtpm, swtpmArgs];
    const fd = openSync(logPath, "w", 0o600);
    let child: ChildProcess;
    try {
      child = spawn(file, args, { stdio: ["ignore", fd, fd], detached });
    } finally {
      closeSync(fd);
    }
    let exited = false;
    let spawnError: Error | undefined;
    child.once("exit", () => {
      exited = true;
    });
    child.once("error", (error) => {
      spawnError = error;
      exited = true;
    });
    if (!detached) ownChild(child);
    child.unref();

    const targets = [
      socketPath !== undefined ? { path: socketPath } : { host, port },
      { host, port: ctrlPort },
    ] as const;
    const ready = await waitUntilListening(targets, START_TIMEOUT_MS, () => exited);
    const pid = child.pid;
    if (ready && !exited && pid !== undefined) {
      const record: SimRecord = {
        pid,
        host,
        port,
        ctrlPort,
        ...(socketPath !== undefined ? { socketPath } : {}),
        detached,
        startedAt: new Date().toISOString(),
      };
      await writeFile(path.join(state.stateDir, "sim.json"), `${JSON.stringify(record, null, 2)}\n`);
      return makeInstance(state.stateDir, record, child);
    }

    if (!exited) {
      child.kill("SIGKILL");
      await waitForChild(child, STOP_TIMEOUT_MS);
    } else {
      // Give the log a moment to be flushed by the exiting process.
      await sleep(10);
    }
    if (spawnError !== undefined) {
      throw new SwtpmError("swtpm-not-installed", `cannot run swtpm; ${INSTALL_HINT}`, { cause: spawnError });
    }
    const log = await readFile(logPath, "utf8").catch(() => "");
    const addressInUse = /address already in use|EADDRINUSE/i.test(log);
    if (addressInUse && attempt < attempts) continue;
    if (addressInUse) throw new SwtpmError("port-in-use", `swtpm could not bind its ports on ${host}; see ${logPath}`);
    throw new SwtpmError("start-failed", `swtpm did not start; see ${logPath}`);
  }
}

function waitForChild(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function makeInstance(stateDir: string, record: SimRecord, child: ChildProcess): SwtpmInstance {
  const tcti = record.socketPath === undefined ? `swtpm:host=${record.host},port=${record.port}` : "";
  let stopping: Promise<void> | undefined;
  return {
    host: record.host,
    port: record.port,
    ctrlPort: record.ctrlPort,
    ...(record.socketPath !== undefined ? { socketPath: record.socketPath } : {}),
    pid: record.pid,
    stateDir,
    tcti,
    stop(): Promise<void> {
      stopping ??= (async () => {
        await stopSwtpm(stateDir);
        // Our own child: also wait until Node has reaped it, so no zombie outlives stop().
        await waitForChild(child, STOP_TIMEOUT_MS);
      })();
      return stopping;
    },
  };
}

/**
 * Stop the swtpm recorded in `<stateDir>/sim.json` (SIGTERM, then SIGKILL
 * after 5 s) and remove the record. swtpm writes NV (persistent handles, NV
 * indices) as it changes, so the state survives; PCRs and transient objects do not.
 *
 * @returns true when an instance was running and is now stopped, false when none was.
 */
export async function stopSwtpm(stateDir: string): Promise<boolean> {
  const dir = path.resolve(stateDir);
  const record = await readSimRecord(dir);
  if (record === undefined) return false;
  let wasRunning = false;
  if (await isProcessAlive(record.pid, "swtpm")) {
    wasRunning = true;
    signal(record.pid, "SIGTERM");
    if (!(await waitForProcessExit(record.pid, "swtpm", STOP_TIMEOUT_MS))) {
      signal(record.pid, "SIGKILL");
      if (!(await waitForProcessExit(record.pid, "swtpm", 2_000))) {
        throw new SwtpmError("stop-failed", `swtpm (pid ${record.pid}) did not exit`);
      }
    }
  }
  await rm(path.join(dir, "sim.json"), { force: true });
  await rm(path.join(dir, "swtpm.pid"), { force: true });
  if (record.socketPath !== undefined) await rm(record.socketPath, { force: true });
  return wasRunning;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone between the liveness check and the signal.
  }
}

/**
 * Whether `stateDir` is provisioned and whether the instance recorded there
 * is running (checked by pid and process name, so a stale record reads as not running).
 */
export async function swtpmStatus(stateDir: string): Promise<SwtpmStatus> {
  const state = layout(stateDir);
  const provisioned = isProvisioned(state);
  const record = await readSimRecord(state.stateDir);
  if (record === undefined || !(await isProcessAlive(record.pid, "swtpm"))) return { running: false, provisioned };
  return {
    running: true,
    pid: record.pid,
    host: record.host,
    port: record.port,
    ctrlPort: record.ctrlPort,
    ...(record.socketPath !== undefined ? { socketPath: record.socketPath } : {}),
    provisioned,
  };
}
