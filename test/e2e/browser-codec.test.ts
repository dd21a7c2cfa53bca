/**
 * The verifier's codecs in a browser (codec slice): CRL and TDX collateral
 * decoding used Node's `Buffer`, so in a page they threw `ReferenceError`.
 *
 * - The esbuild browser bundle of @veritee/core, @veritee/evidence and
 *   @veritee/policy must not name `Buffer` at all (the compile-time guard is
 *   `types: []` in their tsconfig.browser.json; this checks the bundle).
 * - In Chromium, the bundle decodes Intel's PCK CRL (PEM) and root CRL
 *   (DER), a production TDX quote (its PEM PCK chain) and the embedded Intel
 *   root, with the same results as Node.
 *
 * Skipped when Chromium is not installed, except in CI (env CI), where that fails.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { base64Encode, toHex } from "@veritee/core";
import { decodeCrl, decodeTdxQuote, intelSgxRootCa } from "@veritee/evidence";
import { build } from "esbuild";
import puppeteer, { type Browser } from "puppeteer-core";
import { REPO_ROOT } from "./support/paths.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI) throw new Error(`Chromium is required in CI: ${CHROMIUM} is missing`);
const skip = missing ? `Chromium not installed (${CHROMIUM}): sudo apt-get install -y chromium` : false;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TDX = path.resolve(REPO_ROOT, "..", "shared", "vectors", "tdx");

/** The page's entry: the browser builds of the verifier packages, on `window`. */
const ENTRY = `
import * as core from "@veritee/core";
import * as evidence from "@veritee/evidence";
import * as policy from "@veritee/policy";
globalThis.veritee = { core, evidence, policy };
`;

interface Summary {
  readonly crls: readonly { readonly revoked: number; readonly thisUpdate: string }[];
  readonly pckChain: readonly string[];
  readonly root: string;
}

/** What the page computes, computed in Node: the reference. */
function summarize(files: Record<string, Uint8Array>): Summary {
  return {
    crls: [decodeCrl(files.pckcrl!), decodeCrl(files.rootcrl!)].map((c) => ({
      revoked: c.revoked.size,
      thisUpdate: c.thisUpdate.toISOString(),
    })),
    pckChain: decodeTdxQuote(files.quote!, { trailingData: "ignore" }).certification.pckChain.map(toHex),
    root: toHex(intelSgxRootCa()),
  };
}

let bundle: string;
let browser: Browser | undefined;

describe("verifier codecs in the browser", { skip }, () => {
  before(async () => {
    const result = await build({
      stdin: { contents: ENTRY, resolveDir: HERE, loader: "js" },
      bundle: true,
      platform: "browser",
      conditions: ["browser"],
      format: "iife",
      write: false,
      logLevel: "silent",
    });
    bundle = result.outputFiles[0]!.text;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless=new", "--no-sandbox"],
    });
  });
  after(async () => {
    await browser?.close();
  });

  test("the browser bundle names no Buffer", () => {
    // \\b keeps ArrayBuffer and SharedArrayBuffer out; esbuild drops ordinary comments.
    const uses = bundle.match(/\bBuffer\b/g) ?? [];
    assert.deepEqual(uses, [], "Buffer is a Node global: use @veritee/core's codecs");
  });

  test("CRLs, a TDX quote's PEM chain and the Intel root decode in Chromium as in Node", async () => {
    const files = {
      pckcrl: readFileSync(path.join(TDX, "pckcrl")),
      rootcrl: readFileSync(path.join(TDX, "rootcrl.der")),
      quote: readFileSync(path.join(TDX, "tdx_prod_quote_SPR_E4.dat")),
    };
    const asBytes = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, new Uint8Array(v)]));
    const expected = summarize(asBytes);
    const page = await browser!.newPage();
    try {
      await page.setContent("<!doctype html><title>codec</title>");
      await page.addScriptTag({ content: bundle });
      const input = Object.fromEntries(Object.entries(asBytes).map(([k, v]) => [k, base64Encode(v)]));
      const got = await page.evaluate((encoded: Record<string, string>) => {
        // biome-ignore lint/suspicious/noExplicitAny: the page's global, typed by the bundle only
        const { core, evidence } = (globalThis as any).veritee;
        const bytes = (k: string): Uint8Array => core.base64Decode(encoded[k], k, 1 << 24);
        return {
          crls: [evidence.decodeCrl(bytes("pckcrl")), evidence.decodeCrl(bytes("rootcrl"))].map(
            (c: { revoked: Map<string, unknown>; thisUpdate: Date }) => ({
              revoked: c.revoked.size,
              thisUpdate: c.thisUpdate.toISOString(),
            }),
          ),
          pckChain: evidence
            .decodeTdxQuote(bytes("quote"), { trailingData: "ignore" })
            .certification.pckChain.map(core.toHex),
          root: core.toHex(evidence.intelSgxRootCa()),
        };
      }, input);
      assert.deepEqual(got, expected);
      assert.equal(expected.pckChain.length, 3);
    } finally {
      await page.close();
    }
  });
});
