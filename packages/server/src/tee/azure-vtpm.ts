/**
 * Azure confidential VM evidence for the attestation document's
 * `azure-vtpm` entry (docs/TEE.md, "Azure confidential VM (vTPM)"): the HCL
 * report the paravisor stores in vTPM NV index 0x01400001, and the VCEK
 * chain of the SEV-SNP report inside it.
 *
 * The HCL report is written by the paravisor at boot; its report data binds
 * the paravisor's runtime claims (among them the vTPM AK at persistent handle
 * 0x81000003), not a session. The server therefore reads it once, and
 * quotes with that AK: the quote carries the session (nonce, key set), the
 * HCL report proves whose AK signed it.
 *
 * The certificates do not come from the vTPM. On Azure, the IMDS "THIM"
 * endpoint serves them (`http://169.254.169.254/metadata/THIM/amd/certification`,
 * header `Metadata: true`); Veritee does not call it itself — supply them
 * from a directory (`vcek.der`, and `ask.der`/`ark.der` when present) or a
 * callback that fetches (and caches) them.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { type AzureVtpmPlatformEvidence, decodeHclReport, PLATFORM_EVIDENCE_LIMITS } from "@veritee/evidence";
import { TeeError } from "./errors.js";

/** The vTPM NV index holding the HCL report on Azure confidential VMs. */
export const AZURE_HCL_REPORT_NV_INDEX = 0x01400001;
/** The persistent handle of the vTPM AK that the HCL report's runtime claims name (`HCLAkPub`). */
export const AZURE_AK_PERSISTENT_HANDLE = 0x81000003;

/** The VCEK chain of the HCL report's SEV-SNP report (DER). */
export interface AzureSnpCertificates {
  readonly vcek: Uint8Array;
  readonly ask?: Uint8Array;
  readonly ark?: Uint8Array;
}

/**
 * Where the VCEK chain comes from: a directory holding `vcek.der` (required),
 * `ask.der` and `ark.der` (optional), or a callback (e.g. an IMDS THIM
 * client with a cache). Called once, at start.
 */
export type AzureCertificateSource = { readonly dir: string } | (() => Promise<AzureSnpCertificates>);

/** Reads an NV index (a `TpmClient`'s `nvRead`). */
export type NvReader = (nvIndex: number) => Promise<Uint8Array>;

async function optionalFile(file: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * The VCEK chain from a source.
 *
 * @throws TeeError `unavailable` (no `vcek.der` in the directory), `failed`
 *   (unreadable, empty or oversized certificates, a failing callback).
 */
export async function loadAzureCertificates(source: AzureCertificateSource): Promise<AzureSnpCertificates> {
  let certs: AzureSnpCertificates;
  try {
    if (typeof source === "function") {
      certs = await source();
    } else {
      const [vcek, ask, ark] = await Promise.all(
        ["vcek.der", "ask.der", "ark.der"].map((n) => optionalFile(path.join(source.dir, n))),
      );
      if (vcek === undefined) throw new TeeError("unavailable", "the Azure certificate directory has no vcek.der");
      certs = { vcek, ...(ask ? { ask } : {}), ...(ark ? { ark } : {}) };
    }
  } catch (cause) {
    if (cause instanceof TeeError) throw cause;
    throw new TeeError("failed", "the Azure VCEK chain could not be read", { cause });
  }
  for (const c of [certs.vcek, certs.ask, certs.ark]) {
    if (c !== undefined && (c.length === 0 || c.length > PLATFORM_EVIDENCE_LIMITS.maxCertificate)) {
      throw new TeeError("failed", "an Azure VCEK chain certificate is empty or too large");
    }
  }
  return certs;
}

/**
 * Read the HCL report and the certificates once, and make the document's
 * `azure-vtpm` entry from them. The report must decode and carry an SEV-SNP
 * report (a TDX-backed HCL report needs a TD quote and collateral the entry
 * does not carry: refused).
 *
 * @throws TeeError `unavailable` (no HCL report), `malformed` (an HCL report
 *   that does not decode), `failed` (TDX-backed, or the certificates).
 */
export async function readAzureVtpmEvidence(
  nvRead: NvReader,
  certificates: AzureCertificateSource,
): Promise<AzureVtpmPlatformEvidence> {
  let raw: Uint8Array;
  try {
    raw = await nvRead(AZURE_HCL_REPORT_NV_INDEX);
  } catch (cause) {
    throw new TeeError("unavailable", "the vTPM has no readable HCL report (NV index 0x01400001)", { cause });
  }
  if (raw.length > PLATFORM_EVIDENCE_LIMITS.maxHclReport) {
    throw new TeeError("malformed", "the vTPM's HCL report is larger than a document allows");
  }
  let kind: "snp" | "tdx";
  try {
    kind = decodeHclReport(raw).hardware.kind;
  } catch (cause) {
    throw new TeeError("malformed", "the vTPM's HCL report does not decode", { cause });
  }
  if (kind !== "snp") throw new TeeError("failed", "a TDX-backed HCL report is not supported in attestation documents");
  const certs = await loadAzureCertificates(certificates);
  return Object.freeze({
    kind: "azure-vtpm",
    hclReport: raw,
    vcek: certs.vcek.slice(),
    ask: certs.ask?.slice() ?? null,
    ark: certs.ark?.slice() ?? null,
  });
}
