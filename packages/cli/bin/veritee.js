#!/usr/bin/env node
// The `veritee` command. The implementation is compiled TypeScript under dist/.
import { main } from "../dist/src/main.js";

// A reader that stops early (`veritee … | head`) closes the pipe: that ends
// the output, it is not a failure to report with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main(process.argv);
