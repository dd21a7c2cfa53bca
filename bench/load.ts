/**
 * A minimal HTTP/1.1 load generator on raw keep-alive sockets: each
 * connection sends one precomputed request, waits for the complete response
 * (Content-Length or chunked), and sends the next. It does far less work per
 * request than any server, so the server is what gets measured.
 */
import { connect } from "node:net";

/** Send `request` over `connections` sockets for `ms` milliseconds; returns completed requests per second. */
export async function measure(port: number, request: string, connections: number, ms: number): Promise<number> {
  const payload = Buffer.from(request);
  let completed = 0;
  let running = true;
  const sockets = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<ReturnType<typeof connect>>((resolve, reject) => {
          const socket = connect(port, "127.0.0.1", () => resolve(socket));
          socket.setNoDelay(true);
          socket.once("error", reject);
        }),
    ),
  );
  for (const socket of sockets) {
    let pending = "";
    socket.on("data", (data: Buffer) => {
      pending += data.toString("latin1");
      for (;;) {
        const end = responseEnd(pending);
        if (end < 0) return;
        pending = pending.slice(end);
        completed++;
        if (running) socket.write(payload);
      }
    });
    socket.write(payload);
  }
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  running = false;
  const elapsed = performance.now() - start;
  for (const socket of sockets) socket.destroy();
  return (completed * 1000) / elapsed;
}

/** The length of the first complete response in `text`, or -1. */
function responseEnd(text: string): number {
  const headerEnd = text.indexOf("\r\n\r\n");
  if (headerEnd < 0) return -1;
  const head = text.slice(0, headerEnd).toLowerCase();
  const match = /\r\ncontent-length: *(\d+)/.exec(head);
  if (match) {
    const end = headerEnd + 4 + Number(match[1]);
    return text.length >= end ? end : -1;
  }
  const last = text.indexOf("\r\n0\r\n\r\n", headerEnd);
  return last < 0 ? -1 : last + 7;
}
