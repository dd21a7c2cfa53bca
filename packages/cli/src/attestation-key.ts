import { type AkKind, type LoadedObject, type TpmClient, TpmError } from "@veritee/tpm";

/**
 * Persistent handles where `veritee tpm attest` keeps its AKs, so that every
 * quote is signed by the same key and a verifier can pin it. They sit in the
 * owner's persistent range (TCG "Registry of Reserved TPM 2.0 Handles":
 * 0x81000000–0x8100FFFF), away from the EK handles 0x81010001/0x81010016.
 */
export const AK_PERSISTENT_HANDLE: Readonly<Record<AkKind, number>> = {
  "ecc-p256": 0x81008001,
  "rsa-2048": 0x81008002,
};

/**
 * The AK of `kind`: read from its persistent handle, or created under the
 * TCG default RSA EK and persisted there on first use.
 */
export async function ensureAttestationKey(
  tpm: TpmClient,
  kind: AkKind,
): Promise<{ readonly ak: LoadedObject; readonly created: boolean }> {
  const handle = AK_PERSISTENT_HANDLE[kind];
  try {
    return { ak: await tpm.readPublic(handle), created: false };
  } catch (error) {
    if (!(error instanceof TpmError) || error.code !== "TPM_RC_HANDLE") throw error;
  }
  const ek = await tpm.createEk("rsa2048");
  try {
    const created = await tpm.createAk(ek.handle, kind);
    const loaded = await tpm.load(ek.handle, created);
    try {
      await tpm.evictControl(loaded.handle, handle);
    } finally {
      await tpm.flushContext(loaded.handle);
    }
    return { ak: { handle, publicArea: created.publicArea, name: created.name }, created: true };
  } finally {
    await tpm.flushContext(ek.handle);
  }
}
