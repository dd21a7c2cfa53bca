/**
 * Where the tests find the checkout, from this file's own place
 * (test/e2e/dist/support/paths.js), not from the working directory.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the release bundle a server measures (`codeRoot`), as `veritee serve`'s CODE_ROOT. */
export const REPO_ROOT = path.resolve(fileURLToPath(new URL("../../../../", import.meta.url)));

/** The small model `veritee serve` uses by default (`../shared/models/stories260K.gguf`). */
export const DEFAULT_MODEL = path.resolve(REPO_ROOT, "..", "shared", "models", "stories260K.gguf");
