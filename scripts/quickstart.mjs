// `npm run quickstart`: the main job, end to end on the embedded default.
// Today (issue 2) it stops at "attested TPM quote verified": it starts the
// development TPM (swtpm with a local EK CA), has it quote its PCRs over a
// fresh verifier nonce, and verifies that quote — with our verifier and with
// tpm2-tools' independent `tpm2_checkquote`.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ensureAll } from "./ensure-env.mjs";

ensureAll();

const stateDir = path.join(".veritee", "quickstart-tpm");
const outDir = mkdtempSync(path.join(tmpdir(), "veritee-quickstart-"));
const veritee = (...args) => {
  const r = spawnSync(process.execPath, ["packages/cli/bin/veritee.js", ...args], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`veritee ${args[0]} ${args[1] ?? ""} failed with exit code ${r.status}`);
};

let failed = false;
try {
  console.log("\n== 1. the development TPM (swtpm, EK certificates from a local CA)");
  veritee("tpm", "sim", "start", "--state-dir", stateDir, "--port", "0");

  const nonce = randomBytes(32).toString("hex");
  console.log(`\n== 2. the attester quotes its PCRs over the verifier's fresh nonce ${nonce.slice(0, 16)}…`);
  veritee("tpm", "attest", "--state-dir", stateDir, "--nonce", nonce, "--out", outDir);

  console.log("\n== 3. the verifier checks the quote (signature, AK attributes, nonce, PCR digest)");
  const f = (name) => path.join(outDir, name);
  veritee(
    "tpm",
    "verify-quote",
    "--ak-public",
    f("ak.pub"),
    "--attest",
    f("quote.msg"),
    "--signature",
    f("quote.sig"),
    "--nonce",
    nonce,
    "--pcr-values",
    f("pcrs.bin"),
  );

  // tpm2-tools 5.4's tpm2_checkquote cannot hash a values file of 8 or more
  // PCRs (tpm2-tools issue #3542), so the independent cross-check covers the
  // signature and the nonce; our verifier above covered the PCR digest too.
  const check = spawnSync(
    "tpm2_checkquote",
    ["-u", f("ak.pub"), "-m", f("quote.msg"), "-s", f("quote.sig"), "-g", "sha256", "-q", nonce],
    { encoding: "utf8" },
  );
  console.log(`\n== 4. cross-check with tpm2-tools: tpm2_checkquote ${check.status === 0 ? "agrees" : "DISAGREES"}`);
  if (check.status !== 0) {
    process.stderr.write(check.stderr);
    failed = true;
  } else {
    console.log("\nattested TPM quote verified");
  }
} catch (error) {
  console.error(`\nquickstart failed: ${error.message}`);
  failed = true;
} finally {
  veritee("tpm", "sim", "stop", "--state-dir", stateDir);
  rmSync(outDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
