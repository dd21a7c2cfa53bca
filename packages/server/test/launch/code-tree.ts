/** A small synthetic release tree for code-bundle tests. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/** Files of the synthetic tree, repo-relative, with their contents. */
export const TREE: Readonly<Record<string, string>> = {
  "package-lock.json": '{"lockfileVersion":3}\n',
  "packages/core/package.json": '{"name":"@veritee/core"}\n',
  "packages/core/dist/src/index.js": "export const a = 1;\n",
  "packages/core/dist/src/bytes.js": "export const b = 2;\n",
  "packages/tpm/package.json": '{"name":"@veritee/tpm"}\n',
  "packages/tpm/dist/src/index.js": "export {};\n",
  "packages/tpm/dist/src/sim/swtpm.js": "export const s = 3;\n",
  "packages/evidence/package.json": '{"name":"@veritee/evidence"}\n',
  "packages/evidence/dist/src/index.js": "export {};\n",
  "packages/evidence/dist/src/launch/log.js": "export const l = 4;\n",
  "packages/policy/package.json": '{"name":"@veritee/policy"}\n',
  "packages/policy/dist/src/index.js": "export {};\n",
  "packages/channel/package.json": '{"name":"@veritee/channel"}\n',
  "packages/channel/dist/src/index.js": "export {};\n",
  "packages/custody/package.json": '{"name":"@veritee/custody"}\n',
  "packages/custody/dist/src/index.js": "export {};\n",
  "packages/client/package.json": '{"name":"@veritee/client"}\n',
  "packages/client/dist/src/index.js": "export {};\n",
  "packages/server/package.json": '{"name":"@veritee/server"}\n',
  "packages/server/dist/src/index.js": "export {};\n",
  "packages/cli/package.json": '{"name":"@veritee/cli"}\n',
  "packages/cli/dist/src/main.js": "export {};\n",
  "packages/cli/bin/veritee.js": "#!/usr/bin/env node\nimport '../dist/src/main.js';\n",
};

/** Files in the tree that the code bundle must ignore. */
export const IGNORED: Readonly<Record<string, string>> = {
  "packages/core/dist/src/index.js.map": "{}",
  "packages/core/dist/src/index.d.ts": "export declare const a: number;",
  "packages/core/dist/src/index.d.ts.map": "{}",
  "packages/core/dist/test/hex.test.js": "test code",
  "packages/core/dist/test/package.json": "{}",
  "packages/core/dist/tsconfig.tsbuildinfo": "{}",
  "packages/core/src/index.ts": "export const a = 1;",
  "packages/testkit/package.json": "{}",
  "packages/testkit/dist/src/index.js": "export {};",
  "README.md": "# readme",
};

/** Write the tree (and the ignored files) under `root`. */
export async function writeTree(root: string, extra: Readonly<Record<string, string>> = {}): Promise<void> {
  for (const [rel, content] of Object.entries({ ...TREE, ...IGNORED, ...extra })) {
    const file = path.join(root, ...rel.split("/"));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}
