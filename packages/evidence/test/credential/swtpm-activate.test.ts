/**
 * Interoperability of makeCredential with a real TPM implementation: swtpm
 * (libtpms, the TCG reference code) runs TPM2_ActivateCredential through
 * tpm2-tools on credentials this package made, for RSA and ECC EKs.
 */
import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { randomBytes, toHex } from "@veritee/core";
import { verifyActivatedCredential } from "../../src/credential/check.js";
import { type CredentialProtector, makeCredential } from "../../src/credential/make-credential.js";
import { decodeTpm2ToolsCredential, encodeTpm2ToolsCredential } from "../../src/credential/tpm2-tools-file.js";
import { pemToDer, type RunningSwtpm, runStatus, startSwtpm, swtpmUnavailable } from "../support/swtpm.js";

describe("credential activation on swtpm", { skip: swtpmUnavailable }, () => {
  let dir: string;
  let tpm: RunningSwtpm;
  const file = (name: string) => path.join(dir, name);
  const bytes = (name: string) => new Uint8Array(readFileSync(file(name)));

  /** tpm2-tools talks to swtpm without a resource manager, so transient objects are flushed after each step. */
  function flush(): void {
    for (const flag of ["-t", "-l", "-s"]) runStatus("tpm2_flushcontext", [flag], tpm.env, dir);
  }

  /** TPM2_ActivateCredential with the EK's policy (PolicySecret on the endorsement hierarchy). */
  function activate(
    akCtx: string,
    ekCtx: string,
    blob: Uint8Array,
  ): { ok: boolean; secret?: Uint8Array; error?: string } {
    writeFileSync(file("in.blob"), blob);
    rmSync(file("out.bin"), { force: true });
    try {
      tpm.tpm2("tpm2_startauthsession", ["--policy-session", "-S", "session.ctx"], dir);
      tpm.tpm2("tpm2_policysecret", ["-S", "session.ctx", "-c", "e"], dir);
      const r = runStatus(
        "tpm2_activatecredential",
        ["-c", akCtx, "-C", ekCtx, "-i", "in.blob", "-o", "out.bin", "-P", "session:session.ctx"],
        tpm.env,
        dir,
      );
      return r.status === 0 ? { ok: true, secret: bytes("out.bin") } : { ok: false, error: r.stderr };
    } finally {
      runStatus("tpm2_flushcontext", ["session.ctx"], tpm.env, dir);
      flush();
    }
  }

  function rsaEk(): CredentialProtector {
    return {
      kind: "rsa",
      publicKey: { spki: pemToDer(readFileSync(file("ek-rsa.pem"), "utf8")) },
      nameAlg: "sha256",
      symmetric: { alg: "aes", bits: 128 },
    };
  }

  function eccEk(): CredentialProtector {
    const jwk = nodeCrypto.createPublicKey(readFileSync(file("ek-ecc.pem"))).export({ format: "jwk" });
    return {
      kind: "ecc",
      curve: "P-256",
      x: new Uint8Array(Buffer.from(jwk.x!, "base64url")),
      y: new Uint8Array(Buffer.from(jwk.y!, "base64url")),
      nameAlg: "sha256",
      symmetric: { alg: "aes", bits: 128 },
    };
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "veritee-activate-"));
    tpm = await startSwtpm(dir);
    flush();
    // TCG default EK templates (EK Credential Profile 2.5 §B.3.3, §B.3.4): RSA-2048 and NIST P-256, sha256, AES-128-CFB.
    for (const [alg, ek, ak, ak2] of [
      ["rsa", "ek-rsa", "ak-rsa", "ak2-rsa"],
      ["ecc", "ek-ecc", "ak-ecc", "ak2-ecc"],
    ] as const) {
      tpm.tpm2("tpm2_createek", ["-c", `${ek}.ctx`, "-G", alg, "-u", `${ek}.pem`, "-f", "pem"], dir);
      flush();
      for (const a of [ak, ak2]) {
        tpm.tpm2("tpm2_createak", ["-C", `${ek}.ctx`, "-c", `${a}.ctx`, "-u", `${a}.pub`, "-n", `${a}.name`], dir);
        flush();
      }
    }
  });

  after(async () => {
    await tpm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ["rsa", "ecc"] as const) {
    it(`${kind.toUpperCase()} EK: the TPM recovers the credential made for its AK`, async () => {
      const credential = randomBytes(32);
      const made = await makeCredential({
        ekPublic: kind === "rsa" ? rsaEk() : eccEk(),
        objectName: bytes(`ak-${kind}.name`),
        credential,
      });
      const r = activate(`ak-${kind}.ctx`, `ek-${kind}.ctx`, encodeTpm2ToolsCredential(made));
      assert.ok(r.ok, "tpm2_activatecredential failed");
      verifyActivatedCredential(credential, r.secret!);
    });

    it(`${kind.toUpperCase()} EK: a credential made for another AK's Name is refused`, async () => {
      const made = await makeCredential({
        ekPublic: kind === "rsa" ? rsaEk() : eccEk(),
        objectName: bytes(`ak2-${kind}.name`),
        credential: randomBytes(32),
      });
      const r = activate(`ak-${kind}.ctx`, `ek-${kind}.ctx`, encodeTpm2ToolsCredential(made));
      assert.equal(r.ok, false);
      // TPM_RC_INTEGRITY on parameter 1: the outer HMAC covers the AK's Name (Part 1 §24.5).
      assert.match(r.error!, /integrity check failed/);
    });
  }

  it("a credential made for another EK is refused", async () => {
    const other = nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const made = await makeCredential({
      ekPublic: {
        kind: "rsa",
        publicKey: { jwk: other.publicKey.export({ format: "jwk" }) },
        nameAlg: "sha256",
        symmetric: { alg: "aes", bits: 128 },
      },
      objectName: bytes("ak-rsa.name"),
      credential: randomBytes(32),
    });
    // libtpms answers a failed OAEP decryption with TPM_RC_FAILURE (0x101) rather than TPM_RC_VALUE.
    assert.equal(activate("ak-rsa.ctx", "ek-rsa.ctx", encodeTpm2ToolsCredential(made)).ok, false);
    // The ECC EK's credential presented to the RSA EK: the secret is no RSA ciphertext.
    const ecc = await makeCredential({
      ekPublic: eccEk(),
      objectName: bytes("ak-rsa.name"),
      credential: randomBytes(32),
    });
    assert.equal(activate("ak-rsa.ctx", "ek-rsa.ctx", encodeTpm2ToolsCredential(ecc)).ok, false);
    // And the TPM still works afterwards.
    const good = await makeCredential({
      ekPublic: rsaEk(),
      objectName: bytes("ak-rsa.name"),
      credential: randomBytes(32),
    });
    assert.ok(activate("ak-rsa.ctx", "ek-rsa.ctx", encodeTpm2ToolsCredential(good)).ok);
  });

  it("a tampered blob is refused", async () => {
    const made = await makeCredential({
      ekPublic: rsaEk(),
      objectName: bytes("ak-rsa.name"),
      credential: randomBytes(32),
    });
    const blob = made.credentialBlob.slice();
    blob[blob.length - 1]! ^= 0x80;
    const r = activate("ak-rsa.ctx", "ek-rsa.ctx", encodeTpm2ToolsCredential({ ...made, credentialBlob: blob }));
    assert.equal(r.ok, false);
    assert.match(r.error!, /integrity check failed/);
  });

  it("tpm2_makecredential's file decodes, re-encodes and activates", async () => {
    const secret = randomBytes(20);
    writeFileSync(file("secret"), secret);
    tpm.tpm2(
      "tpm2_makecredential",
      [
        "-T",
        "none",
        "-G",
        "rsa",
        "-u",
        "ek-rsa.pem",
        "-s",
        "secret",
        "-n",
        toHex(bytes("ak-rsa.name")),
        "-o",
        "tools.blob",
      ],
      dir,
    );
    const decoded = decodeTpm2ToolsCredential(bytes("tools.blob"));
    const reencoded = encodeTpm2ToolsCredential(decoded);
    assert.deepEqual(reencoded, bytes("tools.blob"));
    const r = activate("ak-rsa.ctx", "ek-rsa.ctx", reencoded);
    assert.ok(r.ok);
    assert.deepEqual(r.secret, secret);
  });
});
