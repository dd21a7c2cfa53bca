#!/usr/bin/env node
// The `veritee` command. The implementation is compiled TypeScript under dist/.
import { main } from "../dist/src/main.js";

process.exitCode = await main(process.argv);
