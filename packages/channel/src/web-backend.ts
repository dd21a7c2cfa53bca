/**
 * The browser-safe backend: WebCrypto for HKDF and AES-128-GCM, and
 * X25519 from WebCrypto where the platform has it (Node ≥ 20, current
 * browsers), otherwise the portable JavaScript X25519 of
 * `@hpke/dhkem-x25519`; ChaCha20Poly1305 from `@hpke/chacha20poly1305`
 * (WebCrypto has none). No Node API is used.
 */

import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import {
  type AeadInterface,
  Aes128Gcm,
  HkdfSha256,
  type KemId,
  type KemInterface,
  DhkemX25519HkdfSha256 as NativeX25519Kem,
  type RecipientContextParams,
  type SenderContextParams,
} from "@hpke/core";
import { DhkemX25519HkdfSha256 as PortableX25519Kem } from "@hpke/dhkem-x25519";
import { HPKE_AEAD_AES_128_GCM, HPKE_AEAD_CHACHA20_POLY1305, HPKE_KEM_X25519_SHA256 } from "@veritee/core";
import type { HpkeBackend } from "./backend.js";

let nativeX25519: Promise<boolean> | undefined;

/** Whether this platform's WebCrypto implements X25519 (probed once). */
function hasNativeX25519(): Promise<boolean> {
  nativeX25519 ??= (async () => {
    try {
      await globalThis.crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
      return true;
    } catch {
      return false;
    }
  })();
  return nativeX25519;
}

/**
 * DHKEM(X25519, HKDF-SHA256) that picks WebCrypto's X25519 when present and
 * the portable implementation otherwise. The choice is made before the first
 * key exists, since keys of one cannot be used with the other.
 */
class AutoX25519Kem implements KemInterface {
  readonly id: KemId = HPKE_KEM_X25519_SHA256 as KemId;
  readonly secretSize = 32;
  readonly encSize = 32;
  readonly publicKeySize = 32;
  readonly privateKeySize = 32;
  #kem: Promise<KemInterface> | undefined;

  #pick(): Promise<KemInterface> {
    this.#kem ??= hasNativeX25519().then((native) => (native ? new NativeX25519Kem() : new PortableX25519Kem()));
    return this.#kem;
  }

  async serializePublicKey(key: CryptoKey): Promise<ArrayBuffer> {
    return (await this.#pick()).serializePublicKey(key);
  }
  async deserializePublicKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    return (await this.#pick()).deserializePublicKey(key);
  }
  async serializePrivateKey(key: CryptoKey): Promise<ArrayBuffer> {
    return (await this.#pick()).serializePrivateKey(key);
  }
  async deserializePrivateKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    return (await this.#pick()).deserializePrivateKey(key);
  }
  async importKey(format: "raw" | "jwk", key: ArrayBuffer | JsonWebKey, isPublic?: boolean): Promise<CryptoKey> {
    return (await this.#pick()).importKey(format, key, isPublic);
  }
  async generateKeyPair(): Promise<CryptoKeyPair> {
    return (await this.#pick()).generateKeyPair();
  }
  async deriveKeyPair(ikm: ArrayBufferLike | ArrayBufferView): Promise<CryptoKeyPair> {
    return (await this.#pick()).deriveKeyPair(ikm);
  }
  async encap(params: SenderContextParams): Promise<{ sharedSecret: ArrayBuffer; enc: ArrayBuffer }> {
    return (await this.#pick()).encap(params);
  }
  async decap(params: RecipientContextParams): Promise<ArrayBuffer> {
    return (await this.#pick()).decap(params);
  }
}

/**
 * The browser-safe backend (the default everywhere). On Node prefer
 * `nodeBackend` from `@veritee/channel/node` for speed; both interoperate.
 *
 * @example
 * const { sealed, context } = await sealRequest(verified, request, { backend: webCryptoBackend });
 */
export const webCryptoBackend: HpkeBackend = Object.freeze({
  name: "webcrypto",
  createKem: (): KemInterface => new AutoX25519Kem(),
  createKdf: () => new HkdfSha256(),
  createAead: (aeadId: number): AeadInterface | undefined =>
    aeadId === HPKE_AEAD_AES_128_GCM
      ? new Aes128Gcm()
      : aeadId === HPKE_AEAD_CHACHA20_POLY1305
        ? new Chacha20Poly1305()
        : undefined,
});

/**
 * Backends with a fixed X25519 implementation, for tests and benchmarks:
 * `native` (WebCrypto X25519; fails where the platform lacks it) and
 * `portable` (JavaScript X25519, runs everywhere).
 */
export const webCryptoBackendWith: Readonly<Record<"native" | "portable", HpkeBackend>> = Object.freeze({
  native: Object.freeze({
    ...webCryptoBackend,
    name: "webcrypto-native-x25519",
    createKem: () => new NativeX25519Kem(),
  }),
  portable: Object.freeze({
    ...webCryptoBackend,
    name: "webcrypto-portable-x25519",
    createKem: () => new PortableX25519Kem(),
  }),
});
