import { readFileSync } from "node:fs";
import { sharedPath } from "@veritee/testkit";

const read = (name: string) => new Uint8Array(readFileSync(sharedPath("vectors", "sev-snp", name)));

/** The real Milan report (go-sev-guest testdata) and the VCEK that signed it. */
export const SNP_REPORT = read("attestation.bin");
export const SNP_VCEK = read("vcek.der");

/** DER certificates of a PEM file, in file order. */
export function pemCertificates(name: string): Uint8Array[] {
  const text = readFileSync(sharedPath("vectors", "sev-snp", name), "utf8");
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  return blocks.map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")));
}

/** AMD serves the chain ASK first, ARK second. */
export const [MILAN_ASK, MILAN_ARK] = pemCertificates("ask_ark_milan.pem") as [Uint8Array, Uint8Array];
export const [GENOA_ASK, GENOA_ARK] = pemCertificates("ask_ark_genoa.pem") as [Uint8Array, Uint8Array];

/**
 * The pinned verification time: inside the VCEK's validity (2022-09-24 to
 * 2029-09-24) and the report's era (captured in late 2022).
 */
export const SNP_AT = new Date("2023-01-01T00:00:00Z");
