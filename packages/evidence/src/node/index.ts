/** `@veritee/evidence/node`: the Node-only parts of the evidence package (local file access). */
export { directoryCollateral } from "./directory-collateral.js";
