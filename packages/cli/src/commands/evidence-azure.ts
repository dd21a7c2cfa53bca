/**
 * `veritee evidence verify --type azure-vtpm`: an Azure confidential VM's
 * HCL report (vTPM NV index 0x01400001) with the TPM quote it vouches for,
 * verified offline by `verifyAzureVtpmAttestation` (docs/TEE.md): the SEV-SNP
 * report under AMD's chain, report data = H(runtime claims), the quote's AK =
 * the claims' HCLAkPub, and the quote over the given nonce. Or Azure's own
 * capture, the `az-cvm-vtpm` attesters' evidence JSON, whose AK is the HCL's
 * HCLAkPub itself (`verifyAzCvmEvidence`).
 */
import { bytesEqual, toHex } from "@veritee/core";
import {
  CollateralError,
  decodeAzCvmEvidence,
  decodeTdxQuote,
  decodeTpmsAttest,
  resolveTdxCollateral,
  SNP_PRODUCTS,
  type SnpRoots,
  type VerifiedAzureVtpm,
  verifyAzCvmEvidence,
  verifyAzureVtpmAttestation,
} from "@veritee/evidence";
import { CliError } from "../cli-error.js";
import {
  type EvidenceClaim,
  type EvidenceInputs,
  type EvidenceOutcome,
  type SnpCerts,
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
const skipped = (name: string, value: string): EvidenceClaim => ({ name, value, status: "not-checked" });
const onOff = (v: boolean) => (v ? "on" : "off");

/** `--root`: one ARK for every SEV-SNP product, or undefined for AMD's embedded roots. */
function snpRootsFrom(inputs: EvidenceInputs): SnpRoots | undefined {
  if (inputs.roots === undefined) return undefined;
  if (inputs.roots.length !== 1) throw new CliError("bad-argument", "--root: give exactly one ARK for SEV-SNP");
  const ark = inputs.roots[0]!;
  return Object.fromEntries(SNP_PRODUCTS.map((p) => [p, { ark }])) as SnpRoots;
}

function chainOf(certs: SnpCerts) {
  return certs.ask === undefined && certs.ark === undefined
    ? {}
    : { chain: { ...(certs.ask ? { ask: certs.ask } : {}), ...(certs.ark ? { ark: certs.ark } : {}) } };
}

/** The claims of a verified attestation, read from the verifier's result only. */
function azureClaims(
  v: VerifiedAzureVtpm,
  revocation: EvidenceClaim | undefined,
  nonce: EvidenceClaim,
  extra: readonly EvidenceClaim[] = [],
): EvidenceClaim[] {
  const cfg = v.claims.vmConfiguration;
  const claims: EvidenceClaim[] = [verified("hardware", v.platform === "snp" ? "AMD SEV-SNP" : "Intel TDX")];
  if (v.hardware.kind === "snp") {
    const snp = v.hardware.snp;
    claims.push(
      verified("product", snp.product),
      verified("measurement", toHex(snp.report.measurement)),
      verified("chip / VCEK", "the VCEK chains to AMD's root and signed the report"),
    );
    if (revocation !== undefined) claims.push(revocation);
  } else {
    const tdx = v.hardware.tdx;
    claims.push(
      verified("MRTD", toHex(tdx.body.mrTd)),
      verified("TD quote", "of the HCL's TDREPORT, under Intel's PCK chain and collateral"),
      verified("TCB status", `platform ${tdx.tcb.platform}, QE ${tdx.tcb.qe}`),
    );
  }
  claims.push(
    verified("runtime claims", `bound: report data = H(claims) (${v.claims.raw.length} bytes)`),
    v.akSource === "tpm-public"
      ? verified("AK", "the quote's AK is the claims' HCLAkPub")
      : verified("AK", "the claims' HCLAkPub (the evidence carries no TPM public area)"),
    verified("quote", `signed by that AK over extraData ${toHex(v.quote.extraData)}`),
    nonce,
    ...extra,
    verified("secure boot", onOff(cfg.secureBoot)),
    verified("vTPM", onOff(cfg.tpmEnabled)),
    verified("serial console", onOff(cfg.consoleEnabled)),
  );
  return claims;
}

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
  const roots = snpRootsFrom(inputs);
  const v = await verifyAzureVtpmAttestation({
    hclReport: inputs.evidence,
    snp: {
      vcek: certs.vcek,
      ...chainOf(certs),
      ...(roots === undefined ? {} : { roots }),
      ...(crl === undefined ? {} : { crl }),
    },
    quote: { attest: quote.attest, signature: quote.signature },
    akPublic: quote.akPublic,
    nonce: inputs.nonce,
    at: inputs.at,
  });
  return { mode: "full", claims: azureClaims(v, revocation, verified("nonce", "extraData equals --nonce")) };
}

/** Whether a file is JSON text (its first non-blank byte is `{`): az-cvm-vtpm evidence rather than an HCL report. */
export function isJsonEvidence(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x7b;
  }
  return false;
}

/**
 * Verify `az-cvm-vtpm` evidence JSON (`inputs.evidence`) with
 * `verifyAzCvmEvidence`: the AK is the HCL's HCLAkPub, the quote's PCRs are
 * checked against its digest. SEV-SNP: the VCEK is the evidence's; `--cert`
 * may add the ASK/ARK (a VCEK given must be the same one), AMD's CRL comes
 * from `--collateral`. TDX: Intel's collateral from `--collateral`
 * (required), `--root` for another Intel root. Without `--nonce` the
 * quote's own extraData is taken and the nonce is shown as not checked.
 *
 * @throws CliError `bad-argument`; CollateralError (TDX without collateral);
 *   MalformedError, VerificationError from the verifier.
 */
export async function verifyAzureCvmJson(inputs: EvidenceInputs): Promise<EvidenceOutcome> {
  const evidence = decodeAzCvmEvidence(inputs.evidence);
  const extraData = decodeTpmsAttest(evidence.tpmQuote.message).extraData;
  const nonce = inputs.nonce ?? extraData;
  const nonceClaim =
    inputs.nonce === undefined
      ? skipped("nonce", `not checked (no --nonce); the quote answers ${toHex(extraData)}`)
      : verified("nonce", "extraData equals --nonce");
  let v: VerifiedAzureVtpm;
  let revocation: EvidenceClaim | undefined;
  if (evidence.platform === "snp") {
    const given = inputs.certs.filter((der) => !bytesEqual(der, evidence.vcek));
    const certs = sortSnpCerts([evidence.vcek, ...given]);
    const checked = await snpRevocation(inputs.collateral, evidence.vcek);
    revocation = checked.claim;
    const roots = snpRootsFrom(inputs);
    v = await verifyAzCvmEvidence({
      evidence,
      nonce,
      at: inputs.at,
      snp: {
        ...chainOf(certs),
        ...(roots === undefined ? {} : { roots }),
        ...(checked.crl === undefined ? {} : { crl: checked.crl }),
      },
    });
  } else {
    if (inputs.certs.length > 0) {
      throw new CliError("bad-argument", "--cert is not used for TDX: the PCK chain is inside the TD quote");
    }
    if (inputs.collateral === undefined) {
      throw new CollateralError(
        "collateral-missing",
        "TDX-backed Azure evidence needs --collateral DIR (Intel's TDX collateral)",
      );
    }
    const collateral = await resolveTdxCollateral(inputs.collateral, decodeTdxQuote(evidence.tdQuote));
    v = await verifyAzCvmEvidence({
      evidence,
      nonce,
      at: inputs.at,
      tdx: { collateral, ...(inputs.roots === undefined ? {} : { roots: inputs.roots }) },
    });
  }
  const pcrs = v.quote.pcrValues?.get("sha256") ?? new Map<number, Uint8Array>();
  const extra = [
    verified("evidence", `az-cvm-vtpm JSON, version ${evidence.version}`),
    ...[...pcrs].map(([pcr, value]) => verified(`PCR ${pcr} (sha256)`, toHex(value))),
  ];
  return { mode: "full", claims: azureClaims(v, revocation, nonceClaim, extra) };
}
