/**
 * Registering a sealed model's key (or each owner's share) with custodians,
 * for `veritee model seal --custodian/--owners`: the admin token is read and
 * every custodian is reached *before* the long seal starts, so a typo or an
 * unreachable custodian costs nothing.
 */
import { AdminClient, type ModelKeyFile, readAdminToken } from "@veritee/custody";

/** Custodians checked and ready to take a model's secrets. */
export interface ModelRegistration {
  /** Register secret i with owner i (in `--owners` order). */
  register(secrets: readonly ModelKeyFile[]): Promise<void>;
}

async function prepare(urls: readonly string[], tokenFile: string | undefined): Promise<ModelRegistration> {
  const token = await readAdminToken({ file: tokenFile, env: process.env });
  const clients = urls.map((url) => new AdminClient(url, token));
  // One authenticated read each: the token is right and the custodian answers.
  await Promise.all(clients.map((client) => client.listModels()));
  return {
    async register(secrets) {
      // In order, so that a failure names the first custodian that did not take its share.
      for (const [i, client] of clients.entries()) {
        const s = secrets[i]!;
        await client.addModel({
          id: s.modelId,
          plaintextSha256: s.plaintextSha256,
          secret: s.secret,
          threshold: s.threshold,
          ...(s.shareIndex !== undefined ? { shareIndex: s.shareIndex } : {}),
        });
      }
    },
  };
}

/** `prepare(urls, tokenFile)`: see {@link ModelRegistration}. */
export const registerWithCustodians = { prepare };
