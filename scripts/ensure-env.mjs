// Installs what the project needs when it is missing: npm packages (npm ci),
// the Debian packages of the development TPM, and Chromium for the browser
// build's test (test/e2e/browser.test.ts) and PostgreSQL for the custodian's
// second database engine. Used by `npm test` and
// `npm run quickstart` so that both work on a fresh clone.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";

const DEBIAN_PACKAGES = ["swtpm", "swtpm-tools", "tpm2-tools"];
const REQUIRED_COMMANDS = ["swtpm", "swtpm_setup", "tpm2_checkquote"];
// Installed where we can (root, i.e. CI and containers); elsewhere the tests
// that need them skip with a message: the browser test (Chromium; under CI it
// fails without it), the launch-integrity test (strace lists every file the
// attested process opens) and the custodian's PostgreSQL suite (Debian keeps
// `initdb` under /usr/lib/postgresql/N/bin, off PATH).
const TEST_PACKAGES = {
  chromium: () => has("chromium"),
  strace: () => has("strace"),
  postgresql: () => hasPostgres(),
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

function has(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

function hasPostgres() {
  const root = "/usr/lib/postgresql";
  if (existsSync(root) && readdirSync(root).some((v) => existsSync(`${root}/${v}/bin/initdb`))) return true;
  return has("initdb") && has("pg_ctl");
}

export function ensureDebianPackages() {
  const missing = REQUIRED_COMMANDS.filter((c) => !has(c));
  const forTests =
    process.getuid?.() !== 0
      ? []
      : Object.entries(TEST_PACKAGES)
          .filter(([, present]) => !present())
          .map(([pkg]) => pkg);
  if (missing.length === 0 && forTests.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(`Missing ${missing.join(", ")}. Install the development TPM first:\n`);
    console.error(`  sudo apt-get install -y ${DEBIAN_PACKAGES.join(" ")}\n`);
    process.exit(1);
  }
  const packages = [...(missing.length > 0 ? DEBIAN_PACKAGES : []), ...forTests];
  console.error(`Installing ${packages.join(" ")} (apt-get)…`);
  run("apt-get", ["update", "-qq"]);
  run("apt-get", ["install", "-y", "-qq", ...packages], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

export function ensureNodeModules() {
  // npm records what it installed in node_modules/.package-lock.json; a lock
  // file newer than that (a pull that added a dependency) needs a new install.
  const installed = "node_modules/.package-lock.json";
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync("package-lock.json").mtimeMs) return;
  console.error("Installing npm packages (npm ci)…");
  // onnxruntime-node bundles its CPU binaries; its install script would download CUDA extras from NuGet. Nothing
  // may download at install time: skip it (npm 11 also runs no unapproved install script;
  // test/e2e/install.test.ts proves nothing came).
  run("npm", ["ci", "--no-audit", "--no-fund"], { env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" } });
}

export function build() {
  run("npx", ["--no-install", "tsc", "-b"]);
}

export function ensureAll() {
  ensureNodeModules();
  ensureDebianPackages();
  build();
}

if (import.meta.url === `file://${process.argv[1]}`) ensureAll();
