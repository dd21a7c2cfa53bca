/**
 * Single-shot HPKE (RFC 9180 §6.1, base mode) to an attested key set's HPKE
 * key: one message, sealed to the key configuration a verified attestation
 * document carries and opened only by the process that holds its private
 * key. Model custody delivers model keys this way (docs/CUSTODY.md "Key
 * release"): a custodian seals to the server's attested key, so nobody else
 * — not the borrower's operators, not a second server that replays the
 * answer — can open it.
 *
 * The cipher suite is the key configuration's first one (the server's
 * preference), as for sealed requests; `info` names the purpose, `aad`
 * binds the context (both chosen by the protocol that uses this).
 */
import type { HpkeKeyConfig } from "@veritee/core";
import { channelSuite, type HpkeBackend } from "./backend.js";
import { ChannelError } from "./errors.js";
import type { RecipientKey } from "./request.js";

/** A single-shot HPKE message: the encapsulated key and the ciphertext. */
export interface SingleShotMessage {
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
}

function suiteFor(backend: HpkeBackend, keyConfig: HpkeKeyConfig) {
  const first = keyConfig.cipherSuites[0];
  const suite = first === undefined ? undefined : channelSuite(backend, first.kdfId, first.aeadId);
  if (suite === undefined)
    throw new ChannelError("unsupported-suite", "the key configuration's cipher suite is not available here");
  return suite;
}

/**
 * Seal `plaintext` to `keyConfig`'s public key.
 *
 * @throws ChannelError `unsupported-suite`.
 */
export async function sealSingleShot(
  backend: HpkeBackend,
  keyConfig: HpkeKeyConfig,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<SingleShotMessage> {
  const suite = suiteFor(backend, keyConfig);
  const recipientPublicKey = await suite.hpke.kem.importKey("raw", keyConfig.publicKey.slice().buffer, true);
  const sender = await suite.hpke.createSenderContext({ recipientPublicKey, info: info.slice().buffer });
  const ciphertext = new Uint8Array(await sender.seal(plaintext.slice().buffer, aad.slice().buffer));
  return { enc: new Uint8Array(sender.enc), ciphertext };
}

/**
 * Open a single-shot message with the recipient's private key.
 *
 * @throws ChannelError `tampered` (wrong key, info, aad, or a changed byte), `unsupported-suite`.
 */
export async function openSingleShot(
  recipient: RecipientKey,
  message: SingleShotMessage,
  info: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  const suite = suiteFor(recipient.backend, recipient.keyConfig);
  try {
    const ctx = await suite.hpke.createRecipientContext({
      recipientKey: recipient.privateKey,
      enc: message.enc.slice().buffer,
      info: info.slice().buffer,
    });
    return new Uint8Array(await ctx.open(message.ciphertext.slice().buffer, aad.slice().buffer));
  } catch (cause) {
    throw new ChannelError("tampered", "the sealed message failed authentication", { cause });
  }
}
