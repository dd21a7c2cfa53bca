import type { HashAlg } from "@veritee/core";
import { CliError } from "./cli-error.js";

const BANKS: readonly HashAlg[] = ["sha1", "sha256", "sha384", "sha512"];

/** A PCR selection: banks in order, PCR indices ascending. */
export type PcrSpec = ReadonlyArray<{ readonly bank: HashAlg; readonly pcrs: readonly number[] }>;

/**
 * Parse a PCR selection in tpm2-tools' syntax, extended with ranges:
 * `sha256:0,1,2+sha1:all` or `sha256:0-7,10`. PCRs 0–23 (PC Client).
 * Banks come back in the order the TPM client marshals them (sha1, sha256,
 * sha384, sha512) whatever order they were written in, so that the PCR values
 * file and the quote's selection always agree.
 */
export function parsePcrSpec(text: string): PcrSpec {
  return parseBanks(text).sort((a, b) => BANKS.indexOf(a.bank) - BANKS.indexOf(b.bank));
}

function parseBanks(text: string): { bank: HashAlg; pcrs: number[] }[] {
  const bad = (why: string): never => {
    throw new CliError("bad-argument", `--pcrs ${why} (expected e.g. sha256:0-23 or sha1:0,1+sha256:all)`);
  };
  const seen = new Set<string>();
  return text.split("+").map((part) => {
    const [name, list, ...rest] = part.split(":");
    if (rest.length > 0 || name === undefined || list === undefined || list === "") return bad("is malformed");
    const bank = BANKS.find((b) => b === name.toLowerCase()) ?? bad(`names an unknown bank ${JSON.stringify(name)}`);
    if (seen.has(bank)) bad(`names ${bank} twice`);
    seen.add(bank);
    const pcrs = new Set<number>();
    const index = (s: string): number => {
      if (!/^[0-9]{1,2}$/.test(s) || Number(s) > 23) bad(`has a PCR index out of 0-23: ${JSON.stringify(s)}`);
      return Number(s);
    };
    for (const item of list.split(",")) {
      if (item === "all") for (let i = 0; i < 24; i++) pcrs.add(i);
      else if (item.includes("-")) {
        const [from, to] = item.split("-");
        const a = index(from ?? "");
        const b = index(to ?? "");
        if (a > b) bad(`has an empty range ${item}`);
        for (let i = a; i <= b; i++) pcrs.add(i);
      } else pcrs.add(index(item));
    }
    return { bank, pcrs: [...pcrs].sort((a, b) => a - b) };
  });
}

/** The tpm2-tools form (`sha256:0,1,2`) of a selection, for `tpm2_checkquote -l`. */
export function formatPcrSpec(spec: PcrSpec): string {
  return spec.map(({ bank, pcrs }) => `${bank}:${pcrs.join(",")}`).join("+");
}
