/**
 * Test-only forging of TPM quotes: software AKs (node:crypto keys dressed as
 * TPMT_PUBLIC) and signed TPMS_ATTEST with any one field changed, so that every
 * rule of `verifyQuote` has a one-field negative test. Never used by product code.
 *
 * @example
 * ```ts
 * const ak = makeTestAk("ecc-p256");
 * const good = forgeQuote(ak);
 * const stale = forgeQuote(ak, { editAttest: (a) => ({ ...a, extraData: new Uint8Array(32) }) });
 * await verifyQuote({ akPublic: good.akPublic, attest: good.attest, signature: good.signature,
 *   expectedExtraData: good.nonce, pcrValues: good.pcrValues });
 * ```
 */
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import { digestSize, type HashAlg, TPMA_OBJECT } from "@veritee/core";
import { encodeTpmsAttest, type TpmsAttest } from "../../src/tpm/attest.js";
import { objectName } from "../../src/tpm/name.js";
import type { PcrSelection, PcrValues } from "../../src/tpm/pcr-selection.js";
import { pcrDigest } from "../../src/tpm/pcr-selection.js";
import {
  type EccScheme,
  type EccTpmtPublic,
  encodeTpm2bPublic,
  encodeTpmtPublic,
  type RsaScheme,
  type RsaTpmtPublic,
  type TpmtPublic,
} from "../../src/tpm/public.js";
import { encodeTpmtSignature, type TpmtSignature } from "../../src/tpm/signature.js";

/** The kinds of software AK the forger makes. */
export type TestAkKind = "ecc-p256" | "ecc-p384" | "rsa-2048";

/** TPMA_OBJECT of the TCG AK templates: fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, restricted, sign. */
export const AK_ATTRIBUTES: number =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.userWithAuth |
  TPMA_OBJECT.restricted |
  TPMA_OBJECT.sign;

/** A software AK. */
export interface TestAk {
  readonly kind: TestAkKind;
  /** The private key (node:crypto), for signing forged quotes. */
  readonly privateKey: KeyObject;
  /** The public area as the encoder takes it. */
  readonly fields: TpmtPublic;
  /** TPM2B_PUBLIC bytes of `fields`. */
  readonly tpm2b: Uint8Array;
  /** The Name of `fields`. */
  readonly name: Uint8Array;
}

/** What {@link makeTestAk} may change from the default AK template. */
export interface TestAkOptions {
  /** The key's scheme (default ECDSA-SHA256 for ECC, RSASSA-SHA256 for RSA). */
  readonly scheme?: RsaScheme | EccScheme;
  /** TPMA_OBJECT bits (default {@link AK_ATTRIBUTES}). */
  readonly objectAttributes?: number;
  /** nameAlg (default SHA-256). */
  readonly nameAlg?: HashAlg;
  /** Any last change to the public area. */
  readonly edit?: (fields: TpmtPublic) => TpmtPublic;
}

const keyCache = new Map<TestAkKind, { privateKey: KeyObject; publicKey: KeyObject }>();

function keyPair(kind: TestAkKind): { privateKey: KeyObject; publicKey: KeyObject } {
  let pair = keyCache.get(kind);
  if (pair === undefined) {
    // Encoded inside the generation job and re-imported: exporting (JWK) from
    // a just-generated KeyObject deadlocked Node 20 once (see core's generateX25519).
    const pub = { type: "spki", format: "der" } as const;
    const priv = { type: "pkcs8", format: "der" } as const;
    const der =
      kind === "rsa-2048"
        ? generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: pub, privateKeyEncoding: priv })
        : generateKeyPairSync("ec", {
            namedCurve: kind === "ecc-p256" ? "P-256" : "P-384",
            publicKeyEncoding: pub,
            privateKeyEncoding: priv,
          });
    pair = {
      privateKey: createPrivateKey({ key: der.privateKey, format: "der", type: "pkcs8" }),
      publicKey: createPublicKey({ key: der.publicKey, format: "der", type: "spki" }),
    };
    keyCache.set(kind, pair);
  }
  return pair;
}

function fromB64url(s: string | undefined): Uint8Array {
  return new Uint8Array(Buffer.from(s ?? "", "base64url"));
}

/**
 * A software AK of `kind` (keys are generated once per kind and process, then
 * reused), with the TCG AK template's attributes unless `options` say otherwise.
 */
export function makeTestAk(kind: TestAkKind, options: TestAkOptions = {}): TestAk {
  const { privateKey, publicKey } = keyPair(kind);
  const jwk = publicKey.export({ format: "jwk" });
  const common = {
    nameAlg: options.nameAlg ?? "sha256",
    objectAttributes: options.objectAttributes ?? AK_ATTRIBUTES,
    authPolicy: new Uint8Array(0),
    symmetric: { algorithm: "null" },
  } as const;
  let fields: TpmtPublic;
  if (kind === "rsa-2048") {
    const rsa: RsaTpmtPublic = {
      ...common,
      type: "rsa",
      scheme: (options.scheme as RsaScheme | undefined) ?? { scheme: "rsassa", hash: "sha256" },
      keyBits: 2048,
      exponent: 0,
      modulus: fromB64url(jwk.n),
    };
    fields = rsa;
  } else {
    const ecc: EccTpmtPublic = {
      ...common,
      type: "ecc",
      scheme: (options.scheme as EccScheme | undefined) ?? { scheme: "ecdsa", hash: "sha256" },
      curve: kind === "ecc-p256" ? "p256" : "p384",
      kdf: { scheme: "null" },
      x: fromB64url(jwk.x),
      y: fromB64url(jwk.y),
    };
    fields = ecc;
  }
  if (options.edit) fields = options.edit(fields);
  return {
    kind,
    privateKey,
    fields,
    tpm2b: encodeTpm2bPublic(fields),
    name: objectName(fields.nameAlg, encodeTpmtPublic(fields)),
  };
}

/** Deterministic PCR values: SHA-256 PCRs 0..7 and 16, SHA-1 PCR 0 (each value H(bank || index)). */
export function defaultPcrValues(): PcrValues {
  const bank = (alg: HashAlg, pcrs: number[]) =>
    new Map(pcrs.map((i) => [i, new Uint8Array(createHash(alg).update(`${alg}:${i}`).digest())]));
  return new Map<HashAlg, ReadonlyMap<number, Uint8Array>>([
    ["sha256", bank("sha256", [0, 1, 2, 3, 4, 5, 6, 7, 16])],
    ["sha1", bank("sha1", [0])],
  ]);
}

/** The selection that covers `values` exactly: banks in map order, PCRs ascending, 3 select bytes. */
export function selectionOf(values: PcrValues): PcrSelection {
  return [...values].map(([hash, bank]) => ({
    hash,
    sizeofSelect: 3,
    pcrs: [...bank.keys()].sort((a, b) => a - b),
  }));
}

/** What {@link forgeQuote} may change. Every option changes one thing. */
export interface ForgeQuoteOptions {
  /** extraData (default 32 bytes 0x5a). */
  readonly nonce?: Uint8Array;
  /** The PCR values the digest is computed from (default {@link defaultPcrValues}). */
  readonly pcrValues?: PcrValues;
  /** The quoted selection (default {@link selectionOf} the values). */
  readonly selection?: PcrSelection;
  /** The signature's algorithm (default: the key's scheme, or ECDSA / RSASSA). */
  readonly sigAlg?: TpmtSignature["sigAlg"];
  /** The signature's hash, also the PCR digest's hash (default: the key's scheme hash, or SHA-256). */
  readonly signatureHash?: HashAlg;
  /** Change any TPMS_ATTEST field before encoding. */
  readonly editAttest?: (attest: TpmsAttest) => TpmsAttest;
  /** Change the encoded TPMS_ATTEST before signing (for malformed-but-signed messages). */
  readonly editAttestBytes?: (bytes: Uint8Array) => Uint8Array;
  /** Sign with this key instead of the AK's. */
  readonly signingKey?: KeyObject;
  /** Change the decoded signature before encoding. */
  readonly editSignature?: (sig: TpmtSignature) => TpmtSignature;
}

/** A forged, signed quote and everything needed to verify it. */
export interface ForgedQuote {
  readonly ak: TestAk;
  /** TPM2B_PUBLIC of the AK. */
  readonly akPublic: Uint8Array;
  /** The TPMS_ATTEST fields that were encoded. */
  readonly attestFields: TpmsAttest;
  /** The signed TPMS_ATTEST bytes. */
  readonly attest: Uint8Array;
  /** TPMT_SIGNATURE bytes. */
  readonly signature: Uint8Array;
  /** The extraData that was put in (the nonce a verifier expects). */
  readonly nonce: Uint8Array;
  /** The PCR values behind the digest. */
  readonly pcrValues: PcrValues;
}

/** Sign `message` as a TPM would for `sigAlg` (RSAPSS with a digest-sized salt, as TPMs do). */
export function tpmSign(
  key: KeyObject,
  sigAlg: TpmtSignature["sigAlg"],
  hash: HashAlg,
  message: Uint8Array,
): TpmtSignature {
  if (sigAlg === "ecdsa") {
    const rs = new Uint8Array(sign(hash, message, { key, dsaEncoding: "ieee-p1363" }));
    const half = rs.length / 2;
    return { sigAlg, hash, r: rs.slice(0, half), s: rs.slice(half) };
  }
  const padding = sigAlg === "rsassa" ? constants.RSA_PKCS1_PADDING : constants.RSA_PKCS1_PSS_PADDING;
  const sig = new Uint8Array(sign(hash, message, { key, padding, saltLength: digestSize(hash) }));
  return { sigAlg, hash, sig };
}

/** Forge a quote signed by `ak`, with any one thing changed through `options`. */
export function forgeQuote(ak: TestAk, options: ForgeQuoteOptions = {}): ForgedQuote {
  const keyScheme = ak.fields.scheme;
  const defaultAlg = ak.fields.type === "ecc" ? "ecdsa" : "rsassa";
  const sigAlg =
    options.sigAlg ??
    (keyScheme.scheme === "rsassa" || keyScheme.scheme === "rsapss" || keyScheme.scheme === "ecdsa"
      ? keyScheme.scheme
      : defaultAlg);
  const signatureHash = options.signatureHash ?? ("hash" in keyScheme ? keyScheme.hash : "sha256");
  const nonce = options.nonce ?? new Uint8Array(32).fill(0x5a);
  const pcrValues = options.pcrValues ?? defaultPcrValues();
  const selection = options.selection ?? selectionOf(pcrValues);
  let attestFields: TpmsAttest = {
    qualifiedSigner: objectName("sha256", ak.name),
    extraData: nonce,
    clockInfo: { clock: 123456789n, resetCount: 3, restartCount: 0, safe: true },
    firmwareVersion: 0x2019102300163636n,
    attested: { type: "quote", pcrSelect: selection, pcrDigest: pcrDigest(signatureHash, selection, pcrValues) },
  };
  if (options.editAttest) attestFields = options.editAttest(attestFields);
  let attest = encodeTpmsAttest(attestFields);
  if (options.editAttestBytes) attest = options.editAttestBytes(attest);
  let sig = tpmSign(options.signingKey ?? ak.privateKey, sigAlg, signatureHash, attest);
  if (options.editSignature) sig = options.editSignature(sig);
  return {
    ak,
    akPublic: ak.tpm2b,
    attestFields,
    attest,
    signature: encodeTpmtSignature(sig),
    nonce,
    pcrValues,
  };
}
