/** Real development servers for CLI tests: the end-to-end tests' helper (test/e2e/support/dev-server.ts). */
export { canary, startDevServer } from "@veritee/e2e/support/dev-server";
