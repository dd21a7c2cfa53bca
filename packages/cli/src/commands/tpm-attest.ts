import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { concatBytes, toHex } from "@veritee/core";
import type { AkKind, PcrValues, TpmClient } from "@veritee/tpm";
import type { Command } from "commander";
import { ensureAttestationKey } from "../attestation-key.js";
import { CliError } from "../cli-error.js";
import { out, parseHexOption } from "../io.js";
import { formatPcrSpec, type PcrSpec, parsePcrSpec } from "../pcr-spec.js";
import { connectTpm, DEFAULT_SIM_DIR, resolveTpm } from "../tpm-connect.js";

interface Options {
  nonce: string;
  out: string;
  tpm?: string;
  stateDir: string;
  ak: string;
  pcrs: PcrSpec;
}

/** Attempts at reading PCR values that match the quote when something extends PCRs concurrently. */
const CONSISTENT_READ_ATTEMPTS = 5;

/** `veritee tpm attest`: quote PCRs over a verifier's nonce and write the evidence files. */
export function registerTpmAttest(tpm: Command): void {
  tpm
    .command("attest")
    .description(
      "quote PCRs over the verifier's nonce with a persistent attestation key and write ak.pub, quote.msg, quote.sig, pcrs.bin (the files tpm2-tools writes, accepted by `veritee tpm verify-quote` and `tpm2_checkquote`), pcr-list.txt and the EK certificate",
    )
    .requiredOption("--nonce <hex>", "the verifier's fresh nonce (qualifying data, at most 64 bytes)")
    .requiredOption("--out <dir>", "directory for the evidence files (created if missing)")
    .option("--tpm <address>", "swtpm:host=H,port=P, unix:PATH or device:/dev/tpmrm0 (default: the development TPM)")
    .option("--state-dir <dir>", "the development TPM's state directory", DEFAULT_SIM_DIR)
    .option("--ak <kind>", "attestation key: ecc-p256 or rsa-2048", "ecc-p256")
    .option(
      "--pcrs <selection>",
      "PCRs to quote, tpm2-tools syntax, e.g. sha256:0-23+sha1:0,7 (default: sha256:0-23)",
      parsePcrSpec,
      parsePcrSpec("sha256:0-23"),
    )
    .action(async (opts: Options) => {
      const nonce = parseHexOption(opts.nonce, "--nonce");
      if (nonce.length > 64) throw new CliError("bad-argument", "--nonce is at most 64 bytes (TPM2B_DATA)");
      if (opts.ak !== "ecc-p256" && opts.ak !== "rsa-2048") {
        throw new CliError("bad-argument", "--ak must be ecc-p256 or rsa-2048");
      }
      const kind: AkKind = opts.ak;
      const selection = Object.fromEntries(opts.pcrs.map((s) => [s.bank, s.pcrs]));

      const tpm = await connectTpm(await resolveTpm(opts));
      try {
        const { ak, created } = await ensureAttestationKey(tpm, kind);
        const { quote, values } = await quoteConsistently(tpm, ak.handle, nonce, selection);
        const ekCertificate = await tpm.readEkCertificate("rsa2048").catch(() => undefined);

        await mkdir(opts.out, { recursive: true });
        const file = (name: string): string => path.join(opts.out, name);
        const pcrBytes = concatBytes(
          ...opts.pcrs.flatMap(({ bank, pcrs }) => pcrs.map((i) => values.get(bank)!.get(i)!)),
        );
        await Promise.all([
          writeFile(file("ak.pub"), ak.publicArea),
          writeFile(file("quote.msg"), quote.attest),
          writeFile(file("quote.sig"), quote.signature),
          writeFile(file("pcrs.bin"), pcrBytes),
          writeFile(file("pcr-list.txt"), `${formatPcrSpec(opts.pcrs)}\n`),
          ...(ekCertificate ? [writeFile(file("ek.crt"), ekCertificate)] : []),
        ]);
        out(
          `${created ? "created and persisted" : "using"} AK ${kind} at 0x${ak.handle.toString(16)}, name ${toHex(ak.name)}`,
        );
        out(`quoted ${formatPcrSpec(opts.pcrs)} over nonce ${toHex(nonce)}`);
        out(`wrote ak.pub quote.msg quote.sig pcrs.bin pcr-list.txt${ekCertificate ? " ek.crt" : ""} to ${opts.out}`);
      } finally {
        await tpm.close();
      }
    });
}

/**
 * Quote, then read the PCR values the verifier needs. PCRs may be extended
 * between the two calls; reading them before and after the quote and retrying
 * until both reads agree gives values that match the signed digest.
 */
async function quoteConsistently(
  tpm: TpmClient,
  akHandle: number,
  nonce: Uint8Array,
  selection: Readonly<Record<string, readonly number[]>>,
): Promise<{ quote: { attest: Uint8Array; signature: Uint8Array }; values: PcrValues }> {
  for (let attempt = 0; attempt < CONSISTENT_READ_ATTEMPTS; attempt++) {
    const before = await tpm.pcrRead(selection);
    const quote = await tpm.quote(akHandle, nonce, selection);
    const after = await tpm.pcrRead(selection);
    if (samePcrs(before, after)) return { quote, values: after };
  }
  throw new CliError("not-running", "PCRs kept changing while quoting; try again");
}

function samePcrs(a: PcrValues, b: PcrValues): boolean {
  for (const [bank, pcrs] of a) {
    for (const [i, v] of pcrs) {
      const w = b.get(bank)?.get(i);
      if (w === undefined || toHex(w) !== toHex(v)) return false;
    }
  }
  return true;
}
