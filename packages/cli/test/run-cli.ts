/**
 * The CLI tests' runner: the bin as a user runs it. It lives with the
 * end-to-end tests (test/e2e/support/cli.ts), which drive the bin too.
 */
export { BIN, runCli, serverEnv, veritee } from "@veritee/e2e/support/cli";
