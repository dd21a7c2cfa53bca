/**
 * The per-TEE part of `veritee evidence verify`: run the evidence package's
 * verifier for one kind of evidence and turn its verified result into
 * claims to print. Claims are read from the verifier's result only, never
 * from the raw input, so nothing unverified is shown as verified.
 */
import { bytesEqual, toHex } from "@veritee/core";
import {
  COLLATERAL_KINDS,
  CollateralError,
  type CollateralSource,
  collateralKeys,
  decodeCertificate,
  decodeGpuReport,
  decodeSgxQuote,
  decodeSnpEndorsementExtensions,
  decodeTdxQuote,
  getCollateral,
  resolveSgxCollateral,
  resolveSgxCrls,
  resolveTdxCollateral,
  resolveTdxCrls,
  type SgxReportBody,
  SNP_PRODUCTS,
  type SnpRoots,
  type SnpTcbVersion,
  snpProductFromName,
  type TdxQuoteBody,
  VerificationError,
  type VerifiedCertificateChain,
  type VerifiedGpuReport,
  type VerifiedSgxQuote,
  type VerifiedSgxQuoteSignatures,
  type VerifiedSnpReport,
  type VerifiedTdxQuote,
  type VerifiedTdxQuoteSignatures,
  verifyGpuReport,
  verifySgxQuote,
  verifySgxQuoteSignatures,
  verifySnpReport,
  verifyTdxQuote,
  verifyTdxQuoteSignatures,
} from "@veritee/evidence";
import { CliError } from "../cli-error.js";
import { hexText } from "./evidence-input.js";

/** One printed claim: a verified value, or a check that was not made (and why). */
export interface EvidenceClaim {
  readonly name: string;
  readonly value: string;
  /** "verified": proven by the verifier (or checked against an option); "not-checked": skipped, see value. */
  readonly status: "verified" | "not-checked";
}

/** What one verifier proved. */
export interface EvidenceOutcome {
  /** "full", or "signatures-only" for a TDX quote verified without collateral. */
  readonly mode: "full" | "signatures-only";
  readonly claims: readonly EvidenceClaim[];
}

/** Inputs shared by every evidence type. */
export interface EvidenceInputs {
  readonly evidence: Uint8Array;
  /** `--cert` certificates (DER), in the order given. */
  readonly certs: readonly Uint8Array[];
  readonly at: Date;
  /**
   * `--nonce`: for SEV-SNP, TDX and SGX the 64 bytes of REPORT_DATA expected
   * (see `expectedReportData`), for NVIDIA the raw SPDM nonce.
   */
  readonly nonce: Uint8Array | undefined;
  /** `--root` anchors (DER) replacing the embedded vendor roots, or undefined. */
  readonly roots: readonly Uint8Array[] | undefined;
  /** `--collateral DIR`, opened. */
  readonly collateral: CollateralSource | undefined;
  /** `--signatures-only` (TDX, SGX). */
  readonly signaturesOnly: boolean;
  /** `--allow-trailing-data` (TDX, SGX). */
  readonly allowTrailingData: boolean;
}

const verified = (name: string, value: string): EvidenceClaim => ({ name, value, status: "verified" });
const skipped = (name: string, value: string): EvidenceClaim => ({ name, value, status: "not-checked" });

function cn(chain: VerifiedCertificateChain): string {
  const name = chain.anchor.subject;
  return name.attributes.find((a) => a.oid === "2.5.4.3")?.value ?? name.text;
}

function reportDataClaim(actual: Uint8Array, expected: Uint8Array | undefined): EvidenceClaim {
  if (expected === undefined) return skipped("nonce", "not checked (no --nonce)");
  // The verifiers prove what the TEE signed; whether it answers this caller's nonce is checked here.
  if (!bytesEqual(actual, expected)) {
    throw new VerificationError("nonce-mismatch", "REPORT_DATA is not the expected --nonce value");
  }
  return verified("nonce", "REPORT_DATA equals --nonce");
}

// ---- AMD SEV-SNP ----

export interface SnpCerts {
  vcek: Uint8Array;
  ask?: Uint8Array;
  ark?: Uint8Array;
}

/**
 * Sort `--cert` certificates into VCEK/VLEK (the one with AMD's hwID or
 * cspID extension, 57230 Table 9), ARK (self-issued) and ASK/ASVK (the
 * rest). The roles only place them; the chain is then verified.
 */
export function sortSnpCerts(certs: readonly Uint8Array[]): SnpCerts {
  let vcek: Uint8Array | undefined;
  let ask: Uint8Array | undefined;
  let ark: Uint8Array | undefined;
  const twice = (role: string) => new CliError("bad-argument", `--cert: more than one ${role} certificate`);
  for (const der of certs) {
    const cert = decodeCertificate(der);
    const amd = cert.extensions.some((e) => e.oid === "1.3.6.1.4.1.3704.1.4" || e.oid === "1.3.6.1.4.1.3704.1.5");
    if (amd) {
      if (vcek !== undefined) throw twice("VCEK/VLEK");
      vcek = der;
    } else if (bytesEqual(cert.subject.der, cert.issuer.der)) {
      if (ark !== undefined) throw twice("ARK");
      ark = der;
    } else {
      if (ask !== undefined) throw twice("ASK/ASVK");
      ask = der;
    }
  }
  if (vcek === undefined) throw new CliError("bad-argument", "--cert: give the VCEK (or VLEK) certificate");
  return { vcek, ...(ask === undefined ? {} : { ask }), ...(ark === undefined ? {} : { ark }) };
}

function tcbText(tcb: SnpTcbVersion): string {
  const parts = [
    ...(tcb.fmc === undefined ? [] : [`fmc ${tcb.fmc}`]),
    `bootloader ${tcb.bootloader}`,
    `tee ${tcb.tee}`,
    `snp ${tcb.snp}`,
    `microcode ${tcb.microcode}`,
  ];
  return `${parts.join(", ")} (0x${tcb.raw.toString(16).padStart(16, "0")})`;
}

/**
 * AMD's CRL for the VCEK's product from `--collateral DIR` (`crl/<product>`),
 * and the claim to print once the verifier has applied it: "not checked"
 * when there is no directory or no CRL in it. The product only picks the
 * file; `verifySnpEndorsement` checks the CRL against the certificates.
 * Shared by `--type snp` and `--type azure-vtpm`, so both apply revocation alike.
 */
export async function snpRevocation(
  collateral: CollateralSource | undefined,
  vcek: Uint8Array,
): Promise<{ readonly crl: Uint8Array | undefined; readonly claim: EvidenceClaim }> {
  const ext = decodeSnpEndorsementExtensions(decodeCertificate(vcek));
  const product = ext.productName === undefined ? undefined : snpProductFromName(ext.productName);
  const crl =
    collateral === undefined || product === undefined
      ? undefined
      : await getCollateral(collateral, collateralKeys.snpCrl(product));
  const claim =
    crl === undefined
      ? skipped("revocation", `not checked (no ${COLLATERAL_KINDS.snpCrl}/${product ?? "<product>"} collateral)`)
      : verified("revocation", "ASK not on AMD's CRL");
  return { crl, claim };
}

/**
 * Verify an SEV-SNP report with `verifySnpReport`: VCEK from `--cert`, the
 * ASK and ARK from `--cert` when given (an ARK must equal the trusted one),
 * AMD's CRL from the collateral directory (`crl/<product>`) when present.
 */
export async function verifySnp(inputs: EvidenceInputs): Promise<EvidenceOutcome> {
  const certs = sortSnpCerts(inputs.certs);
  const { crl, claim: revocation } = await snpRevocation(inputs.collateral, certs.vcek);
  let roots: SnpRoots | undefined;
  if (inputs.roots !== undefined) {
    if (inputs.roots.length !== 1) throw new CliError("bad-argument", "--root: give exactly one ARK for SEV-SNP");
    const ark = inputs.roots[0]!;
    roots = Object.fromEntries(SNP_PRODUCTS.map((p) => [p, { ark }]));
  }
  const v: VerifiedSnpReport = await verifySnpReport({
    report: inputs.evidence,
    vcek: certs.vcek,
    at: inputs.at,
    ...(certs.ask === undefined && certs.ark === undefined
      ? {}
      : { chain: { ...(certs.ask ? { ask: certs.ask } : {}), ...(certs.ark ? { ark: certs.ark } : {}) } }),
    ...(crl === undefined ? {} : { crl }),
    ...(roots === undefined ? {} : { roots }),
  });
  const r = v.report;
  const p = r.policy;
  const claims: EvidenceClaim[] = [
    verified("product", v.product),
    verified(
      "signer",
      `${v.signer.toUpperCase()} → ${cn(v.endorsement.chain)} (${v.endorsement.chain.path.length} certificates)`,
    ),
    revocation,
    verified("report version", String(r.version)),
    verified("measurement", toHex(r.measurement)),
    verified("report data", toHex(r.reportData)),
    reportDataClaim(r.reportData, inputs.nonce),
    verified("host data", toHex(r.hostData)),
    verified("reported TCB", tcbText(r.reportedTcb)),
    verified("committed TCB", tcbText(r.committedTcb)),
    verified("current TCB", tcbText(r.currentTcb)),
    verified("launch TCB", tcbText(r.launchTcb)),
    verified("chip id", r.maskChipKey ? "masked by the host" : toHex(r.chipId)),
    verified(
      "guest policy",
      `abi ${p.abiMajor}.${p.abiMinor}, debug ${p.debug ? "allowed" : "off"}, migration agent ${p.migrateMa ? "allowed" : "off"}, smt ${p.smt ? "allowed" : "off"}`,
    ),
    verified("vmpl", String(r.vmpl)),
    verified("guest svn", String(r.guestSvn)),
    verified("family id", toHex(r.familyId)),
    verified("image id", toHex(r.imageId)),
    verified("id key digest", toHex(r.idKeyDigest)),
    verified("author key digest", r.authorKeyEn ? toHex(r.authorKeyDigest) : "none"),
    verified(
      "firmware",
      `${r.currentVersion.major}.${r.currentVersion.minor}.${r.currentVersion.build} (committed ${r.committedVersion.major}.${r.committedVersion.minor}.${r.committedVersion.build})`,
    ),
  ];
  return { mode: "full", claims };
}

// ---- Intel TDX ----

function tdxBodyClaims(body: TdxQuoteBody): EvidenceClaim[] {
  const debug = (body.tdAttributes[0]! & 1) !== 0;
  return [
    verified("MRTD", toHex(body.mrTd)),
    ...body.rtmrs.map((rtmr, i) => verified(`RTMR${i}`, toHex(rtmr))),
    verified("report data", toHex(body.reportData)),
    verified("TD attributes", `${toHex(body.tdAttributes)} (debug ${debug ? "on" : "off"})`),
    verified("XFAM", toHex(body.xfam)),
    verified("MRCONFIGID", toHex(body.mrConfigId)),
    verified("MROWNER", toHex(body.mrOwner)),
    verified("MROWNERCONFIG", toHex(body.mrOwnerConfig)),
    verified("MRSEAM", toHex(body.mrSeam)),
    verified("MRSIGNERSEAM", toHex(body.mrSignerSeam)),
    verified("TEE_TCB_SVN", toHex(body.teeTcbSvn)),
    ...(body.mrServiceTd === undefined ? [] : [verified("MRSERVICETD", toHex(body.mrServiceTd))]),
  ];
}

function tdxCommonClaims(v: VerifiedTdxQuote | VerifiedTdxQuoteSignatures, nonce: Uint8Array | undefined) {
  const q = v.quote;
  const crl = (checked: boolean, what: string) =>
    checked ? verified(what, "checked: not revoked") : skipped(what, "not checked (no CRL in the collateral)");
  return [
    verified("quote", `version ${q.header.version}, TD ${q.body.kind === "td1.0" ? "1.0" : "1.5"} body`),
    ...(q.trailingBytes === 0
      ? []
      : [verified("trailing bytes", `${q.trailingBytes} after the quote, not signed, dropped`)]),
    verified("PCK chain", `PCK → ${cn(v.pckChain)} (${v.pckChain.path.length} certificates)`),
    crl(v.revocation.pckCrl, "PCK CRL"),
    crl(v.revocation.rootCrl, "root CA CRL"),
    verified("FMSPC", v.pck.fmspc),
    verified("PCE SVN", String(v.pck.pceSvn)),
    verified("SGX TCB components", v.pck.sgxTcbComponents.join(",")),
    ...tdxBodyClaims(q.body),
    reportDataClaim(q.body.reportData, nonce),
  ];
}

/**
 * Verify a TDX quote: with collateral, `verifyTdxQuote` (signatures, PCK
 * chain, CRLs when present, TCB info and QE identity, TCB status); with
 * `--signatures-only`, `verifyTdxQuoteSignatures` (no TCB status). Without
 * either, the missing collateral is a {@link CollateralError}.
 */
export async function verifyTdx(inputs: EvidenceInputs): Promise<EvidenceOutcome> {
  if (inputs.certs.length > 0) {
    throw new CliError("bad-argument", "--cert is not used for TDX: the PCK chain is inside the quote");
  }
  const quote = decodeTdxQuote(inputs.evidence, { trailingData: inputs.allowTrailingData ? "ignore" : "reject" });
  const roots = inputs.roots === undefined ? {} : { roots: inputs.roots };
  if (inputs.signaturesOnly) {
    const crls = inputs.collateral === undefined ? {} : await resolveTdxCrls(inputs.collateral, quote);
    const v = await verifyTdxQuoteSignatures({ quote, at: inputs.at, ...roots, ...crls });
    const claims = [
      ...tdxCommonClaims(v, inputs.nonce),
      skipped("TCB status", "not checked (--signatures-only: no TCB info or QE identity)"),
    ];
    return { mode: "signatures-only", claims };
  }
  if (inputs.collateral === undefined) {
    throw new CollateralError(
      "collateral-missing",
      "a TDX quote needs --collateral DIR (TCB info, QE identity, TCB signing chain), or --signatures-only",
    );
  }
  const collateral = await resolveTdxCollateral(inputs.collateral, quote);
  const v = await verifyTdxQuote({ quote, collateral, at: inputs.at, ...roots });
  const t = v.tcb;
  const claims = [
    ...tdxCommonClaims(v, inputs.nonce),
    verified("TCB status", `platform ${t.platform}, QE ${t.qe}${t.module === undefined ? "" : `, module ${t.module}`}`),
    verified("TCB date", t.tcbDate.toISOString()),
    verified("TCB evaluation data number", String(t.tcbEvaluationDataNumber)),
    verified("advisories", t.advisoryIds.length === 0 ? "none" : t.advisoryIds.join(", ")),
  ];
  return { mode: "full", claims };
}

// ---- Intel SGX ----

function sgxBodyClaims(body: SgxReportBody): EvidenceClaim[] {
  // ATTRIBUTES.FLAGS bit 1 is DEBUG (Intel SDM Vol. 3D, SECS.ATTRIBUTES).
  const debug = (body.attributes[0]! & 0x02) !== 0;
  return [
    verified("MRENCLAVE", toHex(body.mrEnclave)),
    verified("MRSIGNER", toHex(body.mrSigner)),
    verified("ISV product id", String(body.isvProdId)),
    verified("ISV SVN", String(body.isvSvn)),
    verified("attributes", `${toHex(body.attributes)} (debug ${debug ? "on" : "off"})`),
    verified("MISCSELECT", body.miscSelect.toString(16).padStart(8, "0")),
    verified("CPUSVN", toHex(body.cpuSvn)),
    verified("CONFIGID", toHex(body.configId)),
    verified("CONFIGSVN", String(body.configSvn)),
    verified("ISV ext product id", toHex(body.isvExtProdId)),
    verified("ISV family id", toHex(body.isvFamilyId)),
    verified("report data", toHex(body.reportData)),
  ];
}

function sgxCommonClaims(v: VerifiedSgxQuote | VerifiedSgxQuoteSignatures, nonce: Uint8Array | undefined) {
  const q = v.quote;
  const crl = (checked: boolean, what: string) =>
    checked ? verified(what, "checked: not revoked") : skipped(what, "not checked (no CRL in the collateral)");
  return [
    verified("quote", `version ${q.header.version}, QE SVN ${q.header.qeSvn}, PCE SVN ${q.header.pceSvn}`),
    ...(q.trailingBytes === 0
      ? []
      : [verified("trailing bytes", `${q.trailingBytes} after the quote, not signed, dropped`)]),
    verified("PCK chain", `PCK → ${cn(v.pckChain)} (${v.pckChain.path.length} certificates)`),
    crl(v.revocation.pckCrl, "PCK CRL"),
    crl(v.revocation.rootCrl, "root CA CRL"),
    verified("FMSPC", v.pck.fmspc),
    verified("PCE SVN", String(v.pck.pceSvn)),
    verified("SGX TCB components", v.pck.sgxTcbComponents.join(",")),
    ...sgxBodyClaims(q.body),
    reportDataClaim(q.body.reportData, nonce),
  ];
}

/**
 * Verify an SGX quote (version 3): with collateral, `verifySgxQuote`
 * (signatures, PCK chain, CRLs when present, SGX TCB info and QE identity,
 * TCB status); with `--signatures-only`, `verifySgxQuoteSignatures`.
 * Without either, the missing collateral is a {@link CollateralError}.
 */
export async function verifySgx(inputs: EvidenceInputs): Promise<EvidenceOutcome> {
  if (inputs.certs.length > 0) {
    throw new CliError("bad-argument", "--cert is not used for SGX: the PCK chain is inside the quote");
  }
  const quote = decodeSgxQuote(inputs.evidence, { trailingData: inputs.allowTrailingData ? "ignore" : "reject" });
  const roots = inputs.roots === undefined ? {} : { roots: inputs.roots };
  if (inputs.signaturesOnly) {
    const crls = inputs.collateral === undefined ? {} : await resolveSgxCrls(inputs.collateral, quote);
    const v = await verifySgxQuoteSignatures({ quote, at: inputs.at, ...roots, ...crls });
    const claims = [
      ...sgxCommonClaims(v, inputs.nonce),
      skipped("TCB status", "not checked (--signatures-only: no TCB info or QE identity)"),
    ];
    return { mode: "signatures-only", claims };
  }
  if (inputs.collateral === undefined) {
    throw new CollateralError(
      "collateral-missing",
      "an SGX quote needs --collateral DIR (SGX TCB info, SGX QE identity, TCB signing chain), or --signatures-only",
    );
  }
  const collateral = await resolveSgxCollateral(inputs.collateral, quote);
  const v = await verifySgxQuote({ quote, collateral, at: inputs.at, ...roots });
  const t = v.tcb;
  const claims = [
    ...sgxCommonClaims(v, inputs.nonce),
    verified("TCB status", `platform ${t.platform}, QE ${t.qe}`),
    verified("TCB date", t.tcbDate.toISOString()),
    verified("TCB evaluation data number", String(t.tcbEvaluationDataNumber)),
    verified("advisories", t.advisoryIds.length === 0 ? "none" : t.advisoryIds.join(", ")),
  ];
  return { mode: "full", claims };
}

// ---- NVIDIA GPU ----

function statusByte(value: number | undefined): string {
  if (value === undefined) return "not reported";
  if (value === 0xaa) return "on";
  if (value === 0x55) return "off";
  return `0x${value.toString(16).padStart(2, "0")}`;
}

/**
 * Verify an NVIDIA GPU attestation report with `verifyGpuReport`: the
 * `--cert` chain (device certificate first), the expected nonce from
 * `--nonce` (32 bytes). Without `--nonce` the report's own nonce is taken,
 * so the nonce proves nothing and is shown as not checked.
 */
export async function verifyNvidia(inputs: EvidenceInputs): Promise<EvidenceOutcome> {
  if (inputs.certs.length === 0) throw new CliError("bad-argument", "--cert: give the GPU's certificate chain (PEM)");
  if (inputs.nonce !== undefined && inputs.nonce.length !== 32) {
    throw new CliError("bad-argument", "--nonce must be the 32-byte SPDM nonce for NVIDIA reports");
  }
  const text = hexText(inputs.evidence);
  const report = decodeGpuReport(text ?? inputs.evidence);
  const v: VerifiedGpuReport = await verifyGpuReport({
    report,
    certChain: inputs.certs,
    expectedNonce: inputs.nonce ?? report.request.nonce,
    at: inputs.at,
    ...(inputs.roots === undefined ? {} : { roots: inputs.roots }),
  });
  const o = v.opaque;
  const claims: EvidenceClaim[] = [
    verified("device chain", `device certificate → ${cn(v.chain)} (${v.chain.path.length} certificates)`),
    inputs.nonce === undefined
      ? skipped("nonce", `not checked (no --nonce); the report answers ${toHex(v.nonce)}`)
      : verified("nonce", `${toHex(v.nonce)} equals --nonce`),
    verified("chip", v.chip ?? "not named by the device certificate"),
    verified("driver version", o.driverVersion ?? "not reported"),
    verified("VBIOS version", o.vbiosVersion ?? "not reported"),
    ...(o.project === undefined ? [] : [verified("project", o.project)]),
    ...(o.projectSku === undefined ? [] : [verified("project SKU", o.projectSku)]),
    ...(o.chipSku === undefined ? [] : [verified("chip SKU", o.chipSku)]),
    verified("protected PCIe", statusByte(o.protectedPcieStatus)),
    verified("NVDEC0", statusByte(o.nvdec0Status)),
    ...(o.fwid === undefined ? [] : [verified("FWID", toHex(o.fwid))]),
    ...(o.featureMode === undefined ? [] : [verified("feature mode", o.featureMode)]),
    ...(o.opaqueDataVersion === undefined ? [] : [verified("opaque data version", String(o.opaqueDataVersion))]),
    // Fields of types this verifier does not know: signed, shown as found, never interpreted.
    ...o.unknown.map((f) => verified(`opaque field ${f.type}`, f.value.length === 0 ? "(empty)" : toHex(f.value))),
    ...[...v.measurements.values()].map((b) => verified(`measurement ${b.index}`, toHex(b.value))),
  ];
  return { mode: "full", claims };
}
