/**
 * The whole TPM attestation flow with our own code on both sides, against a
 * real swtpm: the verifier checks the EK certificate chain to the TPM
 * maker's CA (here swtpm's local CA), matches it to the EK the TPM derives,
 * proves the AK is resident in that same TPM by credential activation, and
 * then verifies a fresh-nonce quote by that AK. Each link has an attack test.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { randomBytes } from "@veritee/core";
import {
  credentialProtectorFromPublic,
  decodeTpm2bPublic,
  makeCredential,
  publicKeyJwk,
  VerificationError,
  verifyActivatedCredential,
  verifyCertificateChain,
  verifyCertificateKey,
  verifyQuote,
} from "@veritee/evidence";
import { provisionSwtpm, type SwtpmInstance, type SwtpmState, startSwtpm, TpmClient, TpmError } from "@veritee/tpm";

function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(body, "base64"));
}

let dir: string;
let state: SwtpmState;
let sim: SwtpmInstance;
let tpm: TpmClient;
let roots: Uint8Array[];
let intermediates: Uint8Array[];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "veritee-flow-"));
  state = await provisionSwtpm({ stateDir: path.join(dir, "state") });
  sim = await startSwtpm({ stateDir: state.stateDir });
  tpm = await TpmClient.connect({ kind: "tcp", port: sim.port });
  await tpm.startup("clear");
  roots = [pemToDer(await readFile(state.rootCaCertPath, "utf8"))];
  intermediates = [pemToDer(await readFile(state.issuerCertPath, "utf8"))];
});

after(async () => {
  await tpm?.close();
  await sim?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("EK certificate → credential activation → quote", () => {
  test("an AK proven resident with the certified EK signs a verified quote", async () => {
    // 1. The EK certificate chains to the TPM maker's CA, and certifies the EK the TPM derives.
    const ekCert = await tpm.readEkCertificate("rsa2048");
    const chain = await verifyCertificateChain({ leaf: ekCert, intermediates, roots, at: new Date() });
    const ek = await tpm.createEk("rsa2048");
    const ekPublic = decodeTpm2bPublic(ek.publicArea);
    verifyCertificateKey(chain, { jwk: publicKeyJwk(ekPublic) });

    // 2. The verifier encrypts a fresh secret to that EK, bound to the AK's Name.
    const created = await tpm.createAk(ek.handle, "ecc-p256");
    const ak = await tpm.load(ek.handle, created);
    const akPublic = decodeTpm2bPublic(created.publicArea);
    const secret = randomBytes(32);
    const made = await makeCredential({
      ekPublic: credentialProtectorFromPublic(ekPublic),
      objectName: akPublic.name,
      credential: secret,
    });
    // 3. Only that TPM, holding that AK, can recover it.
    const recovered = await tpm.activateCredential(ak.handle, ek.handle, made.credentialBlob, made.encryptedSecret);
    verifyActivatedCredential(secret, recovered);

    // 4. Now a quote by the activated AK, over a fresh nonce, pinned to its Name.
    const nonce = randomBytes(32);
    const selection = { sha256: [0, 1, 2, 3, 4, 5, 6, 7, 16, 23] };
    await tpm.pcrExtend(16, { sha256: new Uint8Array(32).fill(7) });
    const { attest, signature } = await tpm.quote(ak.handle, nonce, selection);
    const pcrValues = await tpm.pcrRead(selection);
    const verified = await verifyQuote({
      akPublic: created.publicArea,
      attest,
      signature,
      expectedExtraData: nonce,
      pcrValues,
      requirePcrValues: true,
      expectedAkName: akPublic.name,
    });
    assert.deepEqual(verified.akName, akPublic.name);
    assert.deepEqual(verified.pcrValues?.get("sha256")?.get(16), pcrValues.get("sha256")?.get(16));
    await tpm.flushContext(ak.handle);
    await tpm.flushContext(ek.handle);
  });

  test("a credential made for another AK's Name is refused by the TPM", async () => {
    const ek = await tpm.createEk("rsa2048");
    const ekPublic = decodeTpm2bPublic(ek.publicArea);
    const real = await tpm.createAk(ek.handle, "ecc-p256");
    const other = await tpm.createAk(ek.handle, "ecc-p256");
    const ak = await tpm.load(ek.handle, real);
    const made = await makeCredential({
      ekPublic: credentialProtectorFromPublic(ekPublic),
      objectName: decodeTpm2bPublic(other.publicArea).name,
      credential: randomBytes(16),
    });
    await assert.rejects(
      tpm.activateCredential(ak.handle, ek.handle, made.credentialBlob, made.encryptedSecret),
      (e: unknown) => e instanceof TpmError && e.code === "TPM_RC_INTEGRITY",
    );
    await tpm.flushContext(ak.handle);
    await tpm.flushContext(ek.handle);
  });

  test("a quote by a different AK fails name-mismatch; a wrong recovered secret fails credential-mismatch", async () => {
    const ek = await tpm.createEk("rsa2048");
    const a = await tpm.createAk(ek.handle, "ecc-p256");
    const b = await tpm.createAk(ek.handle, "ecc-p256");
    const loadedB = await tpm.load(ek.handle, b);
    const nonce = randomBytes(16);
    const quote = await tpm.quote(loadedB.handle, nonce, { sha256: [0] });
    await assert.rejects(
      verifyQuote({
        akPublic: b.publicArea,
        ...quote,
        expectedExtraData: nonce,
        expectedAkName: decodeTpm2bPublic(a.publicArea).name,
      }),
      (e: unknown) => e instanceof VerificationError && e.code === "name-mismatch",
    );
    assert.throws(
      () => verifyActivatedCredential(new Uint8Array(16), new Uint8Array(16).fill(1)),
      (e: unknown) => e instanceof VerificationError && e.code === "credential-mismatch",
    );
    await tpm.flushContext(loadedB.handle);
    await tpm.flushContext(ek.handle);
  });

  test("the EK certificate does not chain to another CA, nor match another key", async () => {
    const ekCert = await tpm.readEkCertificate("rsa2048");
    const otherState = await provisionSwtpm({ stateDir: path.join(dir, "other") });
    const otherRoot = pemToDer(await readFile(otherState.rootCaCertPath, "utf8"));
    await assert.rejects(
      async () => verifyCertificateChain({ leaf: ekCert, intermediates, roots: [otherRoot], at: new Date() }),
      (e: unknown) => e instanceof VerificationError && e.code === "cert-untrusted-root",
    );
    const chain = await verifyCertificateChain({ leaf: ekCert, intermediates, roots, at: new Date() });
    const ecc = await tpm.createEk("eccP256");
    assert.throws(
      () => verifyCertificateKey(chain, { jwk: publicKeyJwk(decodeTpm2bPublic(ecc.publicArea)) }),
      (e: unknown) => e instanceof VerificationError && e.code === "key-mismatch",
    );
    await tpm.flushContext(ecc.handle);
    // swtpm's EK certificates never expire (notAfter 9999-12-31, RFC 5280
    // §4.1.2.5); a time before they were issued is refused.
    await assert.rejects(
      async () => verifyCertificateChain({ leaf: ekCert, intermediates, roots, at: new Date("2001-01-01T00:00:00Z") }),
      (e: unknown) => e instanceof VerificationError && e.code === "cert-not-yet-valid",
    );
  });
});
