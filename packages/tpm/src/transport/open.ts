/** Choosing and opening a transport from a description. */
import { TpmError } from "../errors.js";
import { DEFAULT_TPM_DEVICE, DeviceTransport } from "./device.js";
import { StreamTransport } from "./stream.js";
import type { TpmTransport } from "./types.js";

/** Where the TPM is. */
export type TransportSpec =
  /** swtpm's TCP data channel (host defaults to 127.0.0.1). */
  | { readonly kind: "tcp"; readonly host?: string; readonly port: number }
  /** swtpm's unix-socket data channel. */
  | { readonly kind: "unix"; readonly path: string }
  /** A TPM character device (defaults to the kernel resource manager, /dev/tpmrm0). */
  | { readonly kind: "device"; readonly path?: string };

/**
 * Open the transport a spec describes.
 *
 * @throws TpmError `transport-error` when it cannot be reached, `bad-argument` for an invalid port.
 */
export async function openTransport(spec: TransportSpec, connectTimeoutMs = 10_000): Promise<TpmTransport> {
  switch (spec.kind) {
    case "tcp":
      if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) {
        throw new TpmError("bad-argument", "connect", "port must be an integer in 1..65535");
      }
      return StreamTransport.connect({ host: spec.host ?? "127.0.0.1", port: spec.port }, connectTimeoutMs);
    case "unix":
      return StreamTransport.connect({ path: spec.path }, connectTimeoutMs);
    case "device":
      return DeviceTransport.open(spec.path ?? DEFAULT_TPM_DEVICE);
  }
}

/**
 * Parse a TPM address in the forms a command line takes:
 * `swtpm:host=H,port=P` (the tpm2-tools TCTI syntax; `swtpm:port=P` and
 * `tcp:H:P` also work), `unix:/path/to/socket`, `device:/dev/tpmrm0` or a bare
 * `/dev/...` path.
 *
 * @throws TpmError `bad-argument` for anything else.
 */
export function parseTransportSpec(text: string): TransportSpec {
  const bad = (): never => {
    throw new TpmError(
      "bad-argument",
      "connect",
      "unrecognised TPM address (expected swtpm:host=H,port=P, unix:PATH or device:PATH)",
    );
  };
  const port = (s: string | undefined): number => {
    if (s === undefined || !/^[0-9]{1,5}$/.test(s)) return bad();
    const n = Number(s);
    return n >= 1 && n <= 65535 ? n : bad();
  };
  if (text.startsWith("/dev/")) return { kind: "device", path: text };
  const colon = text.indexOf(":");
  if (colon < 0) return bad();
  const scheme = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  switch (scheme) {
    case "swtpm": {
      const fields = new Map<string, string>();
      for (const part of rest.split(",")) {
        if (part === "") continue;
        const eq = part.indexOf("=");
        if (eq < 0) return bad();
        fields.set(part.slice(0, eq), part.slice(eq + 1));
      }
      for (const key of fields.keys()) if (key !== "host" && key !== "port") return bad();
      const host = fields.get("host") ?? "127.0.0.1";
      return { kind: "tcp", host: host === "" ? bad() : host, port: port(fields.get("port") ?? "2321") };
    }
    case "tcp": {
      const last = rest.lastIndexOf(":");
      if (last <= 0) return bad();
      return { kind: "tcp", host: rest.slice(0, last), port: port(rest.slice(last + 1)) };
    }
    case "unix":
      return rest === "" ? bad() : { kind: "unix", path: rest };
    case "device":
      return { kind: "device", path: rest === "" ? DEFAULT_TPM_DEVICE : rest };
    default:
      return bad();
  }
}
