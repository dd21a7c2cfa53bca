/**
 * Test harness around the swtpm simulator and tpm2-tools (Debian packages
 * swtpm, swtpm-tools, tpm2-tools): provision a TPM with EK certificates from a
 * private local CA, start it on 127.0.0.1, and run tools against it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";

function which(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Why swtpm-based tests cannot run here, or false when they can. */
export const swtpmUnavailable: string | false = ["swtpm", "swtpm_setup", "swtpm_localca", "tpm2_createek"].every(which)
  ? false
  : "swtpm, swtpm-tools or tpm2-tools is not installed";

/** Run a command; throw with its stderr when it fails. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): string {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, cwd, encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout;
}

/** Run a command and return its exit status and stderr, for commands expected to fail. */
export function runStatus(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, cwd, encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

/** Paths of a provisioned TPM and the local CA that certified its EKs. */
export interface ProvisionedTpm {
  readonly stateDir: string;
  readonly caDir: string;
  /** The local CA's root certificate (PEM). */
  readonly rootCertPem: string;
  /** The local CA's signing (intermediate) certificate (PEM). */
  readonly issuerCertPem: string;
  /** Directory with the EK certificates swtpm_setup wrote (ek.cert, ek-secp384r1.cert, ...). */
  readonly certFilesDir: string;
}

/**
 * Manufacture a TPM 2.0 state in `dir/tpm` with RSA-2048 and ECC EKs, EK
 * certificates and a platform certificate, issued by a fresh local CA in
 * `dir/ca` (swtpm_localca creates its root and signing key on first use).
 */
export function provisionTpm(dir: string): ProvisionedTpm {
  const stateDir = path.join(dir, "tpm");
  const caDir = path.join(dir, "ca");
  const certFilesDir = path.join(dir, "ekcerts");
  for (const d of [stateDir, caDir, certFilesDir]) mkdirSync(d, { recursive: true });
  const localca = path.join(dir, "localca.conf");
  const options = path.join(dir, "localca.options");
  const setup = path.join(dir, "setup.conf");
  writeFileSync(
    localca,
    [
      `statedir = ${caDir}`,
      `signingkey = ${caDir}/signkey.pem`,
      `issuercert = ${caDir}/issuercert.pem`,
      `certserial = ${caDir}/certserial`,
      "",
    ].join("\n"),
  );
  writeFileSync(options, "--platform-manufacturer Veritee\n--platform-version 2.1\n--platform-model test\n");
  writeFileSync(
    setup,
    [
      "create_certs_tool = /usr/bin/swtpm_localca",
      `create_certs_tool_config = ${localca}`,
      `create_certs_tool_options = ${options}`,
      "active_pcr_banks = sha256",
      "",
    ].join("\n"),
  );
  run("swtpm_setup", [
    "--tpm2",
    "--tpmstate",
    stateDir,
    "--create-ek-cert",
    "--create-platform-cert",
    "--write-ek-cert-files",
    certFilesDir,
    "--config",
    setup,
  ]);
  return {
    stateDir,
    caDir,
    rootCertPem: path.join(caDir, "swtpm-localca-rootca-cert.pem"),
    issuerCertPem: path.join(caDir, "issuercert.pem"),
    certFilesDir,
  };
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error("no free port pair");
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`swtpm exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("swtpm did not start listening");
}

/** A running swtpm and the environment that points tpm2-tools at it. */
export interface RunningSwtpm {
  /** Environment with TPM2TOOLS_TCTI set to this simulator. */
  readonly env: NodeJS.ProcessEnv;
  /** Run a tpm2-tools command against this simulator in `cwd`. */
  tpm2(tool: string, args: string[], cwd?: string): string;
  /** Stop the simulator (only the process this harness started). */
  stop(): Promise<void>;
}

/** Start swtpm on a TPM state directory, listening on 127.0.0.1 only. */
export async function startSwtpm(stateDir: string): Promise<RunningSwtpm> {
  const port = await freePortPair();
  const child = spawn(
    "swtpm",
    [
      "socket",
      "--tpm2",
      "--server",
      `type=tcp,port=${port},bindaddr=127.0.0.1`,
      "--ctrl",
      `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
      "--flags",
      "not-need-init,startup-clear",
      "--tpmstate",
      `dir=${stateDir}`,
    ],
    { stdio: "ignore" },
  );
  try {
    await waitForPort(port, child);
  } catch (e) {
    child.kill();
    throw e;
  }
  const env = { TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` };
  return {
    env,
    tpm2: (tool, args, cwd) => run(tool, args, env, cwd),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** DER bytes of a PEM certificate. */
export function pemToDer(pem: string): Uint8Array {
  const b64 = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(b64, "base64"));
}
