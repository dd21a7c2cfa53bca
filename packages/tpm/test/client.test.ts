/**
 * The client against a real swtpm (provisioned once for this file), with
 * tpm2-tools for interoperability checks.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, constants as cryptoConstants, verify, X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { TPM_GENERATED_VALUE, TPMA_OBJECT, toHex } from "@veritee/core";
import { computeName, EK_POLICY_SHA256, type SwtpmInstance, TPM_CC, TpmClient, TpmError } from "../src/index.js";
import { provisionedSwtpm, publicKeyOf, signatureOf, tempDir } from "./helpers.js";

const run = promisify(execFile);

let sim: SwtpmInstance;
let stateDir: string;
let cleanup: () => Promise<void>;
let tpm: TpmClient;

before(async () => {
  ({ sim, stateDir, cleanup } = await provisionedSwtpm("client"));
  tpm = await TpmClient.connect({ kind: "tcp", host: sim.host, port: sim.port }, { timeoutMs: 20_000 });
  assert.equal(await tpm.startup("clear"), "started");
});

after(async () => {
  await tpm.close();
  await cleanup();
});

function sha(alg: "sha1" | "sha256", ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const ZERO20 = new Uint8Array(20);
const ZERO32 = new Uint8Array(32);

describe("startup and random", () => {
  test("a second Startup reports already-started (TPM_RC_INITIALIZE)", async () => {
    assert.equal(await tpm.startup("clear"), "already-started");
  });

  test("GetRandom returns the requested number of bytes, across several calls", async () => {
    const a = await tpm.getRandom(200);
    const b = await tpm.getRandom(200);
    assert.equal(a.length, 200);
    assert.notDeepEqual(a, b);
    assert.equal((await tpm.getRandom(0)).length, 0);
    await assert.rejects(tpm.getRandom(-1), (e: unknown) => e instanceof TpmError && e.code === "bad-argument");
  });
});

describe("PCRs", () => {
  test("PCR_Extend of two banks in one command; values follow H(old || digest)", async () => {
    const before = await tpm.pcrRead({ sha1: [23], sha256: [23] });
    assert.deepEqual(before.get("sha1")!.get(23), ZERO20);
    assert.deepEqual(before.get("sha256")!.get(23), ZERO32);
    const d1 = sha("sha1", new TextEncoder().encode("one"));
    const d256 = sha("sha256", new TextEncoder().encode("one"));
    await tpm.pcrExtend(23, { sha1: d1, sha256: d256 });
    const after1 = await tpm.pcrRead({ sha1: [23], sha256: [23] });
    assert.deepEqual(after1.get("sha1")!.get(23), sha("sha1", ZERO20, d1));
    assert.deepEqual(after1.get("sha256")!.get(23), sha("sha256", ZERO32, d256));
    // Only the sha256 bank this time: sha1 must not move.
    await tpm.pcrExtend(23, { sha256: d256 });
    const after2 = await tpm.pcrRead({ sha1: [23], sha256: [23] });
    assert.deepEqual(after2.get("sha1")!.get(23), sha("sha1", ZERO20, d1));
    assert.deepEqual(after2.get("sha256")!.get(23), sha("sha256", sha("sha256", ZERO32, d256), d256));
  });

  test("reads 72 PCRs across three banks although the TPM returns at most 8 per call", async () => {
    const all = [...Array(24).keys()];
    const values = await tpm.pcrRead({ sha1: all, sha256: all, sha384: all });
    assert.deepEqual([...values.keys()], ["sha1", "sha256", "sha384"]);
    for (const [bank, size] of [
      ["sha1", 20],
      ["sha256", 32],
      ["sha384", 48],
    ] as const) {
      const m = values.get(bank)!;
      assert.deepEqual([...m.keys()], all);
      for (const v of m.values()) assert.equal(v.length, size);
    }
    // swtpm has no firmware: PCR 0 is all zeros, and PCR 23 was extended above.
    assert.deepEqual(values.get("sha256")!.get(0), ZERO32);
    assert.notDeepEqual(values.get("sha256")!.get(23), ZERO32);
  });

  test("a bank the TPM has not allocated is `unsupported`; bad indices are `bad-argument`", async () => {
    await assert.rejects(
      tpm.pcrRead({ sha512: [0] }),
      (e: unknown) => e instanceof TpmError && e.code === "unsupported",
    );
    await assert.rejects(
      tpm.pcrRead({ sha256: [256] }),
      (e: unknown) => e instanceof TpmError && e.code === "bad-argument",
    );
    await assert.rejects(
      tpm.pcrExtend(23, { sha256: new Uint8Array(20) }),
      (e: unknown) => e instanceof TpmError && e.code === "bad-argument",
    );
  });
});

describe("endorsement keys", () => {
  test("the L-1 RSA EK from CreatePrimary is the key in the EK certificate, and swtpm's persisted EK", async () => {
    const ek = await tpm.createEk("rsa2048");
    try {
      const certDer = await tpm.readEkCertificate("rsa2048");
      const cert = new X509Certificate(certDer);
      const certJwk = cert.publicKey.export({ format: "jwk" });
      const ekJwk = publicKeyOf(ek.publicArea).export({ format: "jwk" });
      assert.equal(ekJwk.n, certJwk.n);
      assert.equal(ekJwk.e, certJwk.e);
      // The certificate chains to the local CA that provisioning created.
      const issuer = new X509Certificate(await readFile(path.join(stateDir, "ca", "issuercert.pem")));
      assert.ok(cert.verify(issuer.publicKey));
      // Same template, same seed: the very public area swtpm_setup persisted at 0x81010001.
      const persisted = await tpm.readPublic(0x81010001);
      assert.deepEqual(persisted.publicArea, ek.publicArea);
      assert.deepEqual(persisted.name, ek.name);
      assert.deepEqual(ek.name, computeName("sha256", ek.publicArea.slice(2)));
    } finally {
      await tpm.flushContext(ek.handle);
    }
  });

  test("the L-2 ECC P-256 EK is a P-256 key with the EK policy", async () => {
    const ek = await tpm.createEk("eccP256");
    try {
      const key = publicKeyOf(ek.publicArea);
      assert.equal(key.asymmetricKeyDetails?.namedCurve, "prime256v1");
      assert.ok(toHex(ek.publicArea).includes(toHex(EK_POLICY_SHA256)));
    } finally {
      await tpm.flushContext(ek.handle);
    }
  });

  test("the P-384 EK certificate matches swtpm's EK at 0x81010016", async () => {
    const cert = new X509Certificate(await tpm.readEkCertificate("eccP384"));
    const persisted = await tpm.readPublic(0x81010016);
    assert.deepEqual(
      publicKeyOf(persisted.publicArea).export({ format: "jwk" }),
      cert.publicKey.export({ format: "jwk" }),
    );
    await assert.rejects(
      tpm.readEkCertificate("eccP256"),
      (e: unknown) => e instanceof TpmError && e.code === "TPM_RC_HANDLE",
    );
  });

  test("EK_POLICY_SHA256 is PolicySecret(TPM_RH_ENDORSEMENT) computed per Part 3 §23.4", () => {
    const cc = Buffer.alloc(4);
    cc.writeUInt32BE(TPM_CC.PolicySecret);
    const name = Buffer.from("4000000b", "hex"); // a permanent handle's Name is the handle
    const step1 = sha("sha256", ZERO32, cc, name);
    assert.deepEqual(sha("sha256", step1), EK_POLICY_SHA256); // policyRef is empty
  });

  test("persistent handles include swtpm's two EKs", async () => {
    const handles = await tpm.listHandles("persistent");
    assert.ok(handles.includes(0x81010001));
    assert.ok(handles.includes(0x81010016));
  });
});

describe("attestation keys and quotes", () => {
  for (const [kind, scheme] of [
    ["ecc-p256", "ecdsa-sha256"],
    ["rsa-2048", "rsassa-sha256"],
    ["rsa-2048", "rsapss-sha256"],
  ] as const) {
    test(`${kind} ${scheme}: quote verifies with node:crypto over the TPMS_ATTEST bytes`, async () => {
      const ek = await tpm.createEk("rsa2048");
      try {
        const created = await tpm.createAk(ek.handle, kind, scheme);
        const ak = await tpm.load(ek.handle, created);
        try {
          assert.deepEqual(ak.name, created.name);
          const attributes = new DataView(created.publicArea.buffer).getUint32(2 + 4, false);
          const want =
            TPMA_OBJECT.fixedTPM |
            TPMA_OBJECT.fixedParent |
            TPMA_OBJECT.sensitiveDataOrigin |
            TPMA_OBJECT.userWithAuth |
            TPMA_OBJECT.restricted |
            TPMA_OBJECT.sign;
          assert.equal(attributes, want);

          const nonce = new Uint8Array(32).fill(0xa5);
          const { attest, signature } = await tpm.quote(ak.handle, nonce, { sha1: [0, 23], sha256: [0, 1, 2, 23] });
          assert.equal(new DataView(attest.buffer).getUint32(0, false), TPM_GENERATED_VALUE);
          assert.equal(toHex(attest.subarray(0, 4)), "ff544347");
          assert.ok(toHex(attest).includes(toHex(nonce)), "extraData carries the nonce");

          const key = publicKeyOf(created.publicArea);
          const sig = signatureOf(signature);
          assert.equal(sig.kind, scheme.split("-")[0]);
          const options =
            sig.kind === "ecdsa"
              ? { key, dsaEncoding: "ieee-p1363" as const }
              : sig.kind === "rsapss"
                ? {
                    key,
                    padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
                    saltLength: cryptoConstants.RSA_PSS_SALTLEN_AUTO,
                  }
                : { key, padding: cryptoConstants.RSA_PKCS1_PADDING };
          assert.ok(verify("sha256", attest, options, sig.signature));
          // The same signature over a one-bit-different attest does not verify.
          const forged = attest.slice();
          forged[forged.length - 1]! ^= 1;
          assert.ok(!verify("sha256", forged, options, sig.signature));
        } finally {
          await tpm.flushContext(ak.handle);
        }
      } finally {
        await tpm.flushContext(ek.handle);
      }
    });
  }

  test("the EK refuses a password session: its user role needs the PolicySecret policy", async () => {
    const ek = await tpm.createEk("rsa2048");
    try {
      await assert.rejects(
        tpm.createAk(ek.handle, "ecc-p256", undefined, { parentAuth: { password: new Uint8Array(0) } }),
        (e: unknown) => e instanceof TpmError && e.code === "TPM_RC_AUTH_UNAVAILABLE" && e.command === "TPM2_Create",
      );
    } finally {
      await tpm.flushContext(ek.handle);
    }
  });

  test("a scheme that does not fit the key kind is `bad-argument`", async () => {
    await assert.rejects(
      tpm.createAk(0x81010001, "ecc-p256", "rsassa-sha256"),
      (e: unknown) => e instanceof TpmError && e.code === "bad-argument",
    );
  });
});

describe("credential activation", () => {
  test("ActivateCredential recovers a secret made offline by tpm2_makecredential; a wrong Name fails", async () => {
    const { dir, remove } = await tempDir("cred");
    const ek = await tpm.createEk("rsa2048");
    try {
      const ak = await tpm.load(ek.handle, await tpm.createAk(ek.handle, "ecc-p256"));
      try {
        const secret = new TextEncoder().encode("veritee credential 0123456789ab");
        await writeFile(path.join(dir, "ek.pub"), ek.publicArea);
        await writeFile(path.join(dir, "secret"), secret);
        const make = async (name: Uint8Array): Promise<{ idObject: Uint8Array; encSecret: Uint8Array }> => {
          const out = path.join(dir, "cred.out");
          await run("tpm2_makecredential", [
            "-T",
            "none",
            "-u",
            path.join(dir, "ek.pub"),
            "-s",
            path.join(dir, "secret"),
            "-n",
            toHex(name),
            "-o",
            out,
          ]);
          // tpm2-tools credential file: magic 0xBADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
          const b = await readFile(out);
          assert.equal(b.readUInt32BE(0), 0xbadcc0de);
          const l1 = b.readUInt16BE(8);
          const idObject = b.subarray(10, 10 + l1);
          const l2 = b.readUInt16BE(10 + l1);
          const encSecret = b.subarray(12 + l1, 12 + l1 + l2);
          assert.equal(12 + l1 + l2, b.length);
          return { idObject, encSecret };
        };
        const good = await make(ak.name);
        assert.deepEqual(await tpm.activateCredential(ak.handle, ek.handle, good.idObject, good.encSecret), secret);

        const otherName = ak.name.slice();
        otherName[otherName.length - 1]! ^= 1;
        const bad = await make(otherName);
        await assert.rejects(
          tpm.activateCredential(ak.handle, ek.handle, bad.idObject, bad.encSecret),
          (e: unknown) =>
            e instanceof TpmError && e.code === "TPM_RC_INTEGRITY" && e.command === "TPM2_ActivateCredential",
        );
        // The failed command left no policy session behind.
        assert.deepEqual(await tpm.listHandles("policy-session"), []);
      } finally {
        await tpm.flushContext(ak.handle);
      }
    } finally {
      await tpm.flushContext(ek.handle);
      await remove();
    }
  });
});

describe("errors", () => {
  test("a missing handle is a typed TpmError naming the command and the RC", async () => {
    const error = await tpm.readPublic(0x81000099).then(
      () => assert.fail("expected an error"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TpmError);
    assert.equal(error.code, "TPM_RC_HANDLE");
    assert.equal(error.command, "TPM2_ReadPublic");
    assert.equal(error.rc, 0x18b);
    assert.equal(error.handle, 1);
    assert.equal(error.kind, "tpm");
    assert.match(error.message, /TPM2_ReadPublic/);
    assert.match(error.message, /TPM_RC_HANDLE/);
    assert.match(error.message, /0x18b/);
    await assert.rejects(tpm.flushContext(0x80ffff00), (e: unknown) => e instanceof TpmError && e.rc !== undefined);
    await assert.rejects(
      tpm.evictControl(0x80000000, 0x01000000),
      (e: unknown) => e instanceof TpmError && e.code === "bad-argument",
    );
  });
});

describe("queue", () => {
  test("concurrent calls are serialised in call order, never interleaved", async () => {
    const digests = Array.from({ length: 16 }, (_, i) => sha("sha256", new Uint8Array([i])));
    const start = (await tpm.pcrRead({ sha256: [16] })).get("sha256")!.get(16)!;
    const calls: Promise<unknown>[] = [];
    for (const d of digests) {
      calls.push(tpm.pcrExtend(16, { sha256: d }));
      calls.push(tpm.getRandom(48));
      calls.push(tpm.pcrRead({ sha256: [16], sha1: [16] }));
    }
    const results = await Promise.all(calls);
    // Each read sees exactly the extends queued before it.
    let expected = start;
    for (let i = 0; i < digests.length; i++) {
      expected = sha("sha256", expected, digests[i]!);
      const read = results[3 * i + 2] as Map<string, Map<number, Uint8Array>>;
      assert.deepEqual(read.get("sha256")!.get(16), expected);
      assert.equal((results[3 * i + 1] as Uint8Array).length, 48);
    }
  });
});

describe("NV", () => {
  test("NV_ReadPublic and partial NV_Read of the EK certificate index", async () => {
    const pub = await tpm.nvReadPublic(0x01c00002);
    assert.equal(pub.nvIndex, 0x01c00002);
    assert.equal(pub.nameAlg, "sha256");
    const whole = await tpm.nvRead(0x01c00002);
    assert.equal(whole.length, pub.dataSize);
    assert.deepEqual(await tpm.nvRead(0x01c00002, { offset: 100, size: 50 }), whole.subarray(100, 150));
    await assert.rejects(
      tpm.nvRead(0x01c00002, { offset: pub.dataSize, size: 1 }),
      (e: unknown) => e instanceof TpmError && e.code === "bad-argument",
    );
  });
});

describe("interoperability with tpm2-tools (the client disconnects: swtpm serves one client at a time)", () => {
  test("a 2000-byte NV index written by tpm2_nvwrite reads back in chunks; tpm2_pcrread agrees", async () => {
    const { dir, remove } = await tempDir("nv");
    const data = new Uint8Array(2000).map((_, i) => (i * 7 + 3) & 0xff);
    const ours = (await tpm.pcrRead({ sha256: [23] })).get("sha256")!.get(23)!;
    await tpm.close();
    try {
      const env = { ...process.env, TPM2TOOLS_TCTI: sim.tcti };
      await writeFile(path.join(dir, "data"), data);
      await run(
        "tpm2_nvdefine",
        ["0x01500001", "-C", "o", "-s", "2000", "-a", "ownerread|ownerwrite|authread|authwrite"],
        { env },
      );
      await run("tpm2_nvwrite", ["0x01500001", "-C", "o", "-i", path.join(dir, "data")], { env });
      await run("tpm2_pcrread", ["sha256:23", "-o", path.join(dir, "pcr")], { env });
      assert.deepEqual(new Uint8Array(await readFile(path.join(dir, "pcr"))), ours);
    } finally {
      tpm = await TpmClient.connect({ kind: "tcp", host: sim.host, port: sim.port });
      await remove();
    }
    assert.equal(await tpm.getProperty(0x12c), 1024); // TPM_PT_NV_BUFFER_MAX: two chunks below
    assert.deepEqual(await tpm.nvRead(0x01500001), data);
  });
});
