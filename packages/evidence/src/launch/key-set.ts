/**
 * The attested key set: the public halves of the keys a Veritee server
 * generated in memory at launch — its TLS key (ECDSA P-256) and its HPKE key
 * (RFC 9180, X25519) — in one canonical byte encoding whose SHA-256 is
 * measured into the launch log and bound into every quote's extraData.
 *
 * Encoding (all integers big-endian, as in RFC 9458 and TLS):
 *
 *     "veritee-key-set-v1"                 18 bytes, ASCII, no terminator
 *     u16 length || TLS SubjectPublicKeyInfo (DER)
 *     u16 length || HPKE key configuration (RFC 9458 §3):
 *         u8  key_id
 *         u16 kem_id                        0x0020 DHKEM(X25519, HKDF-SHA256)
 *         32  public_key                    the raw X25519 public key (RFC 9180 §7.1.1 SerializePublicKey)
 *         u16 length (4 × n)
 *         n × { u16 kdf_id, u16 aead_id }   in the server's order of preference
 *
 * keySetDigest = SHA-256(encoding).
 */
import {
  ByteWriter,
  base64Decode,
  base64Encode,
  decodeSpki,
  expectArray,
  expectInteger,
  expectMembers,
  HPKE_AEAD_AES_128_GCM,
  HPKE_AEAD_CHACHA20_POLY1305,
  HPKE_KDF_HKDF_SHA256,
  HPKE_KEM_X25519_SHA256,
  type HpkeKeyConfig,
  hash,
  MalformedError,
  type PublicKeyParts,
  utf8,
} from "@veritee/core";

// The HPKE identifiers and key-configuration types moved to @veritee/core (the
// channel seals to them and may import only core); re-exported here unchanged.
export {
  HPKE_AEAD_AES_128_GCM,
  HPKE_AEAD_CHACHA20_POLY1305,
  HPKE_KDF_HKDF_SHA256,
  HPKE_KEM_X25519_SHA256,
  type HpkeCipherSuite,
  type HpkeKeyConfig,
} from "@veritee/core";

/** The domain-separation label that starts the key-set encoding. */
export const KEY_SET_LABEL = "veritee-key-set-v1";

/** Size of an X25519 public key (RFC 7748 §5, RFC 9180 §7.1: Npk = 32). */
const X25519_PUBLIC_KEY_SIZE = 32;
/** Most cipher suites a key configuration may list. */
const MAX_CIPHER_SUITES = 8;
/** Largest TLS SPKI accepted: a P-256 SPKI is 91 bytes. */
const MAX_SPKI_SIZE = 1024;

const KNOWN_KDFS: ReadonlySet<number> = new Set([HPKE_KDF_HKDF_SHA256]);
const KNOWN_AEADS: ReadonlySet<number> = new Set([HPKE_AEAD_AES_128_GCM, HPKE_AEAD_CHACHA20_POLY1305]);

/** The public key set a server attests. */
export interface KeySet {
  /** DER SubjectPublicKeyInfo of the TLS key, an ECDSA P-256 key. */
  readonly tlsSpki: Uint8Array;
  readonly hpke: HpkeKeyConfig;
}

/** The JSON form of a {@link KeySet} in the attestation document. */
export interface KeySetJson {
  readonly tlsSpki: string;
  readonly hpke: {
    readonly keyId: number;
    readonly kemId: number;
    readonly publicKey: string;
    readonly cipherSuites: readonly { readonly kdfId: number; readonly aeadId: number }[];
  };
}

/** Check a key set's contents; `fail` reports the first problem. */
function check(keySet: KeySet, fail: (what: string, detail: string) => never): void {
  if (keySet.tlsSpki.length > MAX_SPKI_SIZE) fail("tlsSpki", `larger than ${MAX_SPKI_SIZE} bytes`);
  // Veritee encodes this key itself: core's strict SPKI decoder, no EK-certificate leniency.
  let key: PublicKeyParts | undefined;
  try {
    key = decodeSpki(keySet.tlsSpki);
  } catch {
    key = undefined;
  }
  if (key === undefined) fail("tlsSpki", "not a DER SubjectPublicKeyInfo");
  if (key.kty !== "EC" || key.crv !== "P-256") fail("tlsSpki", "not an ECDSA P-256 key");
  const hpke = keySet.hpke;
  if (!Number.isInteger(hpke.keyId) || hpke.keyId < 0 || hpke.keyId > 255) fail("hpke.keyId", "not in 0..255");
  if (hpke.kemId !== HPKE_KEM_X25519_SHA256) fail("hpke.kemId", "only DHKEM(X25519, HKDF-SHA256) is supported");
  if (hpke.publicKey.length !== X25519_PUBLIC_KEY_SIZE) fail("hpke.publicKey", "an X25519 public key is 32 bytes");
  const suites = hpke.cipherSuites;
  if (suites.length === 0 || suites.length > MAX_CIPHER_SUITES) {
    fail("hpke.cipherSuites", `1..${MAX_CIPHER_SUITES} suites`);
  }
  const seen = new Set<number>();
  for (const s of suites) {
    if (!KNOWN_KDFS.has(s.kdfId)) fail("hpke.cipherSuites", "unsupported KDF");
    if (!KNOWN_AEADS.has(s.aeadId)) fail("hpke.cipherSuites", "unsupported AEAD");
    const key = (s.kdfId << 16) | s.aeadId;
    if (seen.has(key)) fail("hpke.cipherSuites", "a suite is listed twice");
    seen.add(key);
  }
}

function rangeFail(what: string, detail: string): never {
  throw new RangeError(`KeySet.${what}: ${detail}`);
}

/**
 * The RFC 9458 §3 encoding of an HPKE key configuration.
 *
 * @throws RangeError for a configuration outside version 1 (see {@link KeySet}).
 */
export function encodeHpkeKeyConfig(config: HpkeKeyConfig): Uint8Array {
  const w = new ByteWriter();
  w.u8(config.keyId).u16(config.kemId).bytes(config.publicKey);
  w.u16(4 * config.cipherSuites.length);
  for (const s of config.cipherSuites) w.u16(s.kdfId).u16(s.aeadId);
  return w.finish();
}

/**
 * The canonical encoding of a key set (layout in the module comment), the
 * input of {@link keySetDigest}.
 *
 * @throws RangeError for a key set outside version 1: a TLS key that is not
 *   P-256, another KEM, a public key that is not 32 bytes, no or unknown or
 *   repeated cipher suites.
 * @example
 * const bytes = encodeKeySet({ tlsSpki, hpke: { keyId: 0, kemId: 0x20, publicKey, cipherSuites: [{ kdfId: 1, aeadId: 1 }] } });
 */
export function encodeKeySet(keySet: KeySet): Uint8Array {
  check(keySet, rangeFail);
  const w = new ByteWriter();
  w.bytes(utf8(KEY_SET_LABEL));
  w.tpm2b(keySet.tlsSpki);
  w.tpm2b(encodeHpkeKeyConfig(keySet.hpke));
  return w.finish();
}

/**
 * SHA-256 of {@link encodeKeySet}: the value the launch log's `key-set` event
 * records and the attestation binding includes.
 */
export function keySetDigest(keySet: KeySet): Uint8Array {
  return hash("sha256", encodeKeySet(keySet));
}

/** The JSON form of a key set (binary fields in padded base64). */
export function keySetToJson(keySet: KeySet): KeySetJson {
  check(keySet, rangeFail);
  return {
    tlsSpki: base64Encode(keySet.tlsSpki),
    hpke: {
      keyId: keySet.hpke.keyId,
      kemId: keySet.hpke.kemId,
      publicKey: base64Encode(keySet.hpke.publicKey),
      cipherSuites: keySet.hpke.cipherSuites.map((s) => ({ kdfId: s.kdfId, aeadId: s.aeadId })),
    },
  };
}

/**
 * Decode the JSON form of a key set, strictly: exactly the members of
 * {@link KeySetJson}, canonical base64, and version-1 contents (as
 * {@link encodeKeySet} requires).
 *
 * @throws MalformedError naming the field.
 */
export function decodeKeySet(value: unknown, what = "KeySet"): KeySet {
  const obj = expectMembers(value, what, ["tlsSpki", "hpke"]);
  const tlsSpki = base64Decode(obj.tlsSpki, `${what}.tlsSpki`, MAX_SPKI_SIZE);
  const h = expectMembers(obj.hpke, `${what}.hpke`, ["keyId", "kemId", "publicKey", "cipherSuites"]);
  const suites = expectArray(h.cipherSuites, `${what}.hpke.cipherSuites`, MAX_CIPHER_SUITES).map((s, i) => {
    const m = expectMembers(s, `${what}.hpke.cipherSuites[${i}]`, ["kdfId", "aeadId"]);
    return Object.freeze({
      kdfId: expectInteger(m.kdfId, `${what}.hpke.cipherSuites[${i}].kdfId`, 0, 0xffff),
      aeadId: expectInteger(m.aeadId, `${what}.hpke.cipherSuites[${i}].aeadId`, 0, 0xffff),
    });
  });
  const keySet: KeySet = Object.freeze({
    tlsSpki,
    hpke: Object.freeze({
      keyId: expectInteger(h.keyId, `${what}.hpke.keyId`, 0, 255),
      kemId: expectInteger(h.kemId, `${what}.hpke.kemId`, 0, 0xffff),
      publicKey: base64Decode(h.publicKey, `${what}.hpke.publicKey`, X25519_PUBLIC_KEY_SIZE),
      cipherSuites: Object.freeze(suites),
    }),
  });
  check(keySet, (field, detail) => {
    throw new MalformedError("bad-value", `${what}.${field}`, detail);
  });
  return keySet;
}
