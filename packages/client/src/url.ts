/**
 * The attested server's addresses, from the `baseURL` a user gives — the
 * same value the official `openai` package takes (`http://host:port/v1`);
 * the `/v1` suffix is added when missing, so `http://host:port` works too.
 */
import { ClientError } from "./errors.js";

/** Where the server's API lives. */
export interface ServerAddress {
  /** The API root without a trailing slash, ending in `/v1`, e.g. `https://host:8443/v1`. */
  readonly apiRoot: string;
  /** The scheme, host and port. */
  readonly origin: string;
  /** True for `https:`: the channel can pin the attested TLS key. */
  readonly https: boolean;
  /** The host name (without brackets for IPv6). */
  readonly hostname: string;
  /** The port, the scheme's default filled in. */
  readonly port: number;
}

/**
 * Parse and normalize a base URL.
 *
 * @throws ClientError `invalid-options` for a URL that does not parse, is not
 *   http(s), carries credentials (they would be sent in the clear before any
 *   verification), a query or a fragment.
 * @example
 * resolveServerAddress("http://127.0.0.1:8080").apiRoot; // "http://127.0.0.1:8080/v1"
 */
export function resolveServerAddress(baseURL: string): ServerAddress {
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch (cause) {
    throw new ClientError("invalid-options", "baseURL is not a URL", { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ClientError("invalid-options", "baseURL must be an http: or https: URL");
  }
  if (url.username !== "" || url.password !== "") {
    throw new ClientError("invalid-options", "baseURL must not carry credentials");
  }
  if (url.search !== "" || url.hash !== "") {
    throw new ClientError("invalid-options", "baseURL must not have a query or a fragment");
  }
  let path = url.pathname.replace(/\/+$/, "");
  if (!path.endsWith("/v1")) path = `${path}/v1`;
  const https = url.protocol === "https:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return Object.freeze({
    apiRoot: `${url.origin}${path}`,
    origin: url.origin,
    https,
    hostname,
    port: url.port === "" ? (https ? 443 : 80) : Number(url.port),
  });
}

/**
 * True when `url` is the API root itself or below it, or below its sibling
 * `/v2` (the Open Inference Protocol of the same attested server): the only
 * places `session.fetch` sends to.
 */
export function isUnderApiRoot(address: ServerAddress, url: URL): boolean {
  if (url.origin !== address.origin) return false;
  const root = new URL(address.apiRoot).pathname;
  const v2 = root.replace(/\/v1$/, "/v2");
  return [root, v2].some((r) => url.pathname === r || url.pathname.startsWith(`${r}/`));
}
