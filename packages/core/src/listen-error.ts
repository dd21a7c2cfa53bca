/**
 * A port that cannot be bound is the local environment, not a bug: every
 * listening process of ours (`veritee serve`, `veritee custodian serve`)
 * maps the socket error to this one class, so the CLI exits with the
 * environment code (15) and a message naming the address.
 */
import { VeriteeError } from "./errors.js";

/** Codes of {@link ListenError}: why a port could not be bound. */
export type ListenErrorCode =
  /** Another process listens on the port (EADDRINUSE). */
  | "port-in-use"
  /** The port needs privileges this process lacks (EACCES, e.g. a port below 1024). */
  | "permission-denied"
  /** The host is not an address of this machine (EADDRNOTAVAIL), or does not resolve. */
  | "address-unavailable";

/** A port that cannot be bound (CLI exit code 15). */
export class ListenError extends VeriteeError<ListenErrorCode> {
  readonly kind = "environment" as const;
}

/** The {@link ListenError} for a `listen` failure on `host:port`, or `error` itself when it is something else. */
export function listenError(error: Error & { code?: unknown }, host: string, port: number): Error {
  const where = `${host}:${port}`;
  switch (error.code) {
    case "EADDRINUSE":
      return new ListenError("port-in-use", `${where} is already in use`, { cause: error });
    case "EACCES":
      return new ListenError("permission-denied", `${where} needs privileges`, { cause: error });
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ListenError("address-unavailable", `${host} is not an address of this machine`, { cause: error });
    default:
      return error;
  }
}
