/**
 * Where the channel's cryptography runs. The HPKE protocol itself — key
 * schedule, nonces, sequence numbers, secret export (RFC 9180 §5) — is always
 * `@hpke/core`'s `CipherSuite`; a backend only supplies its three primitives:
 * the KEM (DHKEM(X25519, HKDF-SHA256), RFC 9180 §4.1, §7.1), the KDF
 * (HKDF-SHA256, §7.2) and the AEADs (AES-128-GCM, ChaCha20Poly1305, §7.3).
 *
 * Two backends exist: {@link webCryptoBackend} (browser-safe, WebCrypto and
 * portable JavaScript, the default) and `nodeBackend` from
 * `@veritee/channel/node` (synchronous `node:crypto`, about 30× faster on
 * Node, where every WebCrypto call is a thread-pool round trip).
 */
import { type AeadInterface, CipherSuite, type KdfInterface, type KemInterface } from "@hpke/core";
import { HPKE_KDF_HKDF_SHA256, HPKE_KEM_X25519_SHA256 } from "@veritee/core";

/** The primitives one HPKE implementation supplies. Every call returns a new instance. */
export interface HpkeBackend {
  /** A short name for reports and benchmarks ("webcrypto", "node"). */
  readonly name: string;
  /** A DHKEM(X25519, HKDF-SHA256) KEM (KEM id 0x0020). */
  createKem(): KemInterface;
  /** An HKDF-SHA256 KDF (KDF id 0x0001). A new instance: each suite initializes its own with its suite id. */
  createKdf(): KdfInterface;
  /** The AEAD with this RFC 9180 §7.3 id, or undefined when the backend lacks it. */
  createAead(aeadId: number): AeadInterface | undefined;
}

/** One HPKE cipher suite of the channel, ready to use. */
export interface ChannelSuite {
  readonly backend: HpkeBackend;
  /** The library's suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and the AEAD. */
  readonly hpke: CipherSuite;
  readonly kemId: number;
  readonly kdfId: number;
  readonly aeadId: number;
  /** AEAD key size (RFC 9180 §7.3 Nk). */
  readonly keySize: number;
  /** AEAD nonce size (Nn). */
  readonly nonceSize: number;
  /** AEAD tag size (Nt). */
  readonly tagSize: number;
}

const suites = new WeakMap<HpkeBackend, Map<number, ChannelSuite | undefined>>();

/**
 * The suite for a KDF and AEAD id on `backend`, or undefined when either is
 * not supported (the KEM is always DHKEM(X25519, HKDF-SHA256)). Suites are
 * cached: a `CipherSuite` holds no per-message state.
 *
 * @example
 * const suite = channelSuite(webCryptoBackend, 0x0001, 0x0001); // HKDF-SHA256, AES-128-GCM
 */
export function channelSuite(backend: HpkeBackend, kdfId: number, aeadId: number): ChannelSuite | undefined {
  if (kdfId !== HPKE_KDF_HKDF_SHA256) return undefined;
  let byAead = suites.get(backend);
  if (byAead === undefined) {
    byAead = new Map();
    suites.set(backend, byAead);
  }
  if (byAead.has(aeadId)) return byAead.get(aeadId);
  const aead = backend.createAead(aeadId);
  const suite =
    aead === undefined || aead.id !== aeadId
      ? undefined
      : Object.freeze({
          backend,
          hpke: new CipherSuite({ kem: backend.createKem(), kdf: backend.createKdf(), aead }),
          kemId: HPKE_KEM_X25519_SHA256,
          kdfId,
          aeadId,
          keySize: aead.keySize,
          nonceSize: aead.nonceSize,
          tagSize: aead.tagSize,
        });
  byAead.set(aeadId, suite);
  return suite;
}
