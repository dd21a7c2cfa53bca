/**
 * The real TDX vectors (../shared/vectors/tdx, see PROVENANCE.md), read in
 * place, and the pinned times they verify at.
 */
import { readFileSync } from "node:fs";
import { sharedPath } from "@veritee/testkit";

/** Read one file of shared/vectors/tdx. */
export function tdxVector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(sharedPath("vectors", "tdx", name)));
}

/**
 * Inside every validity window of the v4 quote's material: PCK certificate
 * (2022-09-20..2029), PCK CRL (2023-06-08..07-08), root CRL (2023-04-03..
 * 2024-04-02), TCB info (2023-06-18..07-18), QE identity (2023-06-08..07-08),
 * TCB signing certificate (2018-05-21..2025-05-21).
 */
export const V4_AT = new Date("2023-06-20T00:00:00Z");
/** Inside the v5 sample's PCK certificate validity (2026-01-27..2033-01-27). */
export const V5_AT = new Date("2026-06-01T00:00:00Z");
