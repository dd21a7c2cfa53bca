import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { type HashAlg, MalformedError, randomBytes, toHex, tpmAlgFromHash } from "@veritee/core";
import fc from "fast-check";
import { verifyActivatedCredential } from "../../src/credential/check.js";
import { type CredentialProtector, makeCredential } from "../../src/credential/make-credential.js";
import {
  decodeIdObject,
  decodeTpm2ToolsCredential,
  encodeTpm2ToolsCredential,
} from "../../src/credential/tpm2-tools-file.js";
import { VerificationError } from "../../src/errors.js";
import { run, swtpmUnavailable } from "../support/swtpm.js";
import { activateInSoftware, type SoftwareEk } from "./software-tpm.js";

function nameFor(alg: HashAlg, seed: number): Uint8Array {
  const digest = nodeCrypto.createHash(alg).update(Uint8Array.of(seed)).digest();
  const id = tpmAlgFromHash(alg);
  return Uint8Array.from([id >> 8, id & 0xff, ...digest]);
}

const rsa = nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const rsa3072 = nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 3072 });
const p256 = nodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const p384 = nodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-384" });

function rsaProtector(pair: nodeCrypto.KeyPairKeyObjectResult, nameAlg: HashAlg, bits: 128 | 256): CredentialProtector {
  return {
    kind: "rsa",
    publicKey: { jwk: pair.publicKey.export({ format: "jwk" }) },
    nameAlg,
    symmetric: { alg: "aes", bits },
  };
}

function eccProtector(pair: nodeCrypto.KeyPairKeyObjectResult, nameAlg: HashAlg, bits: 128 | 256): CredentialProtector {
  const jwk = pair.publicKey.export({ format: "jwk" });
  return {
    kind: "ecc",
    curve: jwk.crv as "P-256" | "P-384",
    x: new Uint8Array(Buffer.from(jwk.x!, "base64url")),
    y: new Uint8Array(Buffer.from(jwk.y!, "base64url")),
    nameAlg,
    symmetric: { alg: "aes", bits },
  };
}

const cases: { label: string; protector: CredentialProtector; ek: SoftwareEk }[] = [
  {
    label: "RSA-2048 sha256 AES-128",
    protector: rsaProtector(rsa, "sha256", 128),
    ek: { privateKey: rsa.privateKey, nameAlg: "sha256", symBits: 128 },
  },
  {
    label: "RSA-3072 sha384 AES-256",
    protector: rsaProtector(rsa3072, "sha384", 256),
    ek: { privateKey: rsa3072.privateKey, nameAlg: "sha384", symBits: 256 },
  },
  {
    label: "P-256 sha256 AES-128",
    protector: eccProtector(p256, "sha256", 128),
    ek: { privateKey: p256.privateKey, nameAlg: "sha256", symBits: 128 },
  },
  {
    label: "P-384 sha384 AES-256",
    protector: eccProtector(p384, "sha384", 256),
    ek: { privateKey: p384.privateKey, nameAlg: "sha384", symBits: 256 },
  },
];

describe("makeCredential round trip with a software TPM", () => {
  for (const { label, protector, ek } of cases) {
    it(`${label}: the right EK and Name recover the credential`, async () => {
      const objectName = nameFor("sha256", 1);
      const credential = randomBytes(32);
      const made = await makeCredential({ ekPublic: protector, objectName, credential });
      const recovered = activateInSoftware(ek, objectName, made.credentialBlob, made.encryptedSecret);
      verifyActivatedCredential(credential, recovered);
      // Each call uses a fresh seed.
      const again = await makeCredential({ ekPublic: protector, objectName, credential });
      assert.notEqual(toHex(again.credentialBlob), toHex(made.credentialBlob));
    });

    it(`${label}: another AK Name fails the integrity check`, async () => {
      const made = await makeCredential({
        ekPublic: protector,
        objectName: nameFor("sha256", 1),
        credential: randomBytes(16),
      });
      assert.throws(
        () => activateInSoftware(ek, nameFor("sha256", 2), made.credentialBlob, made.encryptedSecret),
        /INTEGRITY/,
      );
    });

    it(`${label}: a flipped bit in the blob or the secret fails`, async () => {
      const objectName = nameFor("sha1", 3);
      const made = await makeCredential({ ekPublic: protector, objectName, credential: randomBytes(8) });
      const blob = made.credentialBlob.slice();
      blob[blob.length - 1]! ^= 1;
      assert.throws(() => activateInSoftware(ek, objectName, blob, made.encryptedSecret));
      const secret = made.encryptedSecret.slice();
      secret[secret.length - 1]! ^= 1;
      assert.throws(() => activateInSoftware(ek, objectName, made.credentialBlob, secret));
    });
  }

  it("a credential for another EK cannot be activated", async () => {
    const objectName = nameFor("sha256", 1);
    const other = nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const made = await makeCredential({
      ekPublic: rsaProtector(other, "sha256", 128),
      objectName,
      credential: randomBytes(32),
    });
    assert.throws(() => activateInSoftware(cases[0]!.ek, objectName, made.credentialBlob, made.encryptedSecret));
    const p256b = nodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const madeEc = await makeCredential({
      ekPublic: eccProtector(p256b, "sha256", 128),
      objectName,
      credential: randomBytes(32),
    });
    assert.throws(
      () => activateInSoftware(cases[2]!.ek, objectName, madeEc.credentialBlob, madeEc.encryptedSecret),
      /INTEGRITY/,
    );
  });

  it("lays out the blob as TPM2B_DIGEST(integrityHMAC) ‖ encIdentity", async () => {
    const made = await makeCredential({
      ekPublic: cases[0]!.protector,
      objectName: nameFor("sha256", 1),
      credential: randomBytes(20),
    });
    const { integrityHmac, encIdentity } = decodeIdObject(made.credentialBlob);
    assert.equal(integrityHmac.length, 32);
    assert.equal(encIdentity.length, 2 + 20); // CFB keeps the TPM2B_DIGEST's length
    assert.equal(made.encryptedSecret.length, 256);
    const ec = await makeCredential({
      ekPublic: cases[2]!.protector,
      objectName: nameFor("sha256", 1),
      credential: randomBytes(20),
    });
    assert.equal(ec.encryptedSecret.length, 2 + 32 + 2 + 32);
  });

  it("rejects bad inputs", async () => {
    const ekPublic = cases[0]!.protector;
    const objectName = nameFor("sha256", 1);
    await assert.rejects(
      async () => makeCredential({ ekPublic, objectName, credential: new Uint8Array(33) }),
      RangeError,
    );
    await assert.rejects(
      async () => makeCredential({ ekPublic, objectName, credential: new Uint8Array(0) }),
      RangeError,
    );
    await assert.rejects(
      async () => makeCredential({ ekPublic, objectName: objectName.slice(0, 20), credential: randomBytes(8) }),
      MalformedError,
    );
    await assert.rejects(
      async () => makeCredential({ ekPublic, objectName: Uint8Array.of(0x00, 0x99, 1, 2), credential: randomBytes(8) }),
      MalformedError,
    );
    await assert.rejects(
      async () => makeCredential({ ekPublic, objectName: new Uint8Array(1), credential: randomBytes(8) }),
      MalformedError,
    );
    const badSym = { ...ekPublic, symmetric: { alg: "aes", bits: 64 } } as unknown as CredentialProtector;
    await assert.rejects(
      async () => makeCredential({ ekPublic: badSym, objectName, credential: randomBytes(8) }),
      RangeError,
    );
    const ec = cases[2]!.protector as Extract<CredentialProtector, { kind: "ecc" }>;
    const offCurve = { ...ec, y: ec.x };
    await assert.rejects(async () => makeCredential({ ekPublic: offCurve, objectName, credential: randomBytes(8) }));
    await assert.rejects(
      async () =>
        makeCredential({ ekPublic: { ...ec, x: new Uint8Array(33).fill(1) }, objectName, credential: randomBytes(8) }),
      MalformedError,
    );
  });

  it("verifyActivatedCredential rejects a different secret", async () => {
    const secret = randomBytes(32);
    verifyActivatedCredential(secret, secret.slice());
    const other = secret.slice();
    other[0]! ^= 1;
    assert.throws(
      () => verifyActivatedCredential(secret, other),
      (e: unknown) => e instanceof VerificationError && e.code === "credential-mismatch",
    );
    assert.throws(
      () => verifyActivatedCredential(secret, secret.slice(1)),
      (e: unknown) => e instanceof VerificationError && e.code === "credential-mismatch",
    );
  });
});

describe("tpm2-tools credential file", () => {
  it("round-trips and has the documented header", async () => {
    const made = await makeCredential({
      ekPublic: cases[0]!.protector,
      objectName: nameFor("sha256", 1),
      credential: randomBytes(32),
    });
    const file = encodeTpm2ToolsCredential(made);
    assert.equal(toHex(file.slice(0, 8)), "badcc0de00000001");
    assert.deepEqual(decodeTpm2ToolsCredential(file), made);
  });

  it("rejects bad magic, version, sizes and trailing data", async () => {
    const made = await makeCredential({
      ekPublic: cases[2]!.protector,
      objectName: nameFor("sha256", 1),
      credential: randomBytes(32),
    });
    const file = encodeTpm2ToolsCredential(made);
    const code = (bytes: Uint8Array) => {
      try {
        decodeTpm2ToolsCredential(bytes);
      } catch (e) {
        assert.ok(e instanceof MalformedError);
        return e.code;
      }
      return "ok";
    };
    const m = file.slice();
    m[0] = 0;
    assert.equal(code(m), "bad-magic");
    const v = file.slice();
    v[7] = 2;
    assert.equal(code(v), "unsupported");
    assert.equal(code(Uint8Array.from([...file, 0])), "trailing-data");
    assert.equal(code(file.slice(0, file.length - 1)), "truncated");
    const big = file.slice();
    big[8] = 0x01; // credentialBlob size 0x01xx > 132
    assert.equal(code(big), "too-large");
    const badHmac = file.slice();
    badHmac[11] = 31; // integrityHMAC size 31 is no digest size
    assert.equal(code(badHmac), "bad-length");
  });

  it("random and mutated bytes yield only MalformedError", async () => {
    const made = await makeCredential({
      ekPublic: cases[0]!.protector,
      objectName: nameFor("sha256", 1),
      credential: randomBytes(32),
    });
    const file = encodeTpm2ToolsCredential(made);
    const check = (bytes: Uint8Array) => {
      try {
        const back = decodeTpm2ToolsCredential(bytes);
        // Whatever decodes re-encodes to the same bytes.
        assert.deepEqual(encodeTpm2ToolsCredential(back), bytes);
      } catch (e) {
        assert.ok(e instanceof MalformedError, String(e));
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 1000 });
    fc.assert(
      fc.property(
        fc.nat({ max: file.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.nat({ max: file.length }),
        (at, value, cut) => {
          const bytes = file.slice(0, Math.max(cut, at + 1));
          bytes[at] = value;
          check(bytes);
        },
      ),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeIdObject(bytes);
        } catch (e) {
          assert.ok(e instanceof MalformedError, String(e));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("decodes what tpm2_makecredential writes, and the software TPM recovers its secret", {
    skip: swtpmUnavailable,
  }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), "veritee-mkcred-"));
    try {
      for (const { label, pair, ek } of [
        { label: "rsa", pair: rsa, ek: cases[0]!.ek },
        { label: "ecc", pair: p256, ek: cases[2]!.ek },
      ]) {
        writeFileSync(path.join(dir, "ek.pem"), pair.publicKey.export({ format: "pem", type: "spki" }));
        const secret = randomBytes(24);
        writeFileSync(path.join(dir, "secret"), secret);
        const objectName = nameFor("sha256", 7);
        // -G with a PEM key: tpm2-tools assumes the TCG default EK template (sha256, AES-128-CFB).
        run(
          "tpm2_makecredential",
          ["-T", "none", "-G", label, "-u", "ek.pem", "-s", "secret", "-n", toHex(objectName), "-o", "cred.blob"],
          {},
          dir,
        );
        const made = decodeTpm2ToolsCredential(new Uint8Array(readFileSync(path.join(dir, "cred.blob"))));
        const recovered = activateInSoftware(ek, objectName, made.credentialBlob, made.encryptedSecret);
        assert.deepEqual(recovered, secret);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
