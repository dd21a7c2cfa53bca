/**
 * A sealed model in the attested server (docs/CUSTODY.md "Key release"):
 *
 *  1. before the launch is measured, the sealed file is pinned and read: its
 *     header gives the model id and the plaintext's SHA-256, which the launch
 *     records as the model's measurement, and the whole file's SHA-256, which
 *     the configuration records with the deployment and the custodians — so
 *     every attestation document names the deployment and the sealed file;
 *  2. once the attester runs, the release client gets the key from the
 *     custodians with this server's attestation ({@link releaseAttesterFor});
 *  3. the file is unsealed from the pinned descriptor into an unlinked RAM
 *     file ({@link unsealToMemory}); its plaintext SHA-256 is verified
 *     against the header's — the measured value — before the engine opens it.
 *
 * The key is zeroed as soon as the file is unsealed; the plaintext is never
 * on a disk.
 */
import { openSingleShot } from "@veritee/channel";
import { type ReleaseAttester, readSealedHeader, type SealedHeader, unsealModel } from "@veritee/custody";
import { activationResponseToJson, decodeActivationRequest, encodeAttestationDocument } from "@veritee/evidence";
import type { Attester } from "../attestation/attester.js";
import { serverRecipientKey } from "../channel/recipient.js";
import { LaunchError } from "../launch/errors.js";
import { measureOpenFile } from "../launch/hash-file.js";
import type { ServerKeys } from "../launch/keys.js";
import type { MeasureProgressCallback } from "../launch/measure.js";
import { type PinnedFile, pinFile } from "../launch/pinned-file.js";
import { identityOf, sameContentIdentity } from "../launch/proc-maps.js";
import { createMemoryFile, type MemoryFile } from "./memory-file.js";

/** A sealed model file opened and measured before the launch. */
export interface OpenedSealedModel {
  readonly pinned: PinnedFile;
  readonly header: SealedHeader;
  /** SHA-256 of the whole sealed file, lower-case hex. */
  readonly sealedSha256: string;
}

/**
 * Pin the sealed file, decode its header and hash it whole.
 *
 * @throws SealedModelError for a file that is not a sealed model; LaunchError `measurement-failed`.
 */
export async function openSealedModel(file: string, onProgress?: MeasureProgressCallback): Promise<OpenedSealedModel> {
  const pinned = await pinFile(file, "the sealed model");
  try {
    const { header } = await readSealedHeader(pinned.handle);
    const measured = await measureOpenFile(pinned.handle, "the sealed model", onProgress);
    return { pinned, header, sealedSha256: measured.digest };
  } catch (error) {
    await pinned.close();
    throw error;
  }
}

/**
 * The server's side of a release: its attestation documents, its TPM's
 * credential activation, and its attested HPKE key — read from the keys
 * each time, so dropping the keys drops it too.
 */
export function releaseAttesterFor(attester: Attester, keys: ServerKeys): ReleaseAttester {
  return {
    attest: async (nonce) => encodeAttestationDocument(await attester.attest(nonce)),
    activate: async (request) =>
      activationResponseToJson(await attester.activateCredential(decodeActivationRequest(request))),
    open: (enc, ciphertext, info, aad) => openSingleShot(serverRecipientKey(keys), { enc, ciphertext }, info, aad),
  };
}

/**
 * Unseal the pinned file with `key` into a RAM file (`dir`, default
 * /dev/shm). The key is zeroed whatever happens; on failure the RAM file is
 * closed (and so freed) before the error is thrown.
 *
 * @throws SealedModelError (`wrong-key`, `chunk-auth-failed`, `digest-mismatch`, …),
 *   LaunchError `bad-config` (not a RAM file system), `file-replaced`.
 */
export async function unsealToMemory(
  sealed: OpenedSealedModel,
  key: Uint8Array,
  options: { readonly dir?: string; readonly onProgress?: MeasureProgressCallback } = {},
): Promise<MemoryFile> {
  let memory: MemoryFile | undefined;
  try {
    memory = await createMemoryFile(options.dir);
    const target = memory.handle;
    let position = 0;
    const onProgress = options.onProgress;
    await unsealModel({
      input: sealed.pinned.handle,
      key,
      write: async (chunk) => {
        for (let at = 0; at < chunk.length; ) {
          const { bytesWritten } = await target.write(chunk, at, chunk.length - at, position);
          at += bytesWritten;
          position += bytesWritten;
        }
      },
      ...(onProgress ? { onProgress: (done, total) => onProgress({ what: "unsealing the model", done, total }) } : {}),
    });
    // The file unsealed is the one measured (its size and modification time held throughout).
    if (!sameContentIdentity(sealed.pinned.identity, await identityOf(sealed.pinned.handle))) {
      throw new LaunchError("file-replaced", "the sealed model was written to while it was unsealed");
    }
    return memory;
  } catch (error) {
    await memory?.close();
    throw error;
  } finally {
    key.fill(0);
  }
}
