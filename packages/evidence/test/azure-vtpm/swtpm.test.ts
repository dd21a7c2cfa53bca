/**
 * A real TPM quote (swtpm through tpm2-tools) under an AK that a forged HCL
 * report names, as on an Azure confidential VM where the paravisor's vTPM
 * makes the AK: the attestation verifies, and a quote by the vTPM's other
 * AK or with a stale nonce does not. Skipped without swtpm/tpm2-tools.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { forgeAzureSnp, paddedBase64url, runtimeClaimsJson } from "@veritee/testkit/azure-vtpm";
import { verifyAzureVtpmAttestation } from "../../src/azure-vtpm/verify.js";
import { verifyAzCvmEvidence } from "../../src/azure-vtpm/verify-cvm-evidence.js";
import { decodeTpmsAttest } from "../../src/tpm/attest.js";
import { decodePcrValuesFile, type PcrValues } from "../../src/tpm/pcr-selection.js";
import { decodeTpmtSignature } from "../../src/tpm/signature.js";
import { startSwtpm, swtpmUnavailable } from "../support/swtpm.js";
import { AT, akJwk, endorsement, milan, rejectsVerification } from "./fixtures.js";

test("an HCL report naming a swtpm AK, with that AK's real quote, verifies", {
  skip: swtpmUnavailable,
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "veritee-azure-"));
  const state = path.join(dir, "state");
  mkdirSync(state);
  const tpm = await startSwtpm(state);
  try {
    const f = (n: string) => path.join(dir, n);
    const run = (tool: string, ...args: string[]) => {
      tpm.tpm2(tool, args, dir);
      tpm.tpm2("tpm2_flushcontext", ["-t"], dir);
    };
    run("tpm2_createek", "-c", f("ek.ctx"), "-G", "rsa", "-u", f("ek.pub"));
    // Azure's vTPM AK is RSA 2048 with RSASSA; a second AK plays "another key of the same TPM".
    for (const name of ["ak", "other"]) {
      run(
        "tpm2_createak",
        "-C",
        f("ek.ctx"),
        "-c",
        f(`${name}.ctx`),
        "-G",
        "rsa",
        "-s",
        "rsassa",
        "-g",
        "sha256",
        "-u",
        f(`${name}.pub`),
        "-f",
        "tss",
      );
    }
    const quote = (name: string, nonce: Buffer) => {
      run(
        "tpm2_quote",
        "-c",
        f(`${name}.ctx`),
        "-l",
        "sha256:0,1,2,3,4,5,6,7",
        "-q",
        nonce.toString("hex"),
        "-g",
        "sha256",
        "-m",
        f(`${name}.msg`),
        "-s",
        f(`${name}.sig`),
        "-o",
        f(`${name}.pcrs`),
        "-F",
        "values",
      );
      const attest = new Uint8Array(readFileSync(f(`${name}.msg`)));
      const decoded = decodeTpmsAttest(attest);
      if (decoded.attested.type !== "quote") throw new Error("not a quote");
      return {
        attest,
        signature: new Uint8Array(readFileSync(f(`${name}.sig`))),
        pcrValues: decodePcrValuesFile(new Uint8Array(readFileSync(f(`${name}.pcrs`))), decoded.attested.pcrSelect),
      };
    };
    const akPublic = new Uint8Array(readFileSync(f("ak.pub")));
    const claims = runtimeClaimsJson({
      akPub: akJwk(akPublic),
      ekPub: akJwk(new Uint8Array(readFileSync(f("ek.pub")))),
    });
    const { hclReport } = forgeAzureSnp(milan, claims);
    const nonce = randomBytes(32);
    const q = quote("ak", nonce);
    const options = {
      hclReport,
      snp: { vcek: endorsement },
      quote: { attest: q.attest, signature: q.signature },
      akPublic,
      nonce: new Uint8Array(nonce),
      pcrValues: q.pcrValues,
      requirePcrValues: true,
      at: AT,
    };
    const v = await verifyAzureVtpmAttestation(options);
    assert.equal(v.claims.ekPub?.kty, "RSA");
    assert.equal(v.quote.pcrValues?.get("sha256")?.size, 8);

    const stale = new Uint8Array(nonce);
    stale[31]! ^= 1;
    await rejectsVerification(verifyAzureVtpmAttestation({ ...options, nonce: stale }), "nonce-mismatch");
    const o = quote("other", nonce);
    const otherPublic = new Uint8Array(readFileSync(f("other.pub")));
    await rejectsVerification(
      verifyAzureVtpmAttestation({ ...options, quote: o, pcrValues: o.pcrValues, akPublic: otherPublic }),
      "azure-ak-mismatch",
    );
    await rejectsVerification(
      verifyAzureVtpmAttestation({ ...options, quote: o, pcrValues: o.pcrValues }),
      "signature-invalid",
    );

    // The same real quote as az-cvm-vtpm writes it: hex TPMS_ATTEST, the bare RSASSA octets, the
    // quoted SHA-256 PCRs in order; no TPM2B_PUBLIC, the AK is the HCL's HCLAkPub.
    const asJson = (x: { attest: Uint8Array; signature: Uint8Array; pcrValues: PcrValues }) => {
      const sig = decodeTpmtSignature(x.signature);
      assert.ok(sig.sigAlg === "rsassa" && sig.hash === "sha256");
      const pcrs = [...(x.pcrValues.get("sha256")?.values() ?? [])].map((v) => Buffer.from(v).toString("hex"));
      const json = {
        version: 1,
        tpm_quote: {
          signature: Buffer.from(sig.sig).toString("hex"),
          message: Buffer.from(x.attest).toString("hex"),
          pcrs,
        },
        hcl_report: paddedBase64url(hclReport),
        vcek: paddedBase64url(milan.vcek),
      };
      return new TextEncoder().encode(JSON.stringify(json));
    };
    const fromJson = await verifyAzCvmEvidence({
      evidence: asJson(q),
      nonce: new Uint8Array(nonce),
      snp: { roots: milan.roots },
      at: AT,
    });
    assert.equal(fromJson.akSource, "runtime-claims");
    assert.equal(fromJson.quote.pcrValues?.get("sha256")?.size, 8);
    await rejectsVerification(
      verifyAzCvmEvidence({ evidence: asJson(o), nonce: new Uint8Array(nonce), snp: { roots: milan.roots }, at: AT }),
      "signature-invalid",
    );
  } finally {
    await tpm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
