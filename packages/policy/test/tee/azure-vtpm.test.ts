/**
 * The Azure confidential VM policy section: strict parsing, and a one-field
 * negative for every rule on attestations forged with
 * @veritee/testkit/azure-vtpm (a test AMD root and a software AK).
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { describe, it } from "node:test";
import { TPMA_OBJECT, toHex } from "@veritee/core";
import {
  decodeTpm2bPublic,
  encodeTpm2bPublic,
  encodeTpmsAttest,
  encodeTpmtPublic,
  encodeTpmtSignature,
  objectName,
  pcrDigest,
  publicKeyJwk,
  type TpmtPublic,
  type VerifiedAzureVtpm,
  verifyAzureVtpmAttestation,
  verifySnpEndorsement,
} from "@veritee/evidence";
import { forgeAzureSnp, runtimeClaimsJson, type VmConfigurationSpec } from "@veritee/testkit/azure-vtpm";
import { defaultSnpReportFields, SNP_POLICY, type SnpReportFields, snpTestPki } from "@veritee/testkit/snp";
import { PolicyError } from "../../src/errors.js";
import { type AzureVtpmRules, evaluateAzureVtpm, parseAzureVtpmRules } from "../../src/tee/azure-vtpm.js";

const AT = new Date("2025-01-01T00:00:00Z");
const pki = snpTestPki("Milan");
const endorsement = await verifySnpEndorsement({ vcek: pki.vcek, at: AT, roots: pki.roots });
const fields = defaultSnpReportFields("Milan");

// A software AK with the TCG AK template's attributes, and a quote it signs (TPM 2.0 Part 3 §18.4).
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = publicKey.export({ format: "jwk" });
const b64 = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? "", "base64url"));
const akFields: TpmtPublic = {
  type: "ecc",
  nameAlg: "sha256",
  objectAttributes:
    TPMA_OBJECT.fixedTPM |
    TPMA_OBJECT.fixedParent |
    TPMA_OBJECT.sensitiveDataOrigin |
    TPMA_OBJECT.userWithAuth |
    TPMA_OBJECT.restricted |
    TPMA_OBJECT.sign,
  authPolicy: new Uint8Array(0),
  symmetric: { algorithm: "null" },
  scheme: { scheme: "ecdsa", hash: "sha256" },
  curve: "p256",
  kdf: { scheme: "null" },
  x: b64(jwk.x),
  y: b64(jwk.y),
};
const akPublic = encodeTpm2bPublic(akFields);
const nonce = new Uint8Array(32).fill(0x42);
const pcrValues = new Map([["sha256" as const, new Map([[0, new Uint8Array(32).fill(1)]])]]);
const selection = [{ hash: "sha256" as const, sizeofSelect: 3, pcrs: [0] }];
const attest = encodeTpmsAttest({
  qualifiedSigner: objectName("sha256", encodeTpmtPublic(akFields)),
  extraData: nonce,
  clockInfo: { clock: 1n, resetCount: 0, restartCount: 0, safe: true },
  firmwareVersion: 1n,
  attested: { type: "quote", pcrSelect: selection, pcrDigest: pcrDigest("sha256", selection, pcrValues) },
});
const rs = new Uint8Array(sign("sha256", attest, { key: privateKey, dsaEncoding: "ieee-p1363" }));
const signature = encodeTpmtSignature({ sigAlg: "ecdsa", hash: "sha256", r: rs.slice(0, 32), s: rs.slice(32) });

async function verified(
  config: VmConfigurationSpec = {},
  snp: Partial<SnpReportFields> = {},
): Promise<VerifiedAzureVtpm> {
  const claims = runtimeClaimsJson({ akPub: publicKeyJwk(decodeTpm2bPublic(akPublic)), vmConfiguration: config });
  const { hclReport } = forgeAzureSnp(pki, claims, { snp });
  return verifyAzureVtpmAttestation({
    hclReport,
    snp: { vcek: endorsement },
    quote: { attest, signature },
    akPublic,
    nonce,
    pcrValues,
    at: AT,
  });
}

const SNP_STRICT = {
  measurement: toHex(fields.measurement),
  hostData: toHex(fields.hostData),
  reportData: "bound",
  allowDebug: false,
  allowMigrationAgent: false,
  allowSmt: true,
  minimumTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115, fmc: "any" },
  minimumGuestSvn: fields.guestSvn,
  familyId: toHex(fields.familyId),
  imageId: toHex(fields.imageId),
  vmpl: 0,
  idKeyDigest: toHex(fields.idKeyDigest),
  authorKeyDigest: toHex(fields.authorKeyDigest),
  products: ["Milan"],
};
const STRICT = {
  platforms: ["snp"],
  secureBoot: "required",
  tpmEnabled: "required",
  allowConsole: false,
  snp: SNP_STRICT,
  tdx: "any",
};

function refused(rules: AzureVtpmRules, v: VerifiedAzureVtpm, path: string, code: string) {
  assert.throws(
    () => evaluateAzureVtpm(rules, v),
    (e: unknown) => {
      assert.ok(e instanceof PolicyError, String(e));
      assert.equal(e.code, code, e.message);
      assert.equal(e.claim?.path, path);
      assert.equal(e.appraisal?.claims.filter((c) => !c.ok).length, 1, "exactly the one changed field fails");
      return true;
    },
  );
}

describe("parseAzureVtpmRules", () => {
  it("accepts the strict and the all-any section, deep-frozen", () => {
    const rules = parseAzureVtpmRules(STRICT);
    assert.ok(Object.isFrozen(rules) && Object.isFrozen(rules.platforms));
    const any = parseAzureVtpmRules({ ...STRICT, platforms: "any", secureBoot: "any", tpmEnabled: "any", snp: "any" });
    assert.equal(any.snp, "any");
  });

  it("refuses missing, unknown and mistyped members, naming the path", () => {
    const bad = (value: unknown, path: string) =>
      assert.throws(
        () => parseAzureVtpmRules(value),
        (e: unknown) => e instanceof PolicyError && e.code === "invalid-policy" && e.path === path,
        path,
      );
    const { allowConsole: _, ...missing } = STRICT;
    bad(missing, "azureVtpm.allowConsole");
    bad({ ...STRICT, extra: 1 }, 'azureVtpm["extra"]');
    bad({ ...STRICT, secureBoot: true }, "azureVtpm.secureBoot");
    bad({ ...STRICT, tpmEnabled: "optional" }, "azureVtpm.tpmEnabled");
    bad({ ...STRICT, allowConsole: "no" }, "azureVtpm.allowConsole");
    bad({ ...STRICT, platforms: [] }, "azureVtpm.platforms");
    bad({ ...STRICT, platforms: ["sgx"] }, "azureVtpm.platforms[0]");
    bad({ ...STRICT, platforms: ["snp", "snp"] }, "azureVtpm.platforms");
    bad({ ...STRICT, snp: { ...SNP_STRICT, vmpl: 7 } }, "azureVtpm.snp.vmpl");
    bad([], "azureVtpm");
  });
});

describe("evaluateAzureVtpm", async () => {
  const rules = parseAzureVtpmRules(STRICT);
  const good = await verified();

  it("a forged attestation passes every rule, with the delegated SEV-SNP claims", () => {
    const a = evaluateAzureVtpm(rules, good);
    assert.equal(a.verdict, "pass");
    assert.ok(a.claims.some((c) => c.path === "azureVtpm.snp.reportData" && c.ok));
    assert.ok(a.claims.some((c) => c.path === "azureVtpm.snp.measurement" && c.ok));
  });

  it("one field changed, one rule fails", async () => {
    refused(rules, await verified({ "secure-boot": false }), "azureVtpm.secureBoot", "tee-attribute-not-allowed");
    refused(rules, await verified({ "tpm-enabled": false }), "azureVtpm.tpmEnabled", "tee-attribute-not-allowed");
    refused(rules, await verified({ "console-enabled": true }), "azureVtpm.allowConsole", "tee-attribute-not-allowed");
    refused(
      parseAzureVtpmRules({ ...STRICT, platforms: ["tdx"] }),
      good,
      "azureVtpm.platforms",
      "tee-attribute-not-allowed",
    );
    refused(
      rules,
      await verified({}, { measurement: new Uint8Array(48) }),
      "azureVtpm.snp.measurement",
      "measurement-mismatch",
    );
    refused(
      rules,
      await verified({}, { policy: SNP_POLICY.reservedOne | SNP_POLICY.smt | SNP_POLICY.debug }),
      "azureVtpm.snp.allowDebug",
      "tee-attribute-not-allowed",
    );
  });

  it("written-out skips pass what they skip", async () => {
    const lax = parseAzureVtpmRules({
      ...STRICT,
      secureBoot: "any",
      tpmEnabled: "any",
      allowConsole: true,
      snp: "any",
    });
    const v = await verified(
      { "secure-boot": false, "tpm-enabled": false, "console-enabled": true },
      { measurement: new Uint8Array(48) },
    );
    assert.equal(evaluateAzureVtpm(lax, v).verdict, "pass");
  });

  it("accepts only verified evidence", () => {
    assert.throws(() => evaluateAzureVtpm(rules, { ...good } as VerifiedAzureVtpm), TypeError);
  });
});
