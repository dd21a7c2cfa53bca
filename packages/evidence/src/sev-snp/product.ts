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

/**
 * The product a version 3+ report's CPUID_FAM_ID / CPUID_MOD_ID name (56860
 * Table 23, 0x188–0x189: family and model of CPUID Fn0000_0001_EAX, base plus
 * extended). EPYC server parts by family and model: 19h models 00h–0Fh are
 * Milan (Zen 3), 19h models 10h–1Fh and A0h–AFh are Genoa and its Bergamo
 * and Siena variants (Zen 4, which share Genoa's keys), 1Ah models 00h–1Fh
 * are Turin (Zen 5, both Turin and Turin dense). Undefined for any other
 * family or model: the caller falls back to the certificate's product.
 */
export function snpProductFromCpuid(cpuid: {
  readonly family: number;
  readonly model: number;
}): SnpProduct | undefined {
  const { family, model } = cpuid;
  if (family === 0x19) {
    if (model <= 0x0f) return "Milan";
    if ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)) return "Genoa";
    return undefined;
  }
  if (family === 0x1a && model <= 0x1f) return "Turin";
  return undefined;
}
