/**
 * Test helpers: a provisioned swtpm per test file, and a deliberately minimal
 * reading of TPMT_PUBLIC / TPMT_SIGNATURE so tests can check signatures with
 * node:crypto without depending on the `evidence` package.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ByteReader, TPM_ALG, TPM_ECC } from "@veritee/core";
import { provisionSwtpm, type SwtpmInstance, startSwtpm } from "../src/index.js";

/** A fresh temporary directory, removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `veritee-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Provision a swtpm state in a temp dir and start it on free ports. */
export async function provisionedSwtpm(prefix: string): Promise<{
  stateDir: string;
  sim: SwtpmInstance;
  cleanup: () => Promise<void>;
}> {
  const { dir, remove } = await tempDir(prefix);
  const stateDir = path.join(dir, "state");
  await provisionSwtpm({ stateDir });
  const sim = await startSwtpm({ stateDir });
  return {
    stateDir,
    sim,
    cleanup: async () => {
      await sim.stop();
      await remove();
    },
  };
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** The public key in TPM2B_PUBLIC bytes, for RSA and ECC P-256/P-384 keys. */
export function publicKeyOf(tpm2bPublic: Uint8Array): KeyObject {
  const outer = new ByteReader(tpm2bPublic, "TPM2B_PUBLIC");
  const r = new ByteReader(outer.tpm2b("publicArea"), "TPMT_PUBLIC");
  outer.end();
  const type = r.u16("type");
  r.u16("nameAlg");
  r.u32("objectAttributes");
  r.tpm2b("authPolicy");
  const symmetric = r.u16("symmetric.algorithm");
  if (symmetric !== TPM_ALG.NULL) {
    r.u16("symmetric.keyBits");
    r.u16("symmetric.mode");
  }
  const scheme = r.u16("scheme");
  if (scheme !== TPM_ALG.NULL) r.u16("scheme.hashAlg");
  if (type === TPM_ALG.RSA) {
    r.u16("keyBits");
    const exponent = r.u32("exponent") || 65537;
    const n = r.tpm2b("unique");
    r.end();
    const e = new Uint8Array(4);
    new DataView(e.buffer).setUint32(0, exponent, false);
    let start = 0;
    while (start < 3 && e[start] === 0) start++;
    return createPublicKey({ key: { kty: "RSA", n: b64url(n), e: b64url(e.subarray(start)) }, format: "jwk" });
  }
  if (type === TPM_ALG.ECC) {
    const curve = r.u16("curveID");
    const kdf = r.u16("kdf");
    if (kdf !== TPM_ALG.NULL) r.u16("kdf.hashAlg");
    const x = r.tpm2b("x");
    const y = r.tpm2b("y");
    r.end();
    const crv = curve === TPM_ECC.NIST_P256 ? "P-256" : curve === TPM_ECC.NIST_P384 ? "P-384" : undefined;
    if (crv === undefined) throw new Error("unsupported curve");
    return createPublicKey({ key: { kty: "EC", crv, x: b64url(x), y: b64url(y) }, format: "jwk" });
  }
  throw new Error("unsupported key type");
}

/** A TPMT_SIGNATURE as node:crypto wants it: the scheme and the signature bytes (P1363 for ECDSA). */
export function signatureOf(
  tpmtSignature: Uint8Array,
  coordinateSize = 32,
): { kind: "ecdsa" | "rsassa" | "rsapss"; signature: Uint8Array } {
  const r = new ByteReader(tpmtSignature, "TPMT_SIGNATURE");
  const sigAlg = r.u16("sigAlg");
  if (r.u16("hash") !== TPM_ALG.SHA256) throw new Error("expected SHA-256");
  if (sigAlg === TPM_ALG.ECDSA) {
    const pad = (v: Uint8Array): Uint8Array => {
      const out = new Uint8Array(coordinateSize);
      out.set(v, coordinateSize - v.length);
      return out;
    };
    const rr = pad(r.tpm2b("r"));
    const s = pad(r.tpm2b("s"));
    r.end();
    return { kind: "ecdsa", signature: Buffer.concat([rr, s]) };
  }
  const sig = r.tpm2b("sig");
  r.end();
  if (sigAlg === TPM_ALG.RSASSA) return { kind: "rsassa", signature: sig };
  if (sigAlg === TPM_ALG.RSAPSS) return { kind: "rsapss", signature: sig };
  throw new Error("unexpected sigAlg");
}
