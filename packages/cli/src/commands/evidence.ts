/**
 * `veritee evidence verify FILE [--type snp|tdx|sgx|nvidia|azure-vtpm] [--cert FILE]...
 * [--collateral DIR] [--at ISO-TIME] [--nonce HEX] [--root FILE]... [--json]`
 * (azure-vtpm: the HCL report FILE with `--quote-attest FILE --quote-signature FILE
 * --ak-public FILE --nonce HEX --cert FILE…`, or FILE as az-cvm-vtpm evidence JSON):
 * verify confidential-VM or GPU evidence offline, at a pinned time, and
 * print the verified claims with ✓ (· for a check not made) or the typed
 * failure with ✗. Exits 0 only when verification passed; otherwise with the
 * failing error class's code (malformed 10, verification 11, collateral 13,
 * usage 2).
 */
import { MalformedError, VeriteeError } from "@veritee/core";
import { type Command, Option } from "commander";
import { CliError } from "../cli-error.js";
import { out, parseHexOption } from "../io.js";
import { isJsonEvidence, verifyAzureCvmJson, verifyAzureVtpm } from "./evidence-azure.js";
import { openCollateral } from "./evidence-collateral.js";
import {
  detectEvidenceType,
  EVIDENCE_TYPES,
  type EvidenceType,
  expectedReportData,
  MAX_EVIDENCE_FILE,
  parseIsoTime,
  readBoundedFile,
  readCertificates,
} from "./evidence-input.js";
import {
  type EvidenceClaim,
  type EvidenceInputs,
  verifyNvidia,
  verifySgx,
  verifySnp,
  verifyTdx,
} from "./evidence-verify.js";

interface Options {
  type?: EvidenceType;
  cert: string[];
  collateral?: string;
  at?: string;
  nonce?: string;
  root: string[];
  signaturesOnly?: boolean;
  allowTrailingData?: boolean;
  json?: boolean;
  quoteAttest?: string;
  quoteSignature?: string;
  akPublic?: string;
}

/** The machine-readable report (`--json`). */
export interface EvidenceReport {
  readonly type: EvidenceType;
  readonly verdict: "pass" | "fail";
  /** "full", or "signatures-only" (TDX or SGX with --signatures-only: no TCB status). */
  readonly mode: "full" | "signatures-only";
  /** The validation time, ISO 8601. */
  readonly at: string;
  /** "embedded": the vendor roots built in; "custom": anchors from --root. */
  readonly roots: "embedded" | "custom";
  readonly claims: readonly EvidenceClaim[];
  readonly failure: {
    readonly kind: string;
    readonly code: string;
    readonly message: string;
    /** The field that did not decode (malformed evidence only). */
    readonly field: string | null;
  } | null;
}

const LABEL: Readonly<Record<EvidenceReport["type"], string>> = {
  snp: "AMD SEV-SNP attestation report",
  tdx: "Intel TDX quote",
  sgx: "Intel SGX quote",
  nvidia: "NVIDIA GPU attestation report",
  "azure-vtpm": "Azure confidential VM HCL report with its vTPM quote",
};

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `veritee evidence verify`. */
export function registerEvidence(program: Command): void {
  const evidence = program
    .command("evidence")
    .description("confidential-VM, enclave and GPU evidence: AMD SEV-SNP, Intel TDX, Intel SGX, NVIDIA");
  evidence
    .command("verify")
    .description(
      "verify an SEV-SNP report, a TDX or SGX quote or an NVIDIA GPU report offline at a pinned time, and print the verified claims or the typed failure",
    )
    .argument(
      "<file>",
      "the evidence: SEV-SNP report (1184 bytes), TDX or SGX quote, NVIDIA report (hex text), or Azure az-cvm-vtpm evidence JSON (or an HCL report with --quote-*)",
    )
    .addOption(
      new Option("--type <type>", "the evidence type; detected from the file when absent").choices(EVIDENCE_TYPES),
    )
    .option(
      "--cert <file>",
      "a certificate, PEM (one or more) or DER; repeatable. SEV-SNP: the VCEK, optionally the ASK and ARK; NVIDIA: the device chain",
      collect,
      [],
    )
    .option(
      "--collateral <dir>",
      "collateral directory, <dir>/<kind>/<key>: TDX/SGX TCB info, QE identity, TCB signing chain, CRLs; SEV-SNP: AMD's CRL",
    )
    .option("--at <iso-time>", "the validation time, ISO 8601, e.g. 2023-06-20 or 2023-06-20T12:00:00Z (default: now)")
    .option(
      "--nonce <hex>",
      "the expected nonce: SEV-SNP/TDX/SGX report data (1..64 bytes, zero-padded); NVIDIA 32 bytes",
    )
    .option(
      "--root <file>",
      "a trust anchor (PEM or DER) replacing the embedded vendor roots; repeatable. For tests and roots not embedded yet",
      collect,
      [],
    )
    .option(
      "--signatures-only",
      "TDX/SGX: verify the quote's signatures and PCK chain without collateral (no TCB status)",
    )
    .option(
      "--allow-trailing-data",
      "TDX/SGX: ignore any bytes after the quote (zero padding is always accepted); they are not signed",
    )
    .option("--quote-attest <file>", "azure-vtpm: the TPM quote's TPMS_ATTEST (tpm2_quote -m)")
    .option("--quote-signature <file>", "azure-vtpm: the quote's TPMT_SIGNATURE (tpm2_quote -s)")
    .option("--ak-public <file>", "azure-vtpm: the quoting AK's TPM2B_PUBLIC (tpm2_readpublic -o)")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      "\nExit codes: 0 verified, 2 usage, 10 malformed evidence, 11 verification failed, 13 collateral missing.\nSee docs/CLI.md for the collateral directory layout.",
    )
    .action(async (file: string, opts: Options) => runVerify(file, opts));
}

async function runVerify(file: string, opts: Options): Promise<void> {
  // Every option is checked before any evidence is touched: a usage error never looks like a verdict.
  const at = opts.at === undefined ? new Date() : parseIsoTime(opts.at);
  const azure = opts.type === "azure-vtpm";
  const quoteFiles = [opts.quoteAttest, opts.quoteSignature, opts.akPublic];
  // An HCL report FILE needs the quote files; az-cvm-vtpm evidence JSON carries the quote (checked once read).
  const legacyAzure = quoteFiles.some((f) => f !== undefined);
  const azureUsage =
    "--type azure-vtpm needs --quote-attest, --quote-signature, --ak-public and --nonce (the quote's extraData) with an HCL report FILE, or FILE as az-cvm-vtpm evidence JSON";
  if (azure && legacyAzure && (quoteFiles.some((f) => f === undefined) || opts.nonce === undefined)) {
    throw new CliError("bad-argument", azureUsage);
  }
  if (!azure && legacyAzure) {
    throw new CliError("bad-argument", "--quote-attest, --quote-signature and --ak-public apply to --type azure-vtpm");
  }
  const bytes = await readBoundedFile(file, "FILE", MAX_EVIDENCE_FILE);
  const type = opts.type ?? detectEvidenceType(bytes);
  const azureJson = type === "azure-vtpm" && isJsonEvidence(bytes);
  if (azure && !legacyAzure && !azureJson) throw new CliError("bad-argument", azureUsage);
  if (azureJson && legacyAzure) {
    throw new CliError(
      "bad-argument",
      "az-cvm-vtpm evidence JSON carries its quote: drop --quote-attest, --quote-signature and --ak-public",
    );
  }
  if (type === undefined) {
    throw new CliError(
      "bad-argument",
      "cannot tell the evidence type from the file; give --type snp|tdx|sgx|nvidia|azure-vtpm",
    );
  }
  const dcap = type === "tdx" || type === "sgx";
  if (!dcap && (opts.signaturesOnly || opts.allowTrailingData)) {
    throw new CliError("bad-argument", "--signatures-only and --allow-trailing-data apply to TDX and SGX quotes only");
  }
  let nonce: Uint8Array | undefined;
  if (opts.nonce !== undefined) {
    // NVIDIA: the raw SPDM nonce (its length is checked with the report); SEV-SNP/TDX: REPORT_DATA.
    // Azure: the quote's extraData, raw.
    nonce =
      type === "nvidia" || type === "azure-vtpm"
        ? parseHexOption(opts.nonce, "--nonce")
        : expectedReportData(opts.nonce);
  }
  const [certs, roots, collateral] = await Promise.all([
    readCertificates(opts.cert),
    opts.root.length === 0 ? undefined : readCertificates(opts.root),
    opts.collateral === undefined ? undefined : openCollateral(opts.collateral),
  ]);
  const inputs: EvidenceInputs = {
    evidence: bytes,
    certs,
    at,
    nonce,
    roots,
    collateral,
    signaturesOnly: opts.signaturesOnly === true,
    allowTrailingData: opts.allowTrailingData === true,
  };

  const base = { type, at: at.toISOString(), roots: roots === undefined ? "embedded" : "custom" } as const;
  let report: EvidenceReport;
  let failure: unknown;
  try {
    const outcome = azureJson
      ? await verifyAzureCvmJson(inputs)
      : type === "azure-vtpm"
        ? await verifyAzureVtpm(inputs, {
            attest: await readBoundedFile(opts.quoteAttest!, "--quote-attest", MAX_EVIDENCE_FILE),
            signature: await readBoundedFile(opts.quoteSignature!, "--quote-signature", MAX_EVIDENCE_FILE),
            akPublic: await readBoundedFile(opts.akPublic!, "--ak-public", MAX_EVIDENCE_FILE),
          })
        : await VERIFY[type](inputs);
    report = { ...base, verdict: "pass", mode: outcome.mode, claims: outcome.claims, failure: null };
  } catch (error) {
    // Usage and environment errors are not verdicts on the evidence: report them as such.
    if (error instanceof CliError || !(error instanceof VeriteeError)) throw error;
    failure = error;
    const mode = dcap && opts.signaturesOnly ? "signatures-only" : "full";
    report = { ...base, verdict: "fail", mode, claims: [], failure: describe(error) };
  }
  if (opts.json) out(JSON.stringify(report, null, 2));
  else printReport(report);
  if (failure !== undefined) throw failure;
}

const VERIFY = { snp: verifySnp, tdx: verifyTdx, sgx: verifySgx, nvidia: verifyNvidia } as const;

function describe(error: VeriteeError): NonNullable<EvidenceReport["failure"]> {
  return {
    kind: error.kind,
    code: error.code,
    message: error.message,
    field: error instanceof MalformedError ? error.what : null,
  };
}

function printReport(report: EvidenceReport): void {
  const anchors =
    report.roots === "custom" ? "the --root anchors (not the vendor's embedded roots)" : "the vendor's embedded roots";
  if (report.roots === "custom") out("⚠ trust anchors from --root, not the vendor's embedded roots");
  out(`${LABEL[report.type]}, at ${report.at}, against ${anchors}`);
  const width = Math.max(0, ...report.claims.map((c) => c.name.length));
  for (const claim of report.claims) {
    out(`  ${claim.status === "verified" ? "✓" : "·"} ${claim.name.padEnd(width)}  ${claim.value}`);
  }
  if (report.failure !== null) {
    const f = report.failure;
    out(`  ✗ ${f.kind} error ${f.message}`);
    out(`FAIL — ${f.kind} error ${f.code}${f.field === null ? "" : ` (${f.field})`}`);
    return;
  }
  out(`PASS${report.mode === "signatures-only" ? " — signatures only: TCB status not evaluated" : ""}`);
}
