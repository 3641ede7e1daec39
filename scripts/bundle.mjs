#!/usr/bin/env node
// Bundles the CLI into dist/ with esbuild: dist/cli.js and one chunk per
// lazily imported command. Node then loads a handful of files instead of a
// few hundred (execa alone was ~90 ms of module loading on every command
// that runs a program; bundled, ~25 ms). Packages with native or optional
// parts (dockerode and its ssh2), and the interactive ones, stay external:
// they are imported lazily, only by the commands that use them.
// Types are checked separately (`tsc --noEmit`, in `npm run build`).
import { build } from "esbuild";
import { rm } from "node:fs/promises";

const outdir = new URL("../dist/", import.meta.url).pathname;
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: {
    cli: new URL("../src/cli.ts", import.meta.url).pathname,
    supervisor: new URL("../src/supervisor.ts", import.meta.url).pathname,
  },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
  external: ["dockerode", "inquirer", "ora", "autocannon", "tar-stream"],
  // Bundled CommonJS packages (commander) call require(); give ESM one.
  banner: { js: 'import { createRequire as __envoywasmRequire } from "node:module"; const require = __envoywasmRequire(import.meta.url);' },
  logLevel: "warning",
});
// `envoywasm build` with nothing changed, answered without the CLI (bin/envoywasm.js): one
// self-contained file, as every module Node loads on that path costs time.
await build({
  entryPoints: { "build-fast": new URL("../src/build-fast.ts", import.meta.url).pathname },
  outdir,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
});
