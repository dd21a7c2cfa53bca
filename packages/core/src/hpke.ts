/**
 * HPKE algorithm identifiers (RFC 9180 §7) and the key configuration shape
 * (RFC 9458 §3) shared by the verifier, which decodes the attested key set,
 * and the channel, which seals to it. They live in core so that the channel
 * depends on core alone (README "Layout").
 */

/** HPKE KEM id of DHKEM(X25519, HKDF-SHA256) (RFC 9180 §7.1). */
export const HPKE_KEM_X25519_SHA256 = 0x0020;
/** HPKE KDF id of HKDF-SHA256 (RFC 9180 §7.2). */
export const HPKE_KDF_HKDF_SHA256 = 0x0001;
/** HPKE AEAD id of AES-128-GCM (RFC 9180 §7.3). */
export const HPKE_AEAD_AES_128_GCM = 0x0001;
/** HPKE AEAD id of ChaCha20Poly1305 (RFC 9180 §7.3). */
export const HPKE_AEAD_CHACHA20_POLY1305 = 0x0003;

/** One HPKE cipher suite of a key configuration. */
export interface HpkeCipherSuite {
  readonly kdfId: number;
  readonly aeadId: number;
}

/** An HPKE key configuration (RFC 9458 §3). */
export interface HpkeKeyConfig {
  /** 0–255; identifies the key among a server's configurations. */
  readonly keyId: number;
  /** Always {@link HPKE_KEM_X25519_SHA256} in version 1. */
  readonly kemId: number;
  /** The raw 32-byte X25519 public key. */
  readonly publicKey: Uint8Array;
  /** The suites the server accepts, in its order of preference. */
  readonly cipherSuites: readonly HpkeCipherSuite[];
}
