/**
 * The owner's key file (docs/CUSTODY.md "Key files"): what `veritee model
 * seal --key-out` writes when no custodian takes the key at once, and what
 * `veritee custodian model add` reads. It holds a model key, or one owner's
 * Shamir share of it, so it is created owner-only (mode 0600) and exclusively
 * (never over an existing file), and refused on read when its mode lets the
 * group or others read it — as OpenSSH refuses a private key.
 *
 * Errors name the file and the field, never the secret.
 */
import { constants, type FileHandle, open } from "node:fs/promises";
import {
  base64Decode,
  base64Encode,
  expectHexDigest,
  expectInteger,
  expectMembers,
  expectObject,
  expectText,
  MalformedError,
  parseJsonBytes,
} from "@veritee/core";
import { SealedModelError } from "./errors.js";
import { MODEL_ID } from "./sealed/header.js";
import { MODEL_KEY_BYTES } from "./sealed/stream.js";
import { SHARE_BYTES } from "./shares.js";

/** The key file's `format` member: its version. */
export const KEY_FILE_FORMAT = "veritee-model-key-v1";
/** Largest key file read (it is a few hundred bytes). */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** A model key, or an owner's share of it, with what identifies the model it opens. */
export interface ModelKeyFile {
  readonly modelId: string;
  /** The 32-byte model key (threshold 1) or a 33-byte Shamir share (threshold ≥ 2). */
  readonly secret: Uint8Array;
  /** Lower-case hex SHA-256 of the plaintext model. */
  readonly plaintextSha256: string;
  /** How many shares open the model: 1 for a whole key. */
  readonly threshold: number;
  /** Which share this is (1-based, the owner's position in the sealed header), for threshold ≥ 2. */
  readonly shareIndex?: number;
}

function check(file: ModelKeyFile): void {
  if (!MODEL_ID.test(file.modelId)) throw new SealedModelError("bad-key", "the key file's modelId is not a model id");
  expectHexDigest(file.plaintextSha256, "plaintextSha256", 32);
  expectInteger(file.threshold, "threshold", 1, 16);
  const whole = file.threshold === 1;
  if (file.secret.length !== (whole ? MODEL_KEY_BYTES : SHARE_BYTES)) {
    throw new SealedModelError("bad-key", whole ? "a model key is 32 bytes" : `a share is ${SHARE_BYTES} bytes`);
  }
  if (whole !== (file.shareIndex === undefined)) {
    throw new SealedModelError("bad-key", "a share has a shareIndex and a whole key has none");
  }
  if (file.shareIndex !== undefined) expectInteger(file.shareIndex, "shareIndex", 1, 16);
}

/** The key file's JSON text. */
export function encodeKeyFile(file: ModelKeyFile): string {
  check(file);
  const json: Record<string, unknown> = {
    format: KEY_FILE_FORMAT,
    modelId: file.modelId,
    secret: base64Encode(file.secret),
    plaintextSha256: file.plaintextSha256,
    threshold: file.threshold,
  };
  if (file.shareIndex !== undefined) json.shareIndex = file.shareIndex;
  return `${JSON.stringify(json, null, 2)}\n`;
}

/**
 * Decode a key file's bytes (strict: exactly the format's members).
 *
 * @throws SealedModelError `bad-key` naming the field.
 */
export function decodeKeyFile(bytes: Uint8Array): ModelKeyFile {
  try {
    const value = parseJsonBytes(bytes, "key file", { maxBytes: MAX_KEY_FILE_BYTES, canonical: false });
    const share = Object.hasOwn(expectObject(value, "key file"), "shareIndex");
    const names = ["format", "modelId", "secret", "plaintextSha256", "threshold"];
    const obj = expectMembers(value, "key file", share ? [...names, "shareIndex"] : names);
    if (obj.format !== KEY_FILE_FORMAT) throw new SealedModelError("bad-key", `not a ${KEY_FILE_FORMAT} key file`);
    const file: ModelKeyFile = {
      modelId: expectText(obj.modelId, "modelId", 128),
      secret: base64Decode(obj.secret, "secret", SHARE_BYTES),
      plaintextSha256: expectHexDigest(obj.plaintextSha256, "plaintextSha256", 32),
      threshold: expectInteger(obj.threshold, "threshold", 1, 16),
      ...(share ? { shareIndex: expectInteger(obj.shareIndex, "shareIndex", 1, 16) } : {}),
    };
    check(file);
    return file;
  } catch (error) {
    if (error instanceof SealedModelError) throw error;
    // MalformedError messages name the member; they never quote the secret's value.
    const detail = error instanceof MalformedError ? error.message : "not a key file";
    throw new SealedModelError("bad-key", `the key file does not decode: ${detail}`, { cause: error });
  }
}

/**
 * Write a key file: created exclusively with mode 0600 (the umask cannot
 * widen it), flushed before it is reported written.
 *
 * @throws SealedModelError `output-exists` when the path exists.
 */
export async function writeKeyFile(path: string, file: ModelKeyFile): Promise<void> {
  if (!(await writeOwnerOnlyFile(path, encodeKeyFile(file)))) {
    throw new SealedModelError("output-exists", `${path} exists; a key file is never replaced`);
  }
}

/**
 * Write `text` to a new file at `path`, created exclusively with mode 0600
 * (the umask cannot widen it) and flushed before it is reported written —
 * how every secret of an owner lands on a disk.
 *
 * @returns false when the path exists (nothing is written).
 */
export async function writeOwnerOnlyFile(path: string, text: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Read a key file, refusing one that the group or others may read or write.
 *
 * @throws SealedModelError `bad-key` (too open, not a key file).
 */
export async function readKeyFile(path: string): Promise<ModelKeyFile> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new SealedModelError("bad-key", `${path} is not a regular file`);
    if ((stat.mode & 0o077) !== 0) {
      throw new SealedModelError(
        "bad-key",
        `${path} is readable or writable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`,
      );
    }
    if (stat.size > MAX_KEY_FILE_BYTES) throw new SealedModelError("bad-key", `${path} is too large for a key file`);
    return decodeKeyFile(await handle.readFile());
  } finally {
    await handle.close();
  }
}
