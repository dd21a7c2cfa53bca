/**
 * RFC 9180 Appendix A known-answer tests, base mode (mode 0), for the two
 * suites the channel uses, on every backend: A.1.1 DHKEM(X25519,
 * HKDF-SHA256), HKDF-SHA256, AES-128-GCM and A.2.1 the same with
 * ChaCha20Poly1305. The values are transcribed from the RFC's text; each
 * check goes through `@hpke/core`'s CipherSuite with the backend's KEM, KDF
 * and AEAD, so the key schedule, nonce computation and exporter are covered.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fromHex, toHex } from "@veritee/core";
import { channelSuite, type HpkeBackend } from "../src/backend.js";
import { nodeBackend } from "../src/node/backend.js";
import { webCryptoBackend, webCryptoBackendWith } from "../src/web-backend.js";

interface Encryption {
  readonly seq: number;
  readonly aad: string;
  readonly nonce: string;
  readonly ct: string;
}

interface Vector {
  readonly section: string;
  readonly aeadId: number;
  readonly info: string;
  readonly ikmE: string;
  readonly pkEm: string;
  readonly skEm: string;
  readonly ikmR: string;
  readonly pkRm: string;
  readonly skRm: string;
  readonly enc: string;
  readonly pt: string;
  readonly encryptions: readonly Encryption[];
  readonly exports: readonly { readonly context: string; readonly length: number; readonly value: string }[];
}

/** "Beauty is truth, truth beauty" — the plaintext of every Appendix A encryption. */
const PT = "4265617574792069732074727574682c20747275746820626561757479";
/** "Ode on a Grecian Urn". */
const INFO = "4f6465206f6e2061204772656369616e2055726e";

const VECTORS: readonly Vector[] = [
  {
    section: "RFC 9180 A.1.1 (Base, AES-128-GCM)",
    aeadId: 0x0001,
    info: INFO,
    ikmE: "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
    pkEm: "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
    skEm: "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736",
    ikmR: "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
    pkRm: "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
    skRm: "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
    enc: "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
    pt: PT,
    encryptions: [
      {
        seq: 0,
        aad: "436f756e742d30",
        nonce: "56d890e5accaaf011cff4b7d",
        ct: "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
      },
      {
        seq: 1,
        aad: "436f756e742d31",
        nonce: "56d890e5accaaf011cff4b7c",
        ct: "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84",
      },
      {
        seq: 2,
        aad: "436f756e742d32",
        nonce: "56d890e5accaaf011cff4b7f",
        ct: "498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180",
      },
      {
        seq: 4,
        aad: "436f756e742d34",
        nonce: "56d890e5accaaf011cff4b79",
        ct: "583bd32bc67a5994bb8ceaca813d369bca7b2a42408cddef5e22f880b631215a09fc0012bc69fccaa251c0246d",
      },
      {
        seq: 255,
        aad: "436f756e742d323535",
        nonce: "56d890e5accaaf011cff4b82",
        ct: "7175db9717964058640a3a11fb9007941a5d1757fda1a6935c805c21af32505bf106deefec4a49ac38d71c9e0a",
      },
      {
        seq: 256,
        aad: "436f756e742d323536",
        nonce: "56d890e5accaaf011cff4a7d",
        ct: "957f9800542b0b8891badb026d79cc54597cb2d225b54c00c5238c25d05c30e3fbeda97d2e0e1aba483a2df9f2",
      },
    ],
    exports: [
      { context: "", length: 32, value: "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee" },
      { context: "00", length: 32, value: "2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5" },
      {
        context: "54657374436f6e74657874",
        length: 32,
        value: "e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931",
      },
    ],
  },
  {
    section: "RFC 9180 A.2.1 (Base, ChaCha20Poly1305)",
    aeadId: 0x0003,
    info: INFO,
    ikmE: "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b",
    pkEm: "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
    skEm: "f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600",
    ikmR: "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df",
    pkRm: "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a",
    skRm: "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb",
    enc: "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
    pt: PT,
    encryptions: [
      {
        seq: 0,
        aad: "436f756e742d30",
        nonce: "5c4d98150661b848853b547f",
        ct: "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
      },
      {
        seq: 1,
        aad: "436f756e742d31",
        nonce: "5c4d98150661b848853b547e",
        ct: "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c",
      },
      {
        seq: 2,
        aad: "436f756e742d32",
        nonce: "5c4d98150661b848853b547d",
        ct: "71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b",
      },
      {
        seq: 4,
        aad: "436f756e742d34",
        nonce: "5c4d98150661b848853b547b",
        ct: "63357a2aa291f5a4e5f27db6baa2af8cf77427c7c1a909e0b37214dd47db122bb153495ff0b02e9e54a50dbe16",
      },
      {
        seq: 255,
        aad: "436f756e742d323535",
        nonce: "5c4d98150661b848853b5480",
        ct: "18ab939d63ddec9f6ac2b60d61d36a7375d2070c9b683861110757062c52b8880a5f6b3936da9cd6c23ef2a95c",
      },
      {
        seq: 256,
        aad: "436f756e742d323536",
        nonce: "5c4d98150661b848853b557f",
        ct: "7a4a13e9ef23978e2c520fd4d2e757514ae160cd0cd05e556ef692370ca53076214c0c40d4c728d6ed9e727a5b",
      },
    ],
    exports: [
      { context: "", length: 32, value: "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e" },
      { context: "00", length: 32, value: "8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69" },
      {
        context: "54657374436f6e74657874",
        length: 32,
        value: "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53",
      },
    ],
  },
];

const BACKENDS: readonly HpkeBackend[] = [
  nodeBackend,
  webCryptoBackend,
  webCryptoBackendWith.native,
  webCryptoBackendWith.portable,
];

const hex = (b: ArrayBuffer | Uint8Array) => toHex(b instanceof Uint8Array ? b : new Uint8Array(b));

/** Seal (or open) in sequence order, filling the gaps with throw-away messages so each vector's seq is reached. */
async function runSequence(
  step: (pt: Uint8Array, aad: Uint8Array) => Promise<ArrayBuffer>,
  vector: Vector,
  onVector: (e: Encryption, out: ArrayBuffer) => void,
): Promise<void> {
  let seq = 0;
  for (const e of vector.encryptions) {
    while (seq < e.seq) {
      await step(fromHex(vector.pt), new Uint8Array(0));
      seq++;
    }
    onVector(e, await step(fromHex(vector.pt), fromHex(e.aad)));
    seq++;
  }
}

for (const backend of BACKENDS) {
  describe(`RFC 9180 vectors on the ${backend.name} backend`, () => {
    for (const v of VECTORS) {
      test(`${v.section}: DeriveKeyPair (RFC 9180 §7.1.3)`, async () => {
        const suite = channelSuite(backend, 1, v.aeadId)!;
        const r = await suite.hpke.kem.deriveKeyPair(fromHex(v.ikmR));
        assert.equal(hex(await suite.hpke.kem.serializePublicKey(r.publicKey)), v.pkRm);
        const e = await suite.hpke.kem.deriveKeyPair(fromHex(v.ikmE));
        assert.equal(hex(await suite.hpke.kem.serializePublicKey(e.publicKey)), v.pkEm);
        if (backend === nodeBackend) {
          assert.equal(hex(await suite.hpke.kem.serializePrivateKey(r.privateKey)), v.skRm);
          assert.equal(hex(await suite.hpke.kem.serializePrivateKey(e.privateKey)), v.skEm);
        }
      });

      test(`${v.section}: sender — enc, every listed encryption, exports`, async () => {
        const suite = channelSuite(backend, 1, v.aeadId)!;
        const recipientPublicKey = await suite.hpke.kem.deserializePublicKey(fromHex(v.pkRm));
        const sender = await suite.hpke.createSenderContext({
          recipientPublicKey,
          info: fromHex(v.info),
          ekm: fromHex(v.ikmE), // the RFC's ephemeral key, derived from ikmE
        });
        assert.equal(hex(sender.enc), v.enc);
        await runSequence(
          (pt, aad) => sender.seal(pt, aad),
          v,
          (e, ct) => assert.equal(hex(ct), e.ct, `seq ${e.seq}`),
        );
        for (const x of v.exports) {
          assert.equal(hex(await sender.export(fromHex(x.context), x.length)), x.value);
        }
      });

      test(`${v.section}: recipient — decap from skRm, open every listed encryption, exports`, async () => {
        const suite = channelSuite(backend, 1, v.aeadId)!;
        const recipientKey = await suite.hpke.kem.deserializePrivateKey(fromHex(v.skRm));
        const recipient = await suite.hpke.createRecipientContext({
          recipientKey,
          enc: fromHex(v.enc),
          info: fromHex(v.info),
        });
        // A sender from the RFC's ephemeral key keeps step, so the recipient reaches each listed sequence number.
        const sender = await suite.hpke.createSenderContext({
          recipientPublicKey: await suite.hpke.kem.deserializePublicKey(fromHex(v.pkRm)),
          info: fromHex(v.info),
          ekm: fromHex(v.ikmE),
        });
        const empty = new Uint8Array(0);
        let seq = 0;
        for (const e of v.encryptions) {
          for (; seq < e.seq; seq++) await recipient.open(await sender.seal(fromHex(v.pt), empty), empty);
          await sender.seal(fromHex(v.pt), fromHex(e.aad));
          assert.equal(hex(await recipient.open(fromHex(e.ct), fromHex(e.aad))), v.pt, `seq ${e.seq}`);
          seq++;
        }
        for (const x of v.exports) {
          assert.equal(hex(await recipient.export(fromHex(x.context), x.length)), x.value);
        }
      });

      test(`${v.section}: the listed nonces are base_nonce XOR seq (RFC 9180 §5.2)`, () => {
        const base = fromHex(v.encryptions[0]!.nonce);
        for (const e of v.encryptions) {
          const nonce = base.slice();
          const n = nonce.length;
          nonce[n - 2]! ^= (e.seq >> 8) & 0xff;
          nonce[n - 1]! ^= e.seq & 0xff;
          assert.equal(toHex(nonce), e.nonce);
        }
      });
    }
  });
}

test("every backend interoperates with every other (seal on one, open on another)", async () => {
  for (const a of BACKENDS) {
    for (const b of BACKENDS) {
      for (const aeadId of [1, 3]) {
        const sa = channelSuite(a, 1, aeadId)!;
        const sb = channelSuite(b, 1, aeadId)!;
        const ikmR = fromHex(VECTORS[0]!.ikmR);
        const rb = await sb.hpke.kem.deriveKeyPair(ikmR);
        const pk = await sa.hpke.kem.deserializePublicKey(await sb.hpke.kem.serializePublicKey(rb.publicKey));
        const sender = await sa.hpke.createSenderContext({ recipientPublicKey: pk, info: fromHex(INFO) });
        const ct = await sender.seal(fromHex(PT), fromHex("00"));
        const recipient = await sb.hpke.createRecipientContext({
          recipientKey: rb,
          enc: sender.enc,
          info: fromHex(INFO),
        });
        assert.equal(hex(await recipient.open(ct, fromHex("00"))), PT, `${a.name} → ${b.name}, AEAD ${aeadId}`);
      }
    }
  }
});
