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
 * - an Azure confidential VM: the vTPM's HCL report (NV 0x01400001) and the
 *   VCEK chain from an injectable source (azure-vtpm.ts), read once: it binds
 *   the vTPM AK, and the document's quote by that AK carries the session.
 * - GPUs: NVML is native and not reachable from Node without an addon, so
 *   GPU reports come from an injectable {@link GpuEvidenceSource} (none by default).
 */
import {
  type AzureVtpmPlatformEvidence,
  GPU_REPORT_LIMITS,
  gpuNonceBinding,
  PLATFORM_EVIDENCE_LIMITS,
  type PlatformEvidence,
  platformReportData,
} from "@veritee/evidence";
import {
  AZURE_HCL_REPORT_NV_INDEX,
  type AzureCertificateSource,
  type NvReader,
  readAzureVtpmEvidence,
} from "./azure-vtpm.js";
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
  /** An Azure vTPM entry (`readAzureVtpmEvidence`), sent as the CPU entry of every document; not with `tsm`. */
  readonly azureVtpm?: AzureVtpmPlatformEvidence;
}

/** Collects the platform evidence for one attestation. */
export interface PlatformCollector {
  /** The kinds this collector produces, for logs ("sev-snp"/"tdx" once known after the first report). */
  readonly sources: { readonly tsm: boolean; readonly gpus: boolean; readonly azureVtpm: boolean };
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
  const { tsm, gpuEvidence, azureVtpm } = options;
  if (tsm !== undefined && azureVtpm !== undefined) {
    throw new TeeError("bad-input", "at most one CPU evidence source: configfs-tsm or the Azure vTPM");
  }
  return {
    sources: { tsm: tsm !== undefined, gpus: gpuEvidence !== undefined, azureVtpm: azureVtpm !== undefined },
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
      if (azureVtpm !== undefined) return [azureVtpm, ...gpus];
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

/** The vTPM access and certificates an Azure vTPM entry is made from (a `TpmClient` is an {@link NvAccess}). */
export interface AzureVtpmAccess {
  readonly tpm: NvAccess;
  /** The VCEK chain (on Azure: from IMDS THIM, fetched by the caller); required to send the entry. */
  readonly certificates?: AzureCertificateSource;
}

/** What the collector needs of the TPM: whether an NV index exists, and its contents. */
export interface NvAccess {
  nvReadPublic(nvIndex: number): Promise<unknown>;
  nvRead(nvIndex: number): Promise<Uint8Array>;
}

/** The CPU evidence choices of `startVeriteeServer({ platformEvidence })`. */
export type PlatformEvidenceChoice = "auto" | "none" | "azure-vtpm" | { readonly tsm: TsmSource };

async function azureEntry(azure: AzureVtpmAccess | undefined): Promise<AzureVtpmPlatformEvidence> {
  if (azure === undefined) throw new TeeError("unavailable", "no TPM to read the Azure HCL report from");
  if (azure.certificates === undefined) {
    throw new TeeError(
      "unavailable",
      "an Azure vTPM HCL report needs its VCEK chain: give azureCertificates (a directory or a callback)",
    );
  }
  const reader: NvReader = (i) => azure.tpm.nvRead(i);
  return readAzureVtpmEvidence(reader, azure.certificates);
}

async function hasHclReport(azure: AzureVtpmAccess | undefined): Promise<boolean> {
  if (azure === undefined) return false;
  try {
    await azure.tpm.nvReadPublic(AZURE_HCL_REPORT_NV_INDEX);
    return true;
  } catch {
    // TPM_RC_HANDLE: no such index — not an Azure confidential VM.
    return false;
  }
}

/**
 * The collector `startVeriteeServer` uses for `platformEvidence`: `"auto"`
 * takes configfs-tsm when {@link tsmAvailable}, else the Azure vTPM's HCL
 * report when the TPM has NV index 0x01400001 (then `azure.certificates` is
 * required), else none; `"azure-vtpm"` requires the HCL report; `"none"`
 * nothing; an object that configfs-tsm.
 *
 * @throws TeeError `unavailable` (`"azure-vtpm"` without an HCL report or
 *   certificates), `malformed`, `failed` (see `readAzureVtpmEvidence`).
 */
export async function platformCollectorFor(
  choice: PlatformEvidenceChoice,
  gpuEvidence?: GpuEvidenceSource,
  azure?: AzureVtpmAccess,
): Promise<PlatformCollector> {
  const gpus = gpuEvidence ? { gpuEvidence } : {};
  if (choice === "none") return createPlatformCollector(gpus);
  if (choice === "azure-vtpm") return createPlatformCollector({ azureVtpm: await azureEntry(azure), ...gpus });
  if (choice === "auto") {
    if (await tsmAvailable()) return createPlatformCollector({ tsm: {}, ...gpus });
    if (await hasHclReport(azure)) return createPlatformCollector({ azureVtpm: await azureEntry(azure), ...gpus });
    return createPlatformCollector(gpus);
  }
  return createPlatformCollector({ tsm: choice.tsm, ...gpus });
}
