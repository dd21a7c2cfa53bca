/**
 * The endorsement of an SEV-SNP report, looked up in a
 * {@link CollateralSource} the way AMD KDS keys it (publication 57230 §4):
 * the VCEK by product, hwID (CHIP_ID) and REPORTED_TCB, the ASK+ARK chain
 * and the CRL by product. The keys come from the unverified report; that is
 * safe because `verifySnpReport` checks that the VCEK's hwID and TCB are the
 * report's and that the chain ends at the trusted ARK.
 */
import { looksLikePem, MalformedError } from "@veritee/core";
import { decodeSnpReport, type SnpReport } from "../sev-snp/decode.js";
import type { SnpProduct } from "../sev-snp/product.js";
import { decodePemCertificates } from "../tdx/pem.js";
import { CollateralError } from "./errors.js";
import { collateralKeys, getCollateral } from "./keys.js";
import type { CollateralSource } from "./source.js";

/** What `verifySnpReport` takes besides the report, as found in a source. */
export interface SnpEndorsementCollateral {
  /** The VCEK certificate (DER). */
  readonly vcek: Uint8Array;
  /** The ASK and ARK, when the source has the product's chain; absent: the embedded ones are used. */
  readonly chain?: { readonly ask: Uint8Array; readonly ark: Uint8Array };
  /** AMD's CRL for the product, when the source has it. */
  readonly crl?: Uint8Array;
}

/**
 * The VCEK, chain and CRL for `report` of `product` from `source`. The VCEK
 * (DER, or one PEM certificate) is required; the chain (PEM: ASK then ARK,
 * as KDS `cert_chain` serves it) and the CRL are included when present.
 *
 * @throws CollateralError `collateral-missing` when the VCEK is absent, or
 *   cannot be looked up (a VLEK-signed report, or a CHIP_ID the host masked).
 * @throws MalformedError for a report, VCEK PEM or chain that does not decode.
 * @example
 * const endorsement = await resolveSnpEndorsement(source, reportBytes, "Milan");
 * const verified = await verifySnpReport({ report: reportBytes, at, ...endorsement });
 */
export async function resolveSnpEndorsement(
  source: CollateralSource,
  report: Uint8Array | SnpReport,
  product: SnpProduct,
): Promise<SnpEndorsementCollateral> {
  const r = report instanceof Uint8Array ? decodeSnpReport(report) : report;
  if (r.signingKey !== "vcek") {
    throw new CollateralError("collateral-missing", "only a VCEK is keyed by chip and TCB; supply the VLEK directly");
  }
  if (r.maskChipKey) {
    throw new CollateralError("collateral-missing", "the host masked CHIP_ID, so the VCEK cannot be looked up");
  }
  // KDS takes Turin's hwID as the first 8 bytes of CHIP_ID (57230 §4.1), all 64 on Milan and Genoa.
  const hwId = product === "Turin" ? r.chipId.subarray(0, 8) : r.chipId;
  const vcekKey = collateralKeys.vcek(product, hwId, r.reportedTcb.raw);
  const [vcekBytes, chainBytes, crl] = await Promise.all([
    getCollateral(source, vcekKey),
    getCollateral(source, collateralKeys.certChain(product)),
    getCollateral(source, collateralKeys.snpCrl(product)),
  ]);
  if (vcekBytes === undefined) {
    throw new CollateralError(
      "collateral-missing",
      `the collateral source has no ${vcekKey.kind} for this chip and TCB`,
    );
  }
  let vcek = vcekBytes;
  if (looksLikePem(vcekBytes)) {
    const certs = decodePemCertificates(vcekBytes, "VCEK");
    if (certs.length !== 1) throw new MalformedError("bad-length", "VCEK", "one certificate");
    vcek = certs[0]!;
  }
  let chain: SnpEndorsementCollateral["chain"];
  if (chainBytes !== undefined) {
    const certs = decodePemCertificates(chainBytes, "SEV-SNP cert_chain");
    if (certs.length !== 2) throw new MalformedError("bad-length", "SEV-SNP cert_chain", "ASK then ARK");
    chain = Object.freeze({ ask: certs[0]!, ark: certs[1]! });
  }
  return Object.freeze({
    vcek,
    ...(chain === undefined ? {} : { chain }),
    ...(crl === undefined ? {} : { crl }),
  });
}
