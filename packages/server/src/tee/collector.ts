/**
 * The server's collector of confidential-computing evidence for the
 * attestation document's `platform` member (docs/ATTESTATION.md): for each
 * attestation, fresh GPU reports over the session's GPU nonce, then a fresh
 * CPU report whose report data binds the nonce, the key set and those GPU
 * reports (`platformReportData`), through configfs-tsm.
 *
 * - configfs-tsm provider `sev_guest`: an SEV-SNP report, with the VCEK (or
 *   VLEK), ASK and ARK from the host's certificate table (auxblob). A host
 *   that supplies no VCEK/VLEK makes collection fail: the client could not
 *   verify the report (fetching the VCEK from AMD's KDS is not done here).
 * - provider `tdx_guest`: a TDX quote (its PCK chain is inside).
 * - GPUs: NVML is native and not reachable from Node without an addon, so
 *   GPU reports come from an injectable {@link GpuEvidenceSource} (none by default).
 */
import {
  GPU_REPORT_LIMITS,
  gpuNonceBinding,
  PLATFORM_EVIDENCE_LIMITS,
  type PlatformEvidence,
  platformReportData,
} from "@veritee/evidence";
import { readTsmReport, type TsmFileSystem, tsmAvailable } from "./configfs-tsm.js";
import { TeeError } from "./errors.js";
import { decodeSnpCertTable } from "./snp-cert-table.js";

/** One GPU's report: the SPDM request ‖ signed response, and its device chain (DER, device first). */
export interface GpuEvidence {
  readonly report: Uint8Array;
  readonly certificates: readonly Uint8Array[];
}

/** Produces a signed report from every GPU for a 32-byte SPDM nonce (e.g. through NVML in a native addon). */
export type GpuEvidenceSource = (nonce: Uint8Array) => Promise<readonly GpuEvidence[]>;

/** Where CPU reports come from: configfs-tsm (optionally another root or file system, for tests). */
export interface TsmSource {
  readonly root?: string;
  readonly fs?: TsmFileSystem;
}

/** Options of {@link createPlatformCollector}. */
export interface PlatformCollectorOptions {
  /** configfs-tsm for the CPU report; absent: no CPU report. */
  readonly tsm?: TsmSource;
  /** GPU reports; absent: none. */
  readonly gpuEvidence?: GpuEvidenceSource;
}

/** Collects the platform evidence for one attestation. */
export interface PlatformCollector {
  /** The kinds this collector produces, for logs ("sev-snp"/"tdx" once known after the first report). */
  readonly sources: { readonly tsm: boolean; readonly gpus: boolean };
  /**
   * Fresh evidence for `nonce` and `keySetDigest`: GPU entries first
   * collected, then the CPU report binding them; returned CPU entry first.
   *
   * @throws TeeError `failed`, `race`, `unavailable`, `malformed` (a certificate table that does not decode).
   */
  collect(nonce: Uint8Array, keySetDigest: Uint8Array): Promise<PlatformEvidence[]>;
}

/**
 * A collector for these sources. With neither, it collects `[]` (a TPM-only server).
 *
 * @example
 * const collector = createPlatformCollector({ tsm: {} });
 * const platform = await collector.collect(nonce, keySetDigest(keySet));
 */
export function createPlatformCollector(options: PlatformCollectorOptions = {}): PlatformCollector {
  const { tsm, gpuEvidence } = options;
  return {
    sources: { tsm: tsm !== undefined, gpus: gpuEvidence !== undefined },
    async collect(nonce, keySetDigest) {
      const gpus: PlatformEvidence[] = [];
      const gpuReports: Uint8Array[] = [];
      if (gpuEvidence) {
        const reports = await gpuEvidence(gpuNonceBinding({ clientNonce: nonce, keySetDigest }));
        if (reports.length > PLATFORM_EVIDENCE_LIMITS.maxGpus) {
          throw new TeeError("failed", `more than ${PLATFORM_EVIDENCE_LIMITS.maxGpus} GPU reports`);
        }
        for (const r of reports) {
          if (r.report.length === 0 || r.report.length > GPU_REPORT_LIMITS.maxReportSize) {
            throw new TeeError("failed", "a GPU report is empty or too large");
          }
          const report = r.report.slice();
          gpuReports.push(report);
          gpus.push(
            Object.freeze({
              kind: "nvidia-gpu",
              report,
              certificates: Object.freeze(r.certificates.map((c) => c.slice())),
            }),
          );
        }
      }
      if (tsm === undefined) return gpus;
      const reportData = platformReportData({ nonce, keySetDigest, gpuReports });
      const report = await readTsmReport(reportData, {
        ...(tsm.root === undefined ? {} : { root: tsm.root }),
        ...(tsm.fs === undefined ? {} : { fs: tsm.fs }),
      });
      return [cpuEntry(report.provider, report.outblob, report.auxblob), ...gpus];
    },
  };
}

function cpuEntry(provider: string, outblob: Uint8Array, auxblob: Uint8Array | undefined): PlatformEvidence {
  if (provider === "tdx_guest") return Object.freeze({ kind: "tdx", quote: outblob });
  if (provider !== "sev_guest") throw new TeeError("failed", "configfs-tsm names a provider Veritee does not know");
  if (auxblob === undefined) {
    throw new TeeError("failed", "the host supplies no SEV-SNP certificate table (VCEK) with the report");
  }
  let table: ReturnType<typeof decodeSnpCertTable>;
  try {
    table = decodeSnpCertTable(auxblob);
  } catch (cause) {
    throw new TeeError("malformed", "the host's SEV-SNP certificate table does not decode", { cause });
  }
  const vcek = table.vcek ?? table.vlek;
  if (vcek === undefined) throw new TeeError("failed", "the host's SEV-SNP certificate table has no VCEK or VLEK");
  return Object.freeze({ kind: "sev-snp", report: outblob, vcek, ask: table.ask ?? null, ark: table.ark ?? null });
}

/**
 * The collector `startVeriteeServer` uses for `platformEvidence`: `"auto"`
 * takes configfs-tsm when {@link tsmAvailable}, `"none"` nothing, an object
 * that configfs-tsm.
 */
export async function platformCollectorFor(
  choice: "auto" | "none" | { readonly tsm: TsmSource },
  gpuEvidence?: GpuEvidenceSource,
): Promise<PlatformCollector> {
  const gpus = gpuEvidence ? { gpuEvidence } : {};
  if (choice === "none") return createPlatformCollector(gpus);
  if (choice === "auto") return createPlatformCollector((await tsmAvailable()) ? { tsm: {}, ...gpus } : gpus);
  return createPlatformCollector({ tsm: choice.tsm, ...gpus });
}
