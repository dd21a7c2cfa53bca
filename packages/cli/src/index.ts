export { EXIT, exitCodeFor } from "./exit-codes.js";
export { buildProgram, main } from "./main.js";
