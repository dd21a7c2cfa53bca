/**
 * `veritee evidence verify --type azure-vtpm`: an Azure confidential VM's
 * HCL report (vTPM NV index 0x01400001) with the TPM quote it vouches for,
 * verified offline by `verifyAzureVtpmAttestation` (docs/TEE.md): the SEV-SNP
 * report under AMD's chain, report data = H(runtime claims), the quote's AK =
 * the claims' HCLAkPub, and the quote over the given nonce.
 */
import { toHex } from "@veritee/core";
import { SNP_PRODUCTS, type SnpRoots, verifyAzureVtpmAttestation } from "@veritee/evidence";
import { CliError } from "../cli-error.js";
import {
  type EvidenceClaim,
  type EvidenceInputs,
  type EvidenceOutcome,
  snpRevocation,
  sortSnpCerts,
} from "./evidence-verify.js";

/** The TPM quote inputs of an Azure vTPM verification (`--quote-attest`, `--quote-signature`, `--ak-public`). */
export interface AzureQuoteInputs {
  /** TPMS_ATTEST bytes. */
  readonly attest: Uint8Array;
  /** TPMT_SIGNATURE bytes. */
  readonly signature: Uint8Array;
  /** The AK's TPM2B_PUBLIC. */
  readonly akPublic: Uint8Array;
}

const verified = (name: string, value: string): EvidenceClaim => ({ name, value, status: "verified" });
const onOff = (v: boolean) => (v ? "on" : "off");

/**
 * Verify an HCL report (`inputs.evidence`) with its TPM quote; `inputs.nonce`
 * is the quote's extraData (raw, as given to `--nonce`).
 *
 * @throws CliError `bad-argument` (no nonce, several --root); MalformedError, VerificationError from the verifier.
 */
export async function verifyAzureVtpm(inputs: EvidenceInputs, quote: AzureQuoteInputs): Promise<EvidenceOutcome> {
  if (inputs.nonce === undefined) {
    throw new CliError("bad-argument", "--type azure-vtpm needs --nonce HEX (the quote's extraData)");
  }
  const certs = sortSnpCerts(inputs.certs);
  const { crl, claim: revocation } = await snpRevocation(inputs.collateral, certs.vcek);
  let roots: SnpRoots | undefined;
  if (inputs.roots !== undefined) {
    if (inputs.roots.length !== 1) throw new CliError("bad-argument", "--root: give exactly one ARK for SEV-SNP");
    const ark = inputs.roots[0]!;
    roots = Object.fromEntries(SNP_PRODUCTS.map((p) => [p, { ark }])) as SnpRoots;
  }
  const v = await verifyAzureVtpmAttestation({
    hclReport: inputs.evidence,
    snp: {
      vcek: certs.vcek,
      ...(certs.ask === undefined && certs.ark === undefined
        ? {}
        : { chain: { ...(certs.ask ? { ask: certs.ask } : {}), ...(certs.ark ? { ark: certs.ark } : {}) } }),
      ...(roots === undefined ? {} : { roots }),
      ...(crl === undefined ? {} : { crl }),
    },
    quote: { attest: quote.attest, signature: quote.signature },
    akPublic: quote.akPublic,
    nonce: inputs.nonce,
    at: inputs.at,
  });
  const cfg = v.claims.vmConfiguration;
  const claims: EvidenceClaim[] = [verified("hardware", v.platform === "snp" ? "AMD SEV-SNP" : "Intel TDX")];
  if (v.hardware.kind === "snp") {
    const snp = v.hardware.snp;
    claims.push(
      verified("product", snp.product),
      verified("measurement", toHex(snp.report.measurement)),
      verified("chip / VCEK", "the VCEK chains to AMD's root and signed the report"),
      revocation,
    );
  }
  claims.push(
    verified("runtime claims", `bound: report data = H(claims) (${v.claims.raw.length} bytes)`),
    verified("AK", "the quote's AK is the claims' HCLAkPub"),
    verified("quote", `signed by that AK over extraData ${toHex(inputs.nonce)}`),
    verified("secure boot", onOff(cfg.secureBoot)),
    verified("vTPM", onOff(cfg.tpmEnabled)),
    verified("serial console", onOff(cfg.consoleEnabled)),
  );
  return { mode: "full", claims };
}
