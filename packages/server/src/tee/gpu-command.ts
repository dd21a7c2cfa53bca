/**
 * GPU evidence from an operator-supplied command. NVIDIA's attestation
 * report and certificate chain come from NVML (`nvmlDeviceGetConfComputeGpu
 * AttestationReport`, `…GpuCertificate`), which is native code Node cannot
 * call without an addon; NVIDIA's own tools (nvtrust's local verifier,
 * `nvattest`) can. So the server runs a command the operator names with the
 * session's 32-byte SPDM nonce, and reads the reports it prints:
 *
 *     COMMAND [ARGS…] NONCE_HEX
 *     stdout: {"gpus":[{"report":"<hex: SPDM request ‖ signed response>","certificateChain":"<PEM>"}, …]}
 *
 * The command runs without a shell, with a time limit and bounded output;
 * its output is evidence the client verifies, not trusted here, but it is
 * decoded strictly so that a broken tool fails loudly at the server. Its
 * stderr is never logged or echoed (it is not ours to publish). The command
 * is not measured: what it prints is verified by the client against NVIDIA's
 * root and the session nonce, so a wrong tool can only fail attestation.
 */
import { execFile } from "node:child_process";
import { fromHex, MalformedError, toHex } from "@veritee/core";
import { decodePemChain, GPU_REPORT_LIMITS, PLATFORM_EVIDENCE_LIMITS } from "@veritee/evidence";
import type { GpuEvidence, GpuEvidenceSource } from "./collector.js";
import { TeeError } from "./errors.js";

/** How to run the GPU evidence command. */
export interface GpuEvidenceCommand {
  /** The executable (an absolute path is best: no PATH lookup surprises). */
  readonly command: string;
  /** Arguments before the nonce. */
  readonly args?: readonly string[];
  /** Default 30 s: collecting a report takes a GPU round trip per device. */
  readonly timeoutMs?: number;
}

const MAX_OUTPUT = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A {@link GpuEvidenceSource} that runs `spec.command` for every attestation.
 *
 * @example
 * const gpuEvidence = gpuEvidenceFromCommand({ command: "/opt/veritee/gpu-evidence" });
 * await startVeriteeServer({ …, gpuEvidence });
 */
export function gpuEvidenceFromCommand(spec: GpuEvidenceCommand): GpuEvidenceSource {
  if (typeof spec.command !== "string" || spec.command.length === 0) throw new RangeError("command is required");
  const timeout = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return (nonce) =>
    new Promise<readonly GpuEvidence[]>((resolve, reject) => {
      execFile(
        spec.command,
        [...(spec.args ?? []), toHex(nonce)],
        { timeout, maxBuffer: MAX_OUTPUT, encoding: "utf8", shell: false, windowsHide: true },
        (error, stdout) => {
          if (error) {
            const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
            const why = e.killed
              ? `timed out after ${timeout} ms`
              : typeof e.code === "number"
                ? `exited with status ${e.code}`
                : `could not run (${e.code ?? "error"})`;
            // The cause is not attached: its message would carry the command's stderr.
            reject(new TeeError("failed", `the GPU evidence command ${why}`));
            return;
          }
          try {
            resolve(parseGpuEvidence(stdout));
          } catch (cause) {
            reject(new TeeError("malformed", "the GPU evidence command printed no valid evidence", { cause }));
          }
        },
      );
    });
}

/**
 * Parse the command's output (see the module comment) strictly: exactly the
 * members named, 1–8 GPUs, hex reports within the report size limit, PEM chains.
 *
 * @throws MalformedError naming the field.
 */
export function parseGpuEvidence(text: string): readonly GpuEvidence[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MalformedError("bad-value", "GpuEvidence", "not JSON");
  }
  const top = exact(json, ["gpus"], "GpuEvidence");
  const gpus = top.gpus;
  if (!Array.isArray(gpus) || gpus.length === 0 || gpus.length > PLATFORM_EVIDENCE_LIMITS.maxGpus) {
    throw new MalformedError("bad-value", "GpuEvidence.gpus", `not 1..${PLATFORM_EVIDENCE_LIMITS.maxGpus} entries`);
  }
  return Object.freeze(
    gpus.map((entry, i) => {
      const what = `GpuEvidence.gpus[${i}]`;
      const gpu = exact(entry, ["certificateChain", "report"], what);
      if (typeof gpu.report !== "string" || gpu.report.length > GPU_REPORT_LIMITS.maxReportSize * 2) {
        throw new MalformedError("bad-value", `${what}.report`, "not a hex string within the report size limit");
      }
      if (typeof gpu.certificateChain !== "string") {
        throw new MalformedError("bad-value", `${what}.certificateChain`, "not a PEM string");
      }
      const report = fromHex(gpu.report.trim(), `${what}.report`);
      if (report.length === 0) throw new MalformedError("bad-length", `${what}.report`, "empty");
      return Object.freeze({ report, certificates: Object.freeze(decodePemChain(gpu.certificateChain)) });
    }),
  );
}

function exact(value: unknown, members: readonly string[], what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MalformedError("bad-value", what, "not an object");
  }
  const keys = Object.keys(value).sort();
  if (keys.length !== members.length || keys.some((k, i) => k !== members[i])) {
    throw new MalformedError("bad-value", what, `members must be exactly ${members.join(", ")}`);
  }
  return value as Record<string, unknown>;
}
