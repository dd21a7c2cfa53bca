/**
 * Port helpers for the swtpm manager. swtpm's TCTI convention puts the control
 * channel on the data port + 1, so free ports are picked in pairs.
 */
import net from "node:net";
import { SwtpmError } from "./errors.js";
import { sleep } from "./process.js";

/** Whether a TCP listener can bind `host:port` right now. */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** A port the OS reports free on `host` (bound to port 0, then released). */
export function ephemeralPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", (cause) =>
      reject(new SwtpmError("port-in-use", `cannot bind any port on ${host}`, { cause })),
    );
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Two consecutive free ports (P, P+1). The check races with other processes;
 * the caller retries when swtpm then fails to bind.
 */
export async function freePortPair(host: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeralPort(host);
    if (port > 0 && port < 65535 && (await canBind(host, port + 1))) return port;
  }
  throw new SwtpmError("port-in-use", `no two consecutive free TCP ports found on ${host}`);
}

/** Whether something accepts connections at `target` (a TCP port or a unix socket path). */
export function probe(target: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = "path" in target ? net.connect({ path: target.path }) : net.connect(target);
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Polls `probe` until it succeeds, `abort()` says to stop, or `timeoutMs` passes. */
export async function waitUntilListening(
  targets: readonly ({ host: string; port: number } | { path: string })[],
  timeoutMs: number,
  abort: () => boolean,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (abort()) return false;
    let all = true;
    for (const t of targets) {
      if (!(await probe(t))) {
        all = false;
        break;
      }
    }
    if (all) return true;
    await sleep(20);
  }
  return false;
}
