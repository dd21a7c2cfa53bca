import path from "node:path";
import { provisionSwtpm, startSwtpm, stopSwtpm, swtpmStatus } from "@veritee/tpm";
import type { Command } from "commander";
import { out, parsePort, toJson } from "../io.js";
import { DEFAULT_SIM_DIR } from "../tpm-connect.js";

/** `veritee tpm sim start|stop|status`: the development TPM (swtpm with a local EK CA). */
export function registerTpmSim(tpm: Command): void {
  const sim = tpm
    .command("sim")
    .description("run the development TPM: swtpm on loopback with EK certificates from a local CA");

  sim
    .command("start")
    .description("provision (first time) and start swtpm in the background")
    .option("--state-dir <dir>", "where the TPM state and its local CA live", DEFAULT_SIM_DIR)
    .option("--host <host>", "loopback address to listen on", "127.0.0.1")
    .option("--port <n>", "TPM command port (the control port is n+1); 0 picks a free one", parsePort, 2321)
    .option("--json", "print machine-readable output")
    .action(async (opts: { stateDir: string; host: string; port: number; json?: boolean }) => {
      const stateDir = path.resolve(opts.stateDir);
      const status = await swtpmStatus(stateDir);
      if (status.running) {
        if (opts.json) out(toJson(status));
        else out(`swtpm already running (pid ${status.pid}) on ${status.host}:${status.port}`);
        return;
      }
      if (!status.provisioned) {
        if (!opts.json) out(`provisioning a new TPM in ${stateDir} (EK certificates from a local CA)…`);
        await provisionSwtpm({ stateDir });
      }
      const instance = await startSwtpm({ stateDir, host: opts.host, port: opts.port, detached: true });
      const summary = {
        running: true,
        pid: instance.pid,
        host: instance.host,
        port: instance.port,
        ctrlPort: instance.ctrlPort,
        tcti: instance.tcti,
        stateDir,
      };
      if (opts.json) out(toJson(summary));
      else {
        out(`swtpm running (pid ${instance.pid}) on ${instance.host}:${instance.port}, control ${instance.ctrlPort}`);
        out(`tpm2-tools: export TPM2TOOLS_TCTI="${instance.tcti}"`);
      }
    });

  sim
    .command("stop")
    .description("stop the development TPM (its state, keys and certificates are kept)")
    .option("--state-dir <dir>", "the TPM state directory", DEFAULT_SIM_DIR)
    .option("--json", "print machine-readable output")
    .action(async (opts: { stateDir: string; json?: boolean }) => {
      const stopped = await stopSwtpm(path.resolve(opts.stateDir));
      if (opts.json) out(toJson({ stopped }));
      else out(stopped ? "swtpm stopped" : "swtpm was not running");
    });

  sim
    .command("status")
    .description("tell whether the development TPM is provisioned and running")
    .option("--state-dir <dir>", "the TPM state directory", DEFAULT_SIM_DIR)
    .option("--json", "print machine-readable output")
    .action(async (opts: { stateDir: string; json?: boolean }) => {
      const status = await swtpmStatus(path.resolve(opts.stateDir));
      if (opts.json) out(toJson(status));
      else if (status.running) out(`running (pid ${status.pid}) on ${status.host}:${status.port}`);
      else out(status.provisioned ? "provisioned, not running" : "not provisioned");
    });
}
