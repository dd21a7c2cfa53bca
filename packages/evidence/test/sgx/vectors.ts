/**
 * The real SGX vectors (../shared/vectors/sgx, see PROVENANCE.md), read in
 * place, and the pinned time they verify at.
 */
import { readFileSync } from "node:fs";
import { sharedPath } from "@veritee/testkit";

/** Read one file of shared/vectors/sgx. */
export function sgxVector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(sharedPath("vectors", "sgx", name)));
}

/** The Occlum enclave's quote (FMSPC 00606a000000, a DEBUG enclave). */
export const OCCLUM = sgxVector("occlum_quote.dat");
/** Automata's v3 sample quote, from hex text (FMSPC 00606a000000, DEBUG off). */
export const QUOTE_V3 = Uint8Array.from(Buffer.from(new TextDecoder().decode(sgxVector("quotev3.hex")).trim(), "hex"));
export const TCB_INFO = sgxVector("sgx_tcbinfov3_00606a000000.json");
export const QE_IDENTITY = sgxVector("sgx_qeidentity_v4.json");
/** Intel's SGX TCB Signing certificate (DER, issued by the Intel SGX Root CA). */
export const TCB_SIGNING = sgxVector("intel_sgx_tcb_signing.der");

/**
 * Inside every validity window of the material: both PCK certificates
 * (2023-04-26..2030, 2024-03-07..2031), the Platform CA (2018..2033), TCB
 * info (2025-08-15T05:08:18Z..09-14), QE identity (2025-08-15T04:36:46Z..
 * 09-14), TCB signing certificate (2025-05-06..2032-05-06).
 */
export const SGX_AT = new Date("2025-08-20T00:00:00Z");
