/**
 * The one collateral key scheme: which `(kind, key)` names each item in a
 * {@link CollateralSource}, for the directory layout (`<dir>/<kind>/<key>`,
 * docs/CLI.md), the resolvers and any network source alike. Keys follow what
 * the vendors' services key their answers on:
 *
 * - Intel PCS v4 (Intel SGX and TDX PCS API): TCB info by FMSPC
 *   (`/tdx/certification/v4/tcb?fmspc=`), one TD QE identity, one TCB signing
 *   chain (the `TCB-Info-Issuer-Chain` header), the PCK CRL by issuing CA
 *   (`/pckcrl?ca=platform|processor`) and the root CA CRL;
 * - AMD KDS (publication 57230 §4): the VCEK by product, hwID and TCB
 *   (`/vcek/v1/<product>/<hwid>?blSPL=…`), the ASK+ARK chain by product
 *   (`/vcek/v1/<product>/cert_chain`) and the CRL by product (`…/crl`).
 */
import { toHex } from "@veritee/core";
import type { SnpProduct } from "../sev-snp/product.js";
import type { CollateralSource } from "./source.js";

/** The kinds of collateral (the directory layout's folder names). */
export const COLLATERAL_KINDS = Object.freeze({
  /** Intel PCS TDX TCB info response body, keyed by FMSPC (12 lower-case hex digits). */
  tdxTcbInfo: "tdx-tcb-info",
  /** Intel PCS TDX QE identity response body, key {@link TDX_QE_IDENTITY_KEY}. */
  tdxQeIdentity: "tdx-qe-identity",
  /** Intel PCS SGX TCB info response body (`/sgx/certification/v4/tcb?fmspc=`), keyed by FMSPC. */
  sgxTcbInfo: "sgx-tcb-info",
  /** Intel PCS SGX QE identity response body (`/sgx/certification/v4/qe/identity`), key {@link SGX_QE_IDENTITY_KEY}. */
  sgxQeIdentity: "sgx-qe-identity",
  /** The TCB-Info-Issuer-Chain (PEM, TCB signing certificate first), key {@link INTEL_KEY}. */
  tcbSigningChain: "tcb-signing-chain",
  /** The PCK CRL of the PCK's issuing CA, keyed "platform" or "processor". */
  pckCrl: "pck-crl",
  /** The Intel SGX Root CA CRL, key {@link INTEL_KEY}. */
  rootCrl: "root-crl",
  /** AMD's CRL of ASKs/ASVKs (KDS `/vcek/v1/<product>/crl`), keyed by product. */
  snpCrl: "crl",
  /** A VCEK certificate (DER, as KDS serves it), keyed `<product>-<hwid hex>-<tcb hex>`. */
  vcek: "vcek",
  /** AMD's ASK+ARK chain (PEM, KDS `/vcek/v1/<product>/cert_chain`), keyed by product. */
  certChain: "cert-chain",
} as const);

/** One of {@link COLLATERAL_KINDS}. */
export type KnownCollateralKind = (typeof COLLATERAL_KINDS)[keyof typeof COLLATERAL_KINDS];

/** The key of the TDX QE identity. */
export const TDX_QE_IDENTITY_KEY = "td";
/** The key of Intel's single-instance items (TCB signing chain, root CA CRL). */
export const INTEL_KEY = "intel";
/** The key of the one SGX QE identity (Enclave Identity id "QE"). */
export const SGX_QE_IDENTITY_KEY = "qe";

/** A collateral item's name in a source. */
export interface CollateralKey {
  readonly kind: KnownCollateralKind;
  readonly key: string;
}

const FMSPC = /^[0-9a-f]{12}$/;

function item(kind: KnownCollateralKind, key: string): CollateralKey {
  return Object.freeze({ kind, key });
}

/**
 * Builders of every item's {@link CollateralKey}. Arguments are checked for
 * form (a RangeError otherwise): they come from unverified evidence, and a
 * key must never name anything but its own item.
 *
 * @example
 * const { kind, key } = collateralKeys.tdxTcbInfo("00906ed50000");
 * await source.get(kind, key); // <dir>/tdx-tcb-info/00906ed50000
 */
export const collateralKeys = Object.freeze({
  /** TDX TCB info for an FMSPC (12 hex digits, any case; the key is lower case). */
  tdxTcbInfo(fmspc: string): CollateralKey {
    const lower = fmspc.toLowerCase();
    if (!FMSPC.test(lower)) throw new RangeError("an FMSPC is 12 hex digits");
    return item(COLLATERAL_KINDS.tdxTcbInfo, lower);
  },
  /** The TD QE identity. */
  tdxQeIdentity(): CollateralKey {
    return item(COLLATERAL_KINDS.tdxQeIdentity, TDX_QE_IDENTITY_KEY);
  },
  /** SGX TCB info for an FMSPC (12 hex digits, any case; the key is lower case). */
  sgxTcbInfo(fmspc: string): CollateralKey {
    const lower = fmspc.toLowerCase();
    if (!FMSPC.test(lower)) throw new RangeError("an FMSPC is 12 hex digits");
    return item(COLLATERAL_KINDS.sgxTcbInfo, lower);
  },
  /** The SGX QE identity. */
  sgxQeIdentity(): CollateralKey {
    return item(COLLATERAL_KINDS.sgxQeIdentity, SGX_QE_IDENTITY_KEY);
  },
  /** Intel's TCB signing chain (the same for SGX and TDX collateral). */
  tcbSigningChain(): CollateralKey {
    return item(COLLATERAL_KINDS.tcbSigningChain, INTEL_KEY);
  },
  /** The PCK CRL of the Platform or Processor CA. */
  pckCrl(ca: "platform" | "processor"): CollateralKey {
    if (ca !== "platform" && ca !== "processor") throw new RangeError('the PCK CA is "platform" or "processor"');
    return item(COLLATERAL_KINDS.pckCrl, ca);
  },
  /** The Intel SGX Root CA CRL. */
  rootCrl(): CollateralKey {
    return item(COLLATERAL_KINDS.rootCrl, INTEL_KEY);
  },
  /** AMD's CRL of ASKs/ASVKs for a product. */
  snpCrl(product: SnpProduct): CollateralKey {
    return item(COLLATERAL_KINDS.snpCrl, checkProduct(product));
  },
  /** AMD's ASK+ARK chain for a product. */
  certChain(product: SnpProduct): CollateralKey {
    return item(COLLATERAL_KINDS.certChain, checkProduct(product));
  },
  /**
   * The VCEK of a chip at a TCB: `<product>-<hwid hex>-<tcb hex>`, hwID as
   * KDS takes it (64 bytes on Milan and Genoa, 8 on Turin), the TCB as the
   * 16 hex digits of the 64-bit REPORTED_TCB value (most significant first).
   */
  vcek(product: SnpProduct, hwId: Uint8Array, reportedTcb: bigint): CollateralKey {
    if (hwId.length !== (product === "Turin" ? 8 : 64)) throw new RangeError(`a ${product} hwID has the wrong length`);
    if (reportedTcb < 0n || reportedTcb > 0xffff_ffff_ffff_ffffn) throw new RangeError("a TCB is 64 bits");
    const tcb = reportedTcb.toString(16).padStart(16, "0");
    return item(COLLATERAL_KINDS.vcek, `${checkProduct(product)}-${toHex(hwId)}-${tcb}`);
  },
});

function checkProduct(product: SnpProduct): SnpProduct {
  if (product !== "Milan" && product !== "Genoa" && product !== "Turin")
    throw new RangeError("unknown SEV-SNP product");
  return product;
}

/** Fetch one item by its {@link CollateralKey}. */
export function getCollateral(source: CollateralSource, item: CollateralKey): Promise<Uint8Array | undefined> {
  return source.get(item.kind, item.key);
}
