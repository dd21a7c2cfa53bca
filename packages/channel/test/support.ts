/** Shared fixtures of the channel tests: a server key, its key configuration and a recipient. */
import { generateKeyPairSync } from "node:crypto";
import { HPKE_AEAD_AES_128_GCM, HPKE_AEAD_CHACHA20_POLY1305, type HpkeKeyConfig } from "@veritee/core";
import { type ChannelCode, ChannelError } from "../src/errors.js";
import { nodeRecipientKey } from "../src/node/recipient.js";
import type { RecipientKey, SealTarget } from "../src/request.js";

/** A fresh server HPKE key: its key configuration (both suites, AES-128-GCM first), target and recipient. */
export function serverKey(options: { keyId?: number; suites?: number[] } = {}): {
  keyConfig: HpkeKeyConfig;
  target: SealTarget;
  recipient: RecipientKey;
} {
  const pair = generateKeyPairSync("x25519");
  const x = pair.publicKey.export({ format: "jwk" }).x!;
  const keyConfig: HpkeKeyConfig = {
    keyId: options.keyId ?? 0,
    kemId: 0x0020,
    publicKey: new Uint8Array(Buffer.from(x, "base64url")),
    cipherSuites: (options.suites ?? [HPKE_AEAD_AES_128_GCM, HPKE_AEAD_CHACHA20_POLY1305]).map((aeadId) => ({
      kdfId: 1,
      aeadId,
    })),
  };
  const keySetDigest = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
  return {
    keyConfig,
    target: { keySet: { hpke: keyConfig }, keySetDigest },
    recipient: nodeRecipientKey({ keyConfig, keySetDigest, privateKey: pair.privateKey }),
  };
}

/** Resolves to the ChannelError code `promise` rejects with; fails on anything else (another error, or success). */
export async function channelCode(promise: Promise<unknown> | (() => unknown)): Promise<ChannelCode> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    if (error instanceof ChannelError) return error.code;
    throw new Error(`expected a ChannelError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a ChannelError, but it succeeded");
}

/** UTF-8 bytes. */
export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** UTF-8 decode. */
export function str(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}
