/**
 * An owner's Ed25519 key for multi-party control (docs/CUSTODY.md
 * "Multi-party control"): a PKCS#8 PEM file, created owner-only (0600) and
 * exclusively, refused on read when the group or others may read or write
 * it; and the approvals it signs.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { toHex } from "@veritee/core";
import { CustodyError } from "./errors.js";
import { writeOwnerOnlyFile } from "./key-file.js";
import {
  type Approval,
  type ApprovalAction,
  type ApprovalParams,
  approvalSigningBytes,
  MAX_APPROVAL_SECONDS,
} from "./protocol/index.js";

const MAX_OWNER_KEY_FILE_BYTES = 4096;

/**
 * Make an owner key at `path` (mode 0600, never over an existing file).
 *
 * @returns the public key (SPKI DER) to register with `veritee custodian owner set`.
 * @throws CustodyError `conflict` when the path exists.
 */
export async function writeOwnerKey(path: string): Promise<Uint8Array> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  if (!(await writeOwnerOnlyFile(path, privateKey.export({ format: "pem", type: "pkcs8" }) as string))) {
    throw new CustodyError("conflict", `${path} exists; an owner key is never replaced`);
  }
  return new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
}

/**
 * Read an owner key.
 *
 * @throws CustodyError `invalid-request` (too open, not an Ed25519 private key).
 */
export async function readOwnerKey(path: string): Promise<KeyObject> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  let text: string;
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > MAX_OWNER_KEY_FILE_BYTES) {
      throw new CustodyError("invalid-request", `${path} is not an owner key file`);
    }
    if ((stat.mode & 0o077) !== 0) {
      throw new CustodyError(
        "invalid-request",
        `${path} is readable or writable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`,
      );
    }
    text = await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: "pem" });
  } catch {
    // OpenSSL's message may quote the key: only a fixed text goes out.
    throw new CustodyError("invalid-request", `${path} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new CustodyError("invalid-request", `${path} is not an Ed25519 key`);
  return key;
}

/** The public key (SPKI DER) of an owner key. */
export function ownerPublicKey(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ format: "der", type: "spki" }));
}

/** Sign an approval of `action` on `deployment` with `params`, valid for `validSeconds` (default 600). */
export function signApproval(
  key: KeyObject,
  owner: string,
  action: ApprovalAction,
  deployment: string,
  params: ApprovalParams,
  options: { readonly validSeconds?: number; readonly now?: number } = {},
): Approval {
  const valid = options.validSeconds ?? 600;
  if (!Number.isInteger(valid) || valid < 1 || valid > MAX_APPROVAL_SECONDS) {
    throw new CustodyError("invalid-request", `an approval is valid for 1..${MAX_APPROVAL_SECONDS} seconds`);
  }
  const payload = {
    action,
    deployment,
    params,
    notAfter: new Date((options.now ?? Date.now()) + valid * 1000).toISOString(),
    nonce: toHex(randomBytes(16)),
  };
  return { owner, payload, signature: new Uint8Array(sign(null, approvalSigningBytes(payload), key)) };
}
