/** An attacker in the middle for CLI tests: the end-to-end tests' relay (test/e2e/support/relay.ts). */
export { Relay, type RelayHooks, type RelayRequest, type RelayResponse } from "@veritee/e2e/support/relay";
