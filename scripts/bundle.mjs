// Bundles the command (dist/src/cli/main.js, as tsc wrote it) into one file in place, with the
// modules it loads lazily as chunks beside it: one module to load instead of several hundred, which
// is what the daemon's resident memory and every command's start-up pay for. Packages that read
// files of their own at run time stay outside (etcd3 loads its .proto files, dockerode's ssh2 has an
// optional native part, pino-pretty is loaded by require); the rest of node_modules is bundled.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { chmod, rm } from "node:fs/promises";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist/src/cli");
await rm(join(cli, "chunks"), { recursive: true, force: true });
const result = await build({
  entryPoints: [join(cli, "main.js")],
  outdir: cli,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["etcd3", "dockerode", "pino-pretty", "cpu-features", "ssh2"],
  // CommonJS packages inside an ES module bundle still call require() for Node's built-ins
  banner: { js: 'import { createRequire as __dluCreateRequire } from "node:module"; const require = __dluCreateRequire(import.meta.url);' },
  legalComments: "none",
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
  metafile: true,
});
await chmod(join(cli, "main.js"), 0o755);
const outputs = Object.entries(result.metafile.outputs);
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
console.log(`bundle: ${outputs.length} files, main.js ${kib(result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith("cli/main.js"))].bytes)}, all ${kib(outputs.reduce((a, [, o]) => a + o.bytes, 0))}`);
