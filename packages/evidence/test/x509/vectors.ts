/** Real certificates from ../shared/vectors/tpm/gce (see vectors/PROVENANCE.md). */
import { readFileSync } from "node:fs";
import { sharedPath } from "@veritee/testkit";

export const gceVector = (file: string): Uint8Array =>
  new Uint8Array(readFileSync(sharedPath("vectors", "tpm", "gce", file)));

/** Google's vTPM EK/AK root CA. */
export const GCE_ROOT: Uint8Array = gceVector("ca/tpm_ek_root_1.cer");
/** The intermediate that issued the vector's AK certificate. */
export const GCE_INTERMEDIATE_2: Uint8Array = gceVector("ca/tpm_ek_intermediate_2.crt");
/** Another intermediate with the same issuer but a different key. */
export const GCE_INTERMEDIATE_3: Uint8Array = gceVector("ca/tpm_ek_intermediate_3.crt");

/** The AK certificate inside the GCE attestation: field 6 (ak_cert) of attest.Attestation, found by its header. */
function gceAkCert(): Uint8Array {
  const pb = gceVector("gce-cos-85-nonce9009.pb");
  // Tag byte 0x32 is field 6, wire type 2; then the varint length 1340 (0xbc 0x0a); then the DER SEQUENCE.
  for (let i = 0; i + 4 < pb.length; i++) {
    if (pb[i] === 0x32 && pb[i + 1] === 0xbc && pb[i + 2] === 0x0a && pb[i + 3] === 0x30) {
      return pb.slice(i + 3, i + 3 + 1340);
    }
  }
  throw new Error("AK certificate not found in the vector");
}
export const GCE_AK_CERT: Uint8Array = gceAkCert();

/** Inside every GCE certificate's validity window (the AK certificate: 2021-08-31 to 2051-08-24). */
export const GCE_AT: Date = new Date("2022-01-01T00:00:00Z");
