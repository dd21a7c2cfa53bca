/**
 * TDX quote verification: full `verifyTdxQuote` (decode, PCK chain to the
 * root, both CRLs, QE report signature, binding, quote signature, TCB info
 * and QE identity signatures and their signing chain, TCB evaluation) on a
 * forged quote with collateral, and `verifyTdxQuoteSignatures` on the real
 * production v4 quote, each against the physical floor: one bare
 * node:crypto ECDSA P-256 verification of the quote signature with the key
 * already imported. Each also with `createTdxVerifier()` and a warm cache
 * (PCK chain, CRLs, TCB info and QE identity signatures and their signing
 * chain looked up by SHA-256 of their bytes, windows re-checked; the quote,
 * QE report, binding, revocation of the PCK and the TCB evaluation checked
 * every call).
 */
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { createTdxVerifier, decodeTdxQuote, verifyTdxQuote, verifyTdxQuoteSignatures } from "@veritee/evidence";
import { sharedPath } from "@veritee/testkit";
import {
  forgeQeIdentity,
  forgeTcbInfo,
  forgeTdxQuote,
  makeTdxPki,
  TDX_TEST_TIME,
  tcbSigningChainPem,
} from "@veritee/testkit/tdx";
import { buildCrl } from "@veritee/testkit/x509";
import { compare, fmt } from "./harness.js";

function bare(quote: Uint8Array): () => boolean {
  const q = decodeTdxQuote(quote);
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  const key = createPublicKey({
    key: { kty: "EC", crv: "P-256", x: b64(q.attestationKey.subarray(0, 32)), y: b64(q.attestationKey.subarray(32)) },
    format: "jwk",
  });
  return () => nodeVerify("sha256", q.signedData, { key, dsaEncoding: "ieee-p1363" }, q.signature);
}

export async function benchTdx(): Promise<void> {
  const pki = makeTdxPki();
  const quote = forgeTdxQuote(pki, { version: 4 });
  const collateral = {
    tcbInfo: forgeTcbInfo(pki),
    qeIdentity: forgeQeIdentity(pki),
    tcbSigningChain: tcbSigningChainPem(pki),
    pckCrl: buildCrl({ issuer: pki.platformCa, thisUpdate: new Date("2025-05-01T00:00:00Z") }),
    rootCrl: buildCrl({ issuer: pki.root, thisUpdate: new Date("2025-05-01T00:00:00Z") }),
  };
  const full = () => verifyTdxQuote({ quote, collateral, at: TDX_TEST_TIME, roots: [pki.root.cert] });
  await full();
  const verifier = createTdxVerifier({ roots: [pki.root.cert] });
  const warm = () => verifier.verify({ quote, collateral, at: TDX_TEST_TIME });
  await warm();
  const floor = bare(quote);
  if (!floor()) throw new Error("bare verification failed");

  const real = decodeTdxQuote(readFileSync(sharedPath("vectors", "tdx", "tdx_prod_quote_SPR_E4.dat")), {
    trailingData: "ignore",
  }).raw;
  const pckCrl = readFileSync(sharedPath("vectors", "tdx", "pckcrl"));
  const rootCrl = readFileSync(sharedPath("vectors", "tdx", "rootcrl.der"));
  const at = new Date("2023-06-20T00:00:00Z");
  const sigs = () => verifyTdxQuoteSignatures({ quote: real, at, pckCrl, rootCrl });
  await sigs();
  const realVerifier = createTdxVerifier();
  const sigsWarm = () => realVerifier.verifySignatures({ quote: real, at, pckCrl, rootCrl });
  await sigsWarm();
  const realFloor = bare(real);

  console.log("\n## TDX quote verification vs one bare ECDSA P-256 quote-signature check");
  console.log("| what | verifications/s | bare verify/s | ratio |");
  console.log("| --- | ---: | ---: | ---: |");
  const a = await compare(full, floor, { rounds: 5, roundMs: 300 });
  console.log(
    `| verifyTdxQuote, forged v4 + TCB info, QE identity, 2 CRLs | ${fmt(a.subject.opsPerSecond)} | ${fmt(a.baseline.opsPerSecond)} | ${fmt(a.ratio)}× |`,
  );
  const aw = await compare(warm, floor, { rounds: 5, roundMs: 300 });
  console.log(
    `| createTdxVerifier().verify, same, warm cache | ${fmt(aw.subject.opsPerSecond)} | ${fmt(aw.baseline.opsPerSecond)} | ${fmt(aw.ratio)}× |`,
  );
  const b = await compare(sigs, realFloor, { rounds: 5, roundMs: 300 });
  console.log(
    `| verifyTdxQuoteSignatures, production v4 + 2 CRLs (44 entries) | ${fmt(b.subject.opsPerSecond)} | ${fmt(b.baseline.opsPerSecond)} | ${fmt(b.ratio)}× |`,
  );
  const bw = await compare(sigsWarm, realFloor, { rounds: 5, roundMs: 300 });
  console.log(
    `| createTdxVerifier().verifySignatures, same, warm cache | ${fmt(bw.subject.opsPerSecond)} | ${fmt(bw.baseline.opsPerSecond)} | ${fmt(bw.ratio)}× |`,
  );
}
