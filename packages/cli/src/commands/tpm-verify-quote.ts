import { toHex } from "@veritee/core";
import { decodePcrValuesFile, decodeTpmsAttest, type PcrValues, verifyQuote } from "@veritee/evidence";
import type { Command } from "commander";
import { out, parseHexOption, readInputFile, toJson } from "../io.js";

interface Options {
  akPublic: string;
  attest: string;
  signature: string;
  nonce: string;
  pcrValues?: string;
  json?: boolean;
}

/** `veritee tpm verify-quote`: verify a TPM quote in the file formats tpm2-tools writes. */
export function registerVerifyQuote(tpm: Command): void {
  tpm
    .command("verify-quote")
    .description(
      "verify a TPM 2.0 quote: AK attributes, signature, nonce (extraData) and, with --pcr-values, the PCR digest. Prints the verified fields and exits 0 only when every check passes",
    )
    .requiredOption("--ak-public <file>", "the AK public area, TPM2B_PUBLIC (tpm2_createak -u)")
    .requiredOption("--attest <file>", "the quoted TPMS_ATTEST (tpm2_quote -m)")
    .requiredOption("--signature <file>", "the TPMT_SIGNATURE (tpm2_quote -s)")
    .requiredOption("--nonce <hex>", "the qualifying data the verifier chose")
    .option("--pcr-values <file>", "the PCR values, concatenated in selection order (tpm2_quote -o FILE -F values)")
    .option("--json", "print the verified fields as JSON")
    .action(async (opts: Options) => {
      const nonce = parseHexOption(opts.nonce, "--nonce");
      const [akPublic, attest, signature] = await Promise.all([
        readInputFile(opts.akPublic, "--ak-public"),
        readInputFile(opts.attest, "--attest"),
        readInputFile(opts.signature, "--signature"),
      ]);
      let pcrValues: PcrValues | undefined;
      if (opts.pcrValues !== undefined) {
        // The values file has no structure of its own: its layout is the
        // selection inside the (still unverified) quote; verifyQuote then
        // checks the values against the signed digest.
        const selection = decodeTpmsAttest(attest).attested;
        if (!("pcrSelect" in selection)) {
          // Not a quote: let verifyQuote report it with its own code.
          pcrValues = undefined;
        } else {
          pcrValues = decodePcrValuesFile(await readInputFile(opts.pcrValues, "--pcr-values"), selection.pcrSelect);
        }
      }
      const verified = await verifyQuote({
        akPublic,
        attest,
        signature,
        expectedExtraData: nonce,
        ...(pcrValues ? { pcrValues, requirePcrValues: true } : {}),
      });
      const fields = {
        verified: true,
        type: "quote",
        akName: toHex(verified.akName),
        akType: verified.akPublic.type,
        signatureHash: verified.signatureHash,
        extraData: toHex(verified.extraData),
        clock: verified.clockInfo.clock,
        resetCount: verified.clockInfo.resetCount,
        restartCount: verified.clockInfo.restartCount,
        safe: verified.clockInfo.safe,
        firmwareVersion: `0x${verified.firmwareVersion.toString(16)}`,
        qualifiedSigner: toHex(verified.qualifiedSigner),
        pcrSelection: verified.pcrSelection.map((s) => ({ bank: s.hash, pcrs: [...s.pcrs] })),
        pcrDigest: toHex(verified.pcrDigest),
        pcrValues: verified.pcrValues
          ? Object.fromEntries(
              [...verified.pcrValues].map(([bank, pcrs]) => [
                bank,
                Object.fromEntries([...pcrs].map(([i, v]) => [String(i), toHex(v)])),
              ]),
            )
          : null,
      };
      if (opts.json) {
        out(toJson(fields));
        return;
      }
      out("quote verified");
      out(`  AK name          ${fields.akName} (${fields.akType}, ${fields.signatureHash})`);
      out(`  nonce            ${fields.extraData}`);
      out(
        `  clock            ${fields.clock} ms, resets ${fields.resetCount}, restarts ${fields.restartCount}, safe ${fields.safe}`,
      );
      out(`  firmware         ${fields.firmwareVersion}`);
      out(`  PCR digest       ${fields.pcrDigest}`);
      for (const { bank, pcrs } of fields.pcrSelection) {
        out(`  ${bank.padEnd(16)} PCRs ${pcrs.join(",")}`);
        const values = fields.pcrValues?.[bank];
        if (values) for (const [i, v] of Object.entries(values)) out(`    ${i.padStart(2)}: ${v}`);
      }
      if (!fields.pcrValues) out("  (PCR values not given: only the signed digest is known)");
    });
}
