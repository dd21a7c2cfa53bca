/**
 * AMD EPYC products that run SEV-SNP guests. The product decides which AMD
 * root key a VCEK chains to and how TCB_VERSION is laid out.
 */
import type { SnpTcbLayout } from "./decode.js";

/** The SEV-SNP product lines: EPYC 7003 (Milan), 9004 (Genoa), 9005 (Turin). */
export type SnpProduct = "Milan" | "Genoa" | "Turin";

/** Every product, in release order. */
export const SNP_PRODUCTS: readonly SnpProduct[] = Object.freeze(["Milan", "Genoa", "Turin"]);

/** The TCB_VERSION layout of a product (56860 §2.2 Table 3). */
export function snpTcbLayout(product: SnpProduct): SnpTcbLayout {
  return product === "Turin" ? "turin" : "milan-genoa";
}

/**
 * The product a VCEK's productName extension names: AMD writes the product
 * line followed by the silicon stepping, e.g. "Milan-B0" or "Genoa-B1"
 * (AMD VCEK Certificate and KDS Interface Specification, publication 57230,
 * Table 9). Undefined for anything else.
 */
export function snpProductFromName(name: string): SnpProduct | undefined {
  const line = name.split("-", 1)[0];
  return SNP_PRODUCTS.find((p) => p === line);
}
