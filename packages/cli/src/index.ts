export { EXIT, EXIT_FOR_KIND, type ExitCode, exitCodeFor } from "./exit-codes.js";
export { buildProgram, main } from "./main.js";
