/**
 * Decoding of the runtime claims of an Azure confidential VM: the JSON the
 * HCL puts in the variable data of its report and hashes into the hardware
 * report's report data (Microsoft "Guest attestation for confidential VMs",
 * runtime claims). Decoding only; the binding is checked in `verify.ts`.
 *
 * ```json
 * {
 *   "keys": [
 *     { "kid": "HCLAkPub", "key_ops": ["sign"], "kty": "RSA", "e": "AQAB", "n": "…" },
 *     { "kid": "HCLEkPub", "key_ops": ["encrypt"], "kty": "RSA", "e": "AQAB", "n": "…" }
 *   ],
 *   "vm-configuration": {
 *     "console-enabled": true, "secure-boot": true, "tpm-enabled": true, "vmUniqueId": "…", …
 *   },
 *   "user-data": "<hex>"
 * }
 * ```
 *
 * Strictness: the bytes must be UTF-8 JSON in compact form, exactly as
 * `JSON.stringify` writes the parsed value back (the HCL writes it so). That
 * refuses duplicate member names, which `JSON.parse` would resolve silently
 * (RFC 8259 §4), so no other parser can read a different AK or setting out
 * of the same hashed bytes. Members this module does not interpret (Azure
 * adds some over time: `current-time`, `tpm-persisted`,
 * `root-cert-thumbprint`) are allowed; the ones it reads are type-checked.
 */
import {
  base64urlDecode,
  checkJsonValue,
  expectArray,
  expectObject,
  expectText,
  fromHex,
  MalformedError,
  parseJsonBytes,
} from "@veritee/core";
import { MAX_RUNTIME_CLAIMS_SIZE } from "./decode.js";

/** The key id of the vTPM attestation key in the runtime claims. */
export const HCL_AK_KID = "HCLAkPub";
/** The key id of the vTPM endorsement key in the runtime claims. */
export const HCL_EK_KID = "HCLEkPub";
/** Most keys accepted in `keys`. */
const MAX_KEYS = 16;
/** Largest user-data accepted, in bytes (Azure: the 64 bytes the guest asked for). */
export const MAX_USER_DATA_SIZE = 64;

/** A public key from the runtime claims, its JWK members decoded. */
export type RuntimeClaimsKey =
  | {
      readonly kid: string;
      readonly kty: "RSA";
      /** The modulus, big-endian, without leading zero bytes. */
      readonly n: Uint8Array;
      /** The public exponent, big-endian, without leading zero bytes. */
      readonly e: Uint8Array;
      readonly keyOps: readonly string[] | undefined;
    }
  | {
      readonly kid: string;
      readonly kty: "EC";
      readonly crv: "P-256" | "P-384" | "P-521";
      readonly x: Uint8Array;
      readonly y: Uint8Array;
      readonly keyOps: readonly string[] | undefined;
    };

/** The `vm-configuration` member: how Azure configured the VM. */
export interface VmConfiguration {
  readonly secureBoot: boolean;
  readonly tpmEnabled: boolean;
  readonly consoleEnabled: boolean;
  /** The VM's unique id, when present. */
  readonly vmUniqueId: string | undefined;
  /** Whether the vTPM state persists across reboots, when present. */
  readonly tpmPersisted: boolean | undefined;
}

/** Decoded, unverified runtime claims. */
export interface RuntimeClaims {
  /** The vTPM's attestation key (kid {@link HCL_AK_KID}). */
  readonly akPub: RuntimeClaimsKey;
  /** The vTPM's endorsement key (kid {@link HCL_EK_KID}), when present. */
  readonly ekPub: RuntimeClaimsKey | undefined;
  /** Every key, in order. */
  readonly keys: readonly RuntimeClaimsKey[];
  readonly vmConfiguration: VmConfiguration;
  /** The guest's user data (`user-data`, hex in the JSON), when present. */
  readonly userData: Uint8Array | undefined;
  /** The exact bytes decoded (what the hardware report's report data hashes). */
  readonly raw: Uint8Array;
}

const WHAT = "runtime claims";
const CURVES = { "P-256": 32, "P-384": 48, "P-521": 66 } as const;

function bad(what: string, detail: string): never {
  throw new MalformedError("bad-value", what, detail);
}

function bool(value: unknown, what: string): boolean {
  if (typeof value !== "boolean") bad(what, "expected true or false");
  return value;
}

function b64(value: unknown, what: string, max: number): Uint8Array {
  if (typeof value !== "string" || value.length === 0 || value.length > Math.ceil((max * 4) / 3)) {
    bad(what, "expected a non-empty base64url string of bounded length");
  }
  return base64urlDecode(value, what);
}

/** A JWK integer (RFC 7518 §2 "Base64urlUInt"): minimal big-endian, no leading zero byte. */
function uint(value: unknown, what: string, max: number): Uint8Array {
  const bytes = b64(value, what, max);
  if (bytes.length > 1 && bytes[0] === 0) bad(what, "not a minimal Base64urlUInt");
  if (bytes.length === 1 && bytes[0] === 0) bad(what, "zero");
  return bytes;
}

function decodeKey(value: unknown, what: string): RuntimeClaimsKey {
  const k = expectObject(value, what);
  const kid = expectText(k.kid, `${what}.kid`, 64);
  let keyOps: readonly string[] | undefined;
  if (k.key_ops !== undefined) {
    keyOps = Object.freeze(
      expectArray(k.key_ops, `${what}.key_ops`, 8).map((op, i) => expectText(op, `${what}.key_ops[${i}]`, 32)),
    );
  }
  if (k.kty === "RSA") {
    // RSA moduli up to 8192 bits; exponents up to 32 bits (TPM 2.0 Part 2 §12.2.3.5).
    const n = uint(k.n, `${what}.n`, 1024);
    const e = uint(k.e, `${what}.e`, 4);
    return Object.freeze({ kid, kty: "RSA", n, e, keyOps });
  }
  if (k.kty === "EC") {
    const crv = k.crv;
    if (crv !== "P-256" && crv !== "P-384" && crv !== "P-521") bad(`${what}.crv`, "not P-256, P-384 or P-521");
    const size = CURVES[crv];
    const x = b64(k.x, `${what}.x`, size);
    const y = b64(k.y, `${what}.y`, size);
    // RFC 7518 §6.2.1.2: coordinates are exactly the curve's size.
    if (x.length !== size || y.length !== size) {
      throw new MalformedError("bad-length", `${what}.x`, `coordinates must be ${size} bytes`);
    }
    return Object.freeze({ kid, kty: "EC", crv, x, y, keyOps });
  }
  return bad(`${what}.kty`, 'not "RSA" or "EC"');
}

/**
 * Decode the runtime claims bytes of an HCL report (see the module comment
 * for the shape and the strictness rules).
 *
 * @throws MalformedError naming the field: `too-large`, `bad-value` (not
 *   UTF-8, not JSON, not compact, duplicate members, wrong types, duplicate
 *   key ids, no {@link HCL_AK_KID} key), `bad-length`, `bad-hex`, `too-deep`.
 * @example
 * const claims = decodeRuntimeClaims(decodeHclReport(nv).runtimeClaims);
 * claims.vmConfiguration.secureBoot; // true
 */
export function decodeRuntimeClaims(bytes: Uint8Array): RuntimeClaims {
  const raw = Uint8Array.prototype.slice.call(bytes);
  const value = parseJsonBytes(raw, WHAT, { maxBytes: MAX_RUNTIME_CLAIMS_SIZE, canonical: false });
  checkJsonValue(value, WHAT);
  if (JSON.stringify(value) !== new TextDecoder().decode(raw)) {
    bad(WHAT, "not in compact form (duplicate or re-formatted members)");
  }
  const top = expectObject(value, WHAT);
  const keys = Object.freeze(
    expectArray(top.keys, `${WHAT}.keys`, MAX_KEYS).map((k, i) => decodeKey(k, `${WHAT}.keys[${i}]`)),
  );
  const kids = new Set<string>();
  for (const k of keys) {
    if (kids.has(k.kid)) bad(`${WHAT}.keys`, "a key id appears twice");
    kids.add(k.kid);
  }
  const akPub = keys.find((k) => k.kid === HCL_AK_KID);
  if (akPub === undefined) bad(`${WHAT}.keys`, `no ${HCL_AK_KID} key`);
  const ekPub = keys.find((k) => k.kid === HCL_EK_KID);

  const cfgWhat = `${WHAT}.vm-configuration`;
  const cfg = expectObject(top["vm-configuration"], cfgWhat);
  const vmConfiguration: VmConfiguration = Object.freeze({
    secureBoot: bool(cfg["secure-boot"], `${cfgWhat}.secure-boot`),
    tpmEnabled: bool(cfg["tpm-enabled"], `${cfgWhat}.tpm-enabled`),
    consoleEnabled: bool(cfg["console-enabled"], `${cfgWhat}.console-enabled`),
    vmUniqueId: cfg.vmUniqueId === undefined ? undefined : expectText(cfg.vmUniqueId, `${cfgWhat}.vmUniqueId`, 64),
    tpmPersisted:
      cfg["tpm-persisted"] === undefined ? undefined : bool(cfg["tpm-persisted"], `${cfgWhat}.tpm-persisted`),
  });

  let userData: Uint8Array | undefined;
  const ud = top["user-data"];
  if (ud !== undefined) {
    if (typeof ud !== "string" || ud.length > 2 * MAX_USER_DATA_SIZE || ud.startsWith("0x") || ud.startsWith("0X")) {
      throw new MalformedError("bad-hex", `${WHAT}.user-data`, `expected at most ${MAX_USER_DATA_SIZE} bytes of hex`);
    }
    userData = fromHex(ud, `${WHAT}.user-data`);
  }
  return Object.freeze({ akPub, ekPub, keys, vmConfiguration, userData, raw });
}
