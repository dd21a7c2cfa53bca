/**
 * The server's ephemeral keys, generated in memory at launch: a TLS key
 * (ECDSA P-256) and an HPKE key (X25519, RFC 9180). Private keys stay
 * `KeyObject`s in this process: never exported, written to disk or logged;
 * only their public halves form the attested key set.
 */
import type { KeyObject } from "node:crypto";
import { inspect } from "node:util";
import { generateP256, generateX25519, toHex } from "@veritee/core";
import {
  HPKE_AEAD_AES_128_GCM,
  HPKE_AEAD_CHACHA20_POLY1305,
  HPKE_KDF_HKDF_SHA256,
  HPKE_KEM_X25519_SHA256,
  type HpkeCipherSuite,
  type KeySet,
  keySetDigest,
  keySetToJson,
} from "@veritee/evidence";
import { LaunchError } from "./errors.js";

/** The HPKE suites a server offers, in order of preference: HKDF-SHA256 with AES-128-GCM, then ChaCha20Poly1305. */
export const DEFAULT_HPKE_CIPHER_SUITES: readonly HpkeCipherSuite[] = Object.freeze([
  Object.freeze({ kdfId: HPKE_KDF_HKDF_SHA256, aeadId: HPKE_AEAD_AES_128_GCM }),
  Object.freeze({ kdfId: HPKE_KDF_HKDF_SHA256, aeadId: HPKE_AEAD_CHACHA20_POLY1305 }),
]);

const TOKEN: unique symbol = Symbol("ServerKeys");

/**
 * The key set with its private keys. `JSON.stringify` and `util.inspect` show
 * only the public key set, so logging the object cannot leak a private key.
 */
export class ServerKeys {
  /** The public key set, as attested. */
  readonly keySet: KeySet;
  /** SHA-256 of the key set's canonical encoding (what the launch log records). */
  readonly keySetDigest: Uint8Array;
  #tls: KeyObject | undefined;
  #hpke: KeyObject | undefined;

  /** Not for callers: use {@link generateServerKeys}. */
  constructor(token: typeof TOKEN, keySet: KeySet, tls: KeyObject, hpke: KeyObject) {
    if (token !== TOKEN) throw new TypeError("ServerKeys are made by generateServerKeys");
    this.keySet = keySet;
    this.keySetDigest = keySetDigest(keySet);
    this.#tls = tls;
    this.#hpke = hpke;
  }

  /**
   * The TLS private key (ECDSA P-256), for the TLS server's secure context.
   *
   * @throws LaunchError `keys-dropped` after {@link ServerKeys.dropKeys}.
   */
  get tlsPrivateKey(): KeyObject {
    if (this.#tls === undefined) throw new LaunchError("keys-dropped", "the TLS private key was dropped");
    return this.#tls;
  }

  /**
   * The HPKE private key (X25519), for opening sealed requests.
   *
   * @throws LaunchError `keys-dropped` after {@link ServerKeys.dropKeys}.
   */
  get hpkePrivateKey(): KeyObject {
    if (this.#hpke === undefined) throw new LaunchError("keys-dropped", "the HPKE private key was dropped");
    return this.#hpke;
  }

  /** Whether the private keys were dropped. */
  get dropped(): boolean {
    return this.#tls === undefined && this.#hpke === undefined;
  }

  /**
   * Forget the private keys (at shutdown). Node gives no way to wipe a
   * KeyObject's memory; dropping the last reference lets it be freed, and
   * every later use fails loudly instead of serving with a stale key.
   */
  dropKeys(): void {
    this.#tls = undefined;
    this.#hpke = undefined;
  }

  /** The public key set and its digest only. */
  toJSON(): unknown {
    return { keySet: keySetToJson(this.keySet), keySetDigest: toHex(this.keySetDigest) };
  }

  [inspect.custom](): string {
    return `ServerKeys { keySetDigest: '${toHex(this.keySetDigest)}'${this.dropped ? ", dropped" : ""} }`;
  }
}

/**
 * Generate a fresh TLS key pair (ECDSA P-256) and HPKE key pair (X25519) in
 * memory, and the key set of their public halves.
 *
 * @example
 * const keys = generateServerKeys();
 * keys.keySet.hpke.publicKey; // 32 bytes
 */
export function generateServerKeys(options: { readonly hpkeKeyId?: number } = {}): ServerKeys {
  // Generated without exporting from a key-generation job's KeyObject (see core's generateX25519).
  const tls = generateP256();
  const hpke = generateX25519();
  const keySet: KeySet = Object.freeze({
    tlsSpki: tls.spki,
    hpke: Object.freeze({
      keyId: options.hpkeKeyId ?? 0,
      kemId: HPKE_KEM_X25519_SHA256,
      publicKey: hpke.publicKey,
      cipherSuites: DEFAULT_HPKE_CIPHER_SUITES,
    }),
  });
  return new ServerKeys(TOKEN, keySet, tls.privateKey, hpke.privateKey);
}

/** Drop a key set's private keys (see {@link ServerKeys.dropKeys}). */
export function dropKeys(keys: ServerKeys): void {
  keys.dropKeys();
}
