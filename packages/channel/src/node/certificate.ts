/**
 * The attested TLS certificate: a self-signed X.509 v3 certificate (RFC 5280)
 * for the server's attested TLS key, made at start-up and signed with that
 * key. Clients do not trust it through any CA: they pin the key itself (the
 * SubjectPublicKeyInfo the quote binds, see pinned.ts). The certificate only
 * carries the key into the TLS handshake, whose CertificateVerify proves the
 * server holds the private key (RFC 8446 §4.4.3). Node-only (`node:crypto`).
 */
import { createPublicKey, type KeyObject, sign } from "node:crypto";
import {
  bytesEqual,
  derBitString,
  derBoolean,
  derExplicit,
  derNamedBits,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derSmallInteger,
  derTime,
  derUnsigned,
  derUtf8String,
  encodePem,
} from "@veritee/core";

/** Options of {@link createAttestedCertificate}. */
export interface AttestedCertificateOptions {
  /** The TLS private key, ECDSA P-256 (e.g. `ServerKeys.tlsPrivateKey`). */
  readonly privateKey: KeyObject;
  /** The attested SubjectPublicKeyInfo (`KeySet.tlsSpki`): must be the private key's public half, byte for byte. */
  readonly spki: Uint8Array;
  /** Subject and issuer common name (default "Veritee attested TLS key"). */
  readonly commonName?: string;
  /** Start of validity (default: five minutes before now, whole seconds). */
  readonly notBefore?: Date;
  /** End of validity (default: one year after `notBefore`). Pinning clients do not rely on it. */
  readonly notAfter?: Date;
  /** Serial number bytes (default: 16 random bytes, positive). */
  readonly serial?: Uint8Array;
}

/** A certificate in both encodings. */
export interface AttestedCertificate {
  readonly der: Uint8Array;
  /** PEM ("-----BEGIN CERTIFICATE-----"), as `tls.createServer({ cert })` takes it. */
  readonly pem: string;
}

/** RFC 5280 §4.2.1.9, §4.2.1.3, §4.2.1.12; RFC 5758 §3.2; X.520 commonName. */
const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

/** The DER encoding of a P-256 SPKI's algorithm part (id-ecPublicKey, prime256v1), RFC 5480 §2. */
const P256_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
  0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
]);

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return derSequence(derOid(oid), ...(critical ? [derBoolean(true)] : []), derOctetString(value));
}

function randomSerial(): Uint8Array {
  const serial = new Uint8Array(16);
  globalThis.crypto.getRandomValues(serial);
  // RFC 5280 §4.1.2.2: positive, at most 20 octets; a set second bit keeps it 16 bytes long.
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

/**
 * Make the self-signed certificate for the attested TLS key: subject = issuer
 * = CN, the attested SPKI verbatim, ECDSA with SHA-256, critical
 * basicConstraints (not a CA) and keyUsage (digitalSignature), extKeyUsage
 * serverAuth.
 *
 * @throws RangeError when `spki` is not the P-256 public half of `privateKey`.
 * @example
 * const cert = createAttestedCertificate({ privateKey: keys.tlsPrivateKey, spki: keys.keySet.tlsSpki });
 * https.createServer({ key: keys.tlsPrivateKey, cert: cert.pem }, handler);
 */
export function createAttestedCertificate(options: AttestedCertificateOptions): AttestedCertificate {
  const { privateKey, spki } = options;
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ec")
    throw new RangeError("not an EC private key");
  const own = new Uint8Array(createPublicKey(privateKey).export({ format: "der", type: "spki" }));
  if (
    !bytesEqual(own, spki) ||
    spki.length !== 91 ||
    !bytesEqual(spki.subarray(0, P256_SPKI_PREFIX.length), P256_SPKI_PREFIX)
  ) {
    throw new RangeError("spki is not the P-256 public key of privateKey");
  }
  const notBefore = options.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000 - 5 * 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * 86_400_000);
  if (!(notAfter.getTime() > notBefore.getTime())) throw new RangeError("notAfter must be after notBefore");
  const name = derSequence(
    derSet(derSequence(derOid(OID.commonName), derUtf8String(options.commonName ?? "Veritee attested TLS key"))),
  );
  const algorithm = derSequence(derOid(OID.ecdsaWithSha256));
  const extensions = derSequence(
    extension(OID.basicConstraints, true, derSequence()),
    extension(OID.keyUsage, true, derNamedBits([0])),
    extension(OID.extKeyUsage, false, derSequence(derOid(OID.serverAuth))),
  );
  // RFC 5280 §4.1: TBSCertificate, version v3 (2) explicit [0], extensions explicit [3].
  const tbs = derSequence(
    derExplicit(0, derSmallInteger(2)),
    derUnsigned(options.serial ?? randomSerial()),
    algorithm,
    name,
    derSequence(derTime(notBefore), derTime(notAfter)),
    name,
    spki,
    derExplicit(3, extensions),
  );
  const signature = sign("sha256", tbs, { key: privateKey, dsaEncoding: "der" });
  const der = derSequence(tbs, algorithm, derBitString(new Uint8Array(signature)));
  return Object.freeze({ der, pem: encodePem("CERTIFICATE", der) });
}
