import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fromHex, type HashAlg, toHex } from "@veritee/core";
import { kdfA, kdfE } from "../../src/credential/kdf.js";

describe("KDFa (TPM 2.0 Part 1 §11.4.10.2)", () => {
  // The reference implementation's KDFa self-test vector (TPM 2.0 reference code KdfTestData.h, as
  // shipped in libtpms): key, label "KDFSELFTESTLABEL", contextU, contextV, 160 output bits.
  const key = fromHex("271FA08BBDC5060EC3DFA928FF9B73123A12DA0C");
  const u = fromHex("CE244F395DCA7391");
  const v = fromHex("DA504031DDF12E83");
  const expected: Record<HashAlg, string> = {
    sha1: "55b5a7184aa07423c47dae766c26a2377d7cf851",
    sha256: "bb0259e1c8ba607e6a2cd704b69a902e9ade84c4",
    sha384: "1dce70c9113eb2dba47bd9cfc72bf46f45b09312",
    sha512: "8be2c1b85b78569b9fa759f5857c56d684810fd3",
  };
  for (const [alg, out] of Object.entries(expected) as [HashAlg, string][]) {
    it(`matches the reference self-test vector for ${alg}`, () => {
      assert.equal(toHex(kdfA(alg, key, "KDFSELFTESTLABEL", u, v, 160)), out);
    });
  }

  it("spans several HMAC blocks and is a prefix-consistent stream", () => {
    const long = kdfA("sha256", key, "STORAGE", u, v, 1024);
    assert.equal(long.length, 128);
    // The output size is an input to every block, so a shorter output is a different stream.
    assert.notEqual(toHex(kdfA("sha256", key, "STORAGE", u, v, 256)), toHex(long.slice(0, 32)));
  });

  it("clears the unused high bits of the first byte", () => {
    for (let i = 0; i < 20; i++) {
      const out = kdfA("sha256", new Uint8Array([i]), "X", u, v, 12);
      assert.equal(out.length, 2);
      assert.equal(out[0]! & 0xf0, 0);
    }
  });

  it("rejects impossible sizes and NUL inside a label", () => {
    assert.throws(() => kdfA("sha256", key, "A", u, v, 0), RangeError);
    assert.throws(() => kdfA("sha256", key, "A", u, v, 1.5), RangeError);
    assert.throws(() => kdfA("sha256", key, "A", u, v, 1 << 20), RangeError);
    assert.throws(() => kdfA("sha256", key, "A\0B", u, v, 128), RangeError);
  });
});

describe("KDFe (TPM 2.0 Part 1 §11.4.10.3)", () => {
  // Vectors from chrisfenner/tpm-test-vectors, vectors/kdfe.json (validated there against go-tpm and a
  // TPM simulator): hash, Z, use, partyUInfo, partyVInfo, bits, result.
  const vectors: [HashAlg, string, string, string, string, number, string][] = [
    [
      "sha1",
      "9b050039c8e5ca60deeb978f2faf573c94af61",
      "IDENTITY",
      "ff1a1852db7b60a5c963f17eb306f3a905d100ae",
      "0047ee45771a256d58b091b6d6",
      32,
      "94c3c160",
    ],
    [
      "sha1",
      "356f9d00d61b54cf010580b1755d1975905c00",
      "CFB",
      "006c5c2bcdd650f6c836dba98c4734",
      "8849bd3d05d69f",
      7,
      "58",
    ],
    ["sha1", "", "STORAGE", "", "c0227aff", 253, "0f10d821af67e1ec776b390f3b4572bb433efd2b94fa7842d879d24d825ed2f9"],
    [
      "sha256",
      "739245447ead0deea5f834f06e043159c6ff",
      "IDENTITY",
      "ad503e36c2314ec9afa2f4047bf19ce7fbc6fe2def32c58459c0fc828c00",
      "ba6dd80b788034161743c95e8ef7a9486fbd69d3ff",
      13,
      "0956",
    ],
    [
      "sha256",
      "ff16189cb377c3dbf0488b66ada0",
      "STORAGE",
      "b16cf6dcfb71cc1615c35ed617deb0f6c925eb8828827a675c190c2b0f40",
      "ff9d00b4",
      359,
      "5529ebfa7d4dbdaf0923f36a8f0ac0e2842c1def72e0735d50eb0783494afa5163891c4f08287869a0a5b5fc4c",
    ],
  ];
  for (const [alg, z, use, pu, pv, bits, result] of vectors) {
    it(`${alg} ${use} ${bits} bits`, () => {
      assert.equal(toHex(kdfE(alg, fromHex(z), use, fromHex(pu), fromHex(pv), bits)), result);
    });
  }
});
