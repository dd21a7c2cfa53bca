/**
 * A progress bar on stderr for long work (model downloads, hashing large
 * models): redrawn in place on a terminal, a line every 10% otherwise (logs).
 */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr, minBytes = 64 << 20) {
  let lastTenth = -1;
  let lastDraw = 0;
  return (done: number, total: number | undefined): void => {
    // Small files finish before a bar would help; unknown sizes still show.
    if (total !== undefined && total < minBytes) return;
    const mib = (n: number) => (n / (1 << 20)).toFixed(1);
    if (stream.isTTY) {
      const now = Date.now();
      if (now - lastDraw < 100 && done !== total) return;
      lastDraw = now;
      const width = 30;
      const fraction = total ? Math.min(1, done / total) : 0;
      const bar = total
        ? `[${"#".repeat(Math.round(fraction * width)).padEnd(width)}] ${(fraction * 100).toFixed(0)}%`
        : "";
      stream.write(`\r${label} ${bar} ${mib(done)}${total ? `/${mib(total)}` : ""} MiB`);
      if (total !== undefined && done >= total) stream.write("\n");
      return;
    }
    if (!total) return;
    const tenth = Math.floor((done / total) * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      stream.write(`${label} ${tenth * 10}% (${mib(done)}/${mib(total)} MiB)\n`);
    }
  };
}
