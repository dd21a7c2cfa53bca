/**
 * The Node backend: the same HPKE (`@hpke/core`'s key schedule and
 * contexts) over synchronous `node:crypto` primitives. WebCrypto on Node runs
 * every call as a thread-pool job (~0.2 ms each on a small machine), and one
 * HPKE setup makes about twenty of them; here a setup is a few native calls.
 *
 * The KEM implements DHKEM(X25519, HKDF-SHA256) of RFC 9180 §4.1 with
 * `@hpke/core`'s labelled HKDF; keys are `KeyObject`s wrapped as
 * {@link NodeX25519Key}, so a server's private key is never exported from
 * its `KeyObject`. RFC 9180 Appendix A.1/A.2 vectors check every step.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  randomFillSync,
} from "node:crypto";
import { inspect } from "node:util";
import {
  type AeadEncryptionContext,
  type AeadId,
  type AeadInterface,
  DecapError,
  DeriveKeyPairError,
  DeserializeError,
  EncapError,
  HkdfSha256,
  type KemId,
  type KemInterface,
  NotSupportedError,
  OpenError,
  type RecipientContextParams,
  type SenderContextParams,
  SerializeError,
} from "@hpke/core";
import {
  concatBytes,
  HPKE_AEAD_AES_128_GCM,
  HPKE_AEAD_CHACHA20_POLY1305,
  HPKE_KEM_X25519_SHA256,
  importX25519Private,
  utf8,
} from "@veritee/core";
import type { HpkeBackend } from "../backend.js";

const X25519_SIZE = 32;

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}

function view(input: ArrayBufferLike | ArrayBufferView): Uint8Array {
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  return new Uint8Array(input);
}

const SHA256_SIZE = 32;
const NO_SALT = new Uint8Array(SHA256_SIZE);

/** RFC 5869 §2.2 HKDF-Extract with SHA-256; an absent salt is HashLen zero bytes. */
function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac("sha256", salt.byteLength === 0 ? NO_SALT : salt)
    .update(ikm)
    .digest();
}

/** RFC 5869 §2.3 HKDF-Expand with SHA-256: T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i). */
function hkdfExpand(prk: Uint8Array, info: Uint8Array, len: number): Uint8Array<ArrayBuffer> {
  if (len > 255 * SHA256_SIZE) throw new RangeError("HKDF-Expand output too long");
  const out = new Uint8Array(len);
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 1, at = 0; at < len; i++) {
    previous = createHmac("sha256", prk).update(previous).update(info).update(Uint8Array.of(i)).digest();
    out.set(previous.subarray(0, Math.min(previous.length, len - at)), at);
    at += previous.length;
  }
  return out;
}

/**
 * HKDF-SHA256 (RFC 5869) with `node:crypto`'s HMAC; the labelled forms (RFC 9180 §4) are the library's.
 * Extract-and-expand is two HMACs here rather than `hkdfSync`, which costs about three times as much per call
 * (a key object and a job per call) — and the HPKE key schedule makes five such calls per request.
 */
class NodeHkdfSha256 extends HkdfSha256 {
  override extract(
    salt: ArrayBufferLike | ArrayBufferView,
    ikm: ArrayBufferLike | ArrayBufferView,
  ): Promise<ArrayBuffer> {
    return Promise.resolve(toArrayBuffer(hkdfExtract(view(salt), view(ikm))));
  }

  override expand(
    prk: ArrayBufferLike | ArrayBufferView,
    info: ArrayBufferLike | ArrayBufferView,
    len: number,
  ): Promise<ArrayBuffer> {
    try {
      return Promise.resolve(hkdfExpand(view(prk), view(info), len).buffer);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  override extractAndExpand(
    salt: ArrayBufferLike | ArrayBufferView,
    ikm: ArrayBufferLike | ArrayBufferView,
    info: ArrayBufferLike | ArrayBufferView,
    len: number,
  ): Promise<ArrayBuffer> {
    const prk = hkdfExtract(view(salt), view(ikm));
    try {
      return Promise.resolve(hkdfExpand(prk, view(info), len).buffer);
    } catch (e) {
      return Promise.reject(e);
    } finally {
      prk.fill(0);
    }
  }
}

const KEY_TOKEN: unique symbol = Symbol("NodeX25519Key");

/**
 * An X25519 key held as a `KeyObject`, typed as a `CryptoKey` for
 * `@hpke/core`. Not extractable through this wrapper; `util.inspect` and
 * `JSON.stringify` show only its type.
 */
export class NodeX25519Key implements CryptoKey {
  readonly algorithm: KeyAlgorithm = Object.freeze({ name: "X25519" });
  readonly extractable = false;
  readonly type: KeyType;
  readonly usages: KeyUsage[];
  /** The raw public key (for a private key: its public half), RFC 9180 §7.1.1 SerializePublicKey. */
  readonly publicBytes: Uint8Array;
  readonly #key: KeyObject;

  /** Not for callers: use {@link nodeX25519Key}. */
  constructor(token: typeof KEY_TOKEN, key: KeyObject, publicBytes: Uint8Array) {
    if (token !== KEY_TOKEN) throw new TypeError("NodeX25519Key is made by nodeX25519Key");
    this.#key = key;
    this.type = key.type === "private" ? "private" : "public";
    this.usages = key.type === "private" ? ["deriveBits"] : [];
    this.publicBytes = publicBytes;
  }

  /** The wrapped key (module-internal: the KEM uses it). */
  static keyObject(key: CryptoKey, type: KeyType): KeyObject {
    if (!(key instanceof NodeX25519Key) || key.type !== type) {
      throw new TypeError(`expected an X25519 ${type} key of the Node backend`);
    }
    return key.#key;
  }

  toJSON(): unknown {
    return { type: this.type, algorithm: "X25519" };
  }

  [inspect.custom](): string {
    return `NodeX25519Key { type: '${this.type}' }`;
  }
}

function rawPublic(key: KeyObject): Uint8Array {
  // JWK export is ~50× faster than DER on OpenSSL 3; `x` is the raw key (RFC 8037 §2).
  const x = key.export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new TypeError("X25519 public key export failed");
  return new Uint8Array(Buffer.from(x, "base64url"));
}

/**
 * Wrap an X25519 `KeyObject` (public or private) for the Node backend.
 *
 * @throws TypeError for a key that is not X25519.
 * @example
 * const privateKey = nodeX25519Key(serverKeys.hpkePrivateKey);
 */
export function nodeX25519Key(key: KeyObject): NodeX25519Key {
  if (key.asymmetricKeyType !== "x25519") throw new TypeError("not an X25519 key");
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return new NodeX25519Key(KEY_TOKEN, key, rawPublic(pub));
}

/** A key pair from a private `KeyObject`, its public half derived once (not re-imported from its bytes). */
function pairFromPrivate(key: KeyObject): { privateKey: NodeX25519Key; publicKey: NodeX25519Key } {
  const pub = createPublicKey(key);
  const bytes = rawPublic(pub);
  return { privateKey: new NodeX25519Key(KEY_TOKEN, key, bytes), publicKey: new NodeX25519Key(KEY_TOKEN, pub, bytes) };
}

function publicFromRaw(raw: Uint8Array): NodeX25519Key {
  if (raw.length !== X25519_SIZE) throw new DeserializeError("an X25519 public key is 32 bytes");
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64url");
  const key = createPublicKey({ key: { kty: "OKP", crv: "X25519", x }, format: "jwk" });
  return new NodeX25519Key(KEY_TOKEN, key, raw.slice());
}

/** An X25519 private `KeyObject` from its 32 raw bytes. */
function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== X25519_SIZE) throw new DeserializeError("an X25519 private key is 32 bytes");
  return importX25519Private(raw);
}

function privateFromRaw(raw: Uint8Array): NodeX25519Key {
  return nodeX25519Key(privateKeyObject(raw));
}

function isKeyPair(value: unknown): value is CryptoKeyPair {
  return typeof value === "object" && value !== null && "privateKey" in value && "publicKey" in value;
}

const LABEL_EAE_PRK = utf8("eae_prk");
const LABEL_SHARED_SECRET = utf8("shared_secret");
const LABEL_DKP_PRK = utf8("dkp_prk");
const LABEL_SK = utf8("sk");

/** DHKEM(X25519, HKDF-SHA256), RFC 9180 §4.1, base mode only (auth modes are not used by the channel). */
class NodeX25519Kem implements KemInterface {
  readonly id: KemId = HPKE_KEM_X25519_SHA256 as KemId;
  readonly secretSize = 32;
  readonly encSize = 32;
  readonly publicKeySize = 32;
  readonly privateKeySize = 32;
  readonly #kdf = new NodeHkdfSha256();

  constructor() {
    // suite_id = "KEM" ‖ I2OSP(kem_id, 2) (RFC 9180 §4.1).
    this.#kdf.init(concatBytes(utf8("KEM"), Uint8Array.of(HPKE_KEM_X25519_SHA256 >> 8, HPKE_KEM_X25519_SHA256 & 0xff)));
  }

  async serializePublicKey(key: CryptoKey): Promise<ArrayBuffer> {
    if (!(key instanceof NodeX25519Key)) throw new SerializeError("not a key of the Node backend");
    return toArrayBuffer(key.publicBytes);
  }

  async deserializePublicKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    try {
      return publicFromRaw(view(key));
    } catch (e) {
      throw new DeserializeError(e);
    }
  }

  async serializePrivateKey(key: CryptoKey): Promise<ArrayBuffer> {
    try {
      const der = NodeX25519Key.keyObject(key, "private").export({ format: "der", type: "pkcs8" });
      return toArrayBuffer(der.subarray(der.length - X25519_SIZE));
    } catch (e) {
      throw new SerializeError(e);
    }
  }

  async deserializePrivateKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    try {
      return privateFromRaw(view(key));
    } catch (e) {
      throw new DeserializeError(e);
    }
  }

  async importKey(format: "raw" | "jwk", key: ArrayBuffer | JsonWebKey, isPublic = true): Promise<CryptoKey> {
    try {
      if (format === "raw") {
        if (!(key instanceof ArrayBuffer)) throw new TypeError("raw keys are bytes");
        return isPublic ? publicFromRaw(new Uint8Array(key)) : privateFromRaw(new Uint8Array(key));
      }
      if (key instanceof ArrayBuffer) throw new TypeError("a JWK is an object");
      const jwk = { ...key, crv: key.crv ?? "X25519", kty: key.kty ?? "OKP" } as import("node:crypto").JsonWebKey;
      return nodeX25519Key(
        isPublic ? createPublicKey({ key: jwk, format: "jwk" }) : createPrivateKey({ key: jwk, format: "jwk" }),
      );
    } catch (e) {
      throw new DeserializeError(e);
    }
  }

  async generateKeyPair(): Promise<CryptoKeyPair> {
    // From 32 random bytes (any 32 bytes are an X25519 private key, RFC 7748 §5), not generateKeyPairSync: no key
    // is exported from a key-generation job's KeyObject (a Node 20 deadlock, see core's generateX25519).
    const raw = randomFillSync(new Uint8Array(X25519_SIZE));
    try {
      return pairFromPrivate(privateKeyObject(raw));
    } finally {
      raw.fill(0);
    }
  }

  /** RFC 9180 §7.1.3 DeriveKeyPair for X25519. */
  async deriveKeyPair(ikm: ArrayBufferLike | ArrayBufferView): Promise<CryptoKeyPair> {
    try {
      const prk = await this.#kdf.labeledExtract(new Uint8Array(0), LABEL_DKP_PRK, view(ikm));
      const sk = new Uint8Array(await this.#kdf.labeledExpand(prk, LABEL_SK, new Uint8Array(0), X25519_SIZE));
      try {
        return pairFromPrivate(privateKeyObject(sk));
      } finally {
        sk.fill(0);
      }
    } catch (e) {
      throw new DeriveKeyPairError(e);
    }
  }

  /** DH with the all-zero check of RFC 9180 §7.1.4 (OpenSSL refuses it too). */
  #dh(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
    const dh = diffieHellman({ privateKey, publicKey });
    let acc = 0;
    for (const b of dh) acc |= b;
    if (acc === 0) throw new Error("X25519 produced the all-zero value");
    return new Uint8Array(dh);
  }

  /** RFC 9180 §4.1 ExtractAndExpand. */
  async #sharedSecret(dh: Uint8Array, kemContext: Uint8Array): Promise<ArrayBuffer> {
    const prk = await this.#kdf.labeledExtract(new Uint8Array(0), LABEL_EAE_PRK, dh);
    return this.#kdf.labeledExpand(prk, LABEL_SHARED_SECRET, kemContext, this.secretSize);
  }

  async encap(params: SenderContextParams): Promise<{ sharedSecret: ArrayBuffer; enc: ArrayBuffer }> {
    if (params.senderKey !== undefined) throw new NotSupportedError("authenticated modes are not supported");
    try {
      const pkR = params.recipientPublicKey;
      if (!(pkR instanceof NodeX25519Key)) throw new TypeError("not a key of the Node backend");
      // `ekm` is for known-answer tests only (RFC 9180 Appendix A gives ikmE).
      const pair =
        params.ekm === undefined
          ? await this.generateKeyPair()
          : isKeyPair(params.ekm)
            ? params.ekm
            : await this.deriveKeyPair(params.ekm);
      const skE = NodeX25519Key.keyObject(pair.privateKey, "private");
      const enc = (pair.publicKey as NodeX25519Key).publicBytes;
      const dh = this.#dh(skE, NodeX25519Key.keyObject(pkR, "public"));
      const sharedSecret = await this.#sharedSecret(dh, concatBytes(enc, pkR.publicBytes));
      dh.fill(0);
      return { sharedSecret, enc: toArrayBuffer(enc) };
    } catch (e) {
      throw new EncapError(e);
    }
  }

  async decap(params: RecipientContextParams): Promise<ArrayBuffer> {
    if (params.senderPublicKey !== undefined) throw new NotSupportedError("authenticated modes are not supported");
    try {
      const enc = view(params.enc).slice();
      const pkE = publicFromRaw(enc);
      const recipient = isKeyPair(params.recipientKey) ? params.recipientKey.privateKey : params.recipientKey;
      if (!(recipient instanceof NodeX25519Key)) throw new TypeError("not a key of the Node backend");
      const dh = this.#dh(NodeX25519Key.keyObject(recipient, "private"), NodeX25519Key.keyObject(pkE, "public"));
      const sharedSecret = await this.#sharedSecret(dh, concatBytes(enc, recipient.publicBytes));
      dh.fill(0);
      return sharedSecret;
    } catch (e) {
      throw new DecapError(e);
    }
  }
}

type NodeCipher = "aes-128-gcm" | "chacha20-poly1305";

function cipher(name: NodeCipher, key: Buffer, iv: Uint8Array, authTagLength: number) {
  return name === "aes-128-gcm"
    ? createCipheriv(name, key, iv, { authTagLength })
    : createCipheriv(name, key, iv, { authTagLength });
}

function decipher(name: NodeCipher, key: Buffer, iv: Uint8Array, authTagLength: number) {
  return name === "aes-128-gcm"
    ? createDecipheriv(name, key, iv, { authTagLength })
    : createDecipheriv(name, key, iv, { authTagLength });
}

/** An AEAD context over `node:crypto` (one key, any number of nonces). */
class NodeAeadContext implements AeadEncryptionContext {
  readonly #cipher: NodeCipher;
  readonly #key: Buffer;
  readonly #tagSize: number;

  constructor(cipher: NodeCipher, key: Uint8Array, tagSize: number) {
    this.#cipher = cipher;
    this.#key = Buffer.from(key);
    this.#tagSize = tagSize;
  }

  seal(
    iv: ArrayBufferLike | ArrayBufferView,
    data: ArrayBufferLike | ArrayBufferView,
    aad: ArrayBufferLike | ArrayBufferView,
  ): Promise<ArrayBuffer> {
    const c = cipher(this.#cipher, this.#key, view(iv), this.#tagSize);
    const plaintext = view(data);
    c.setAAD(view(aad), { plaintextLength: plaintext.length });
    const head = c.update(plaintext);
    const tail = c.final();
    const tag = c.getAuthTag();
    const out = new Uint8Array(head.length + tail.length + tag.length);
    out.set(head, 0);
    out.set(tail, head.length);
    out.set(tag, head.length + tail.length);
    return Promise.resolve(out.buffer);
  }

  open(
    iv: ArrayBufferLike | ArrayBufferView,
    data: ArrayBufferLike | ArrayBufferView,
    aad: ArrayBufferLike | ArrayBufferView,
  ): Promise<ArrayBuffer> {
    const d = view(data);
    if (d.length < this.#tagSize) return Promise.reject(new OpenError("ciphertext shorter than the tag"));
    try {
      const c = decipher(this.#cipher, this.#key, view(iv), this.#tagSize);
      c.setAAD(view(aad), { plaintextLength: d.length - this.#tagSize });
      c.setAuthTag(d.subarray(d.length - this.#tagSize));
      const head = c.update(d.subarray(0, d.length - this.#tagSize));
      const tail = c.final();
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      return Promise.resolve(out.buffer);
    } catch (e) {
      return Promise.reject(new OpenError(e));
    }
  }
}

class NodeAead implements AeadInterface {
  readonly id: AeadId;
  readonly keySize: number;
  readonly nonceSize = 12;
  readonly tagSize = 16;
  readonly #cipher: NodeCipher;

  constructor(id: number) {
    this.id = id as AeadId;
    this.#cipher = id === HPKE_AEAD_AES_128_GCM ? "aes-128-gcm" : "chacha20-poly1305";
    this.keySize = id === HPKE_AEAD_AES_128_GCM ? 16 : 32;
  }

  createEncryptionContext(key: ArrayBufferLike | ArrayBufferView): AeadEncryptionContext {
    const k = view(key);
    if (k.length !== this.keySize) throw new RangeError("wrong AEAD key size");
    return new NodeAeadContext(this.#cipher, k, this.tagSize);
  }
}

/**
 * The Node backend: `@hpke/core`'s HPKE over synchronous `node:crypto`
 * (X25519, HKDF-SHA256, AES-128-GCM, ChaCha20Poly1305). Interoperates with
 * `webCryptoBackend`.
 *
 * @example
 * const { sealed, context } = await sealRequest(verified, request, { backend: nodeBackend });
 */
export const nodeBackend: HpkeBackend = Object.freeze({
  name: "node",
  createKem: (): KemInterface => new NodeX25519Kem(),
  createKdf: () => new NodeHkdfSha256(),
  createAead: (aeadId: number): AeadInterface | undefined =>
    aeadId === HPKE_AEAD_AES_128_GCM || aeadId === HPKE_AEAD_CHACHA20_POLY1305 ? new NodeAead(aeadId) : undefined,
});
