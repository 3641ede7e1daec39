#!/usr/bin/env node
// Bundles the CLI into dist/ with esbuild: dist/cli.js and one chunk per
// lazily imported command; dist/supervisor.js (`up -d`'s background
// supervisor) with chunks of its own; dist/build-fast.js. Node then loads a handful of files instead of a
// few hundred (execa alone was ~90 ms of module loading on every command
// that runs a program; bundled, ~25 ms). Packages with native or optional
// parts (dockerode and its ssh2), and the interactive ones, stay external:
// they are imported lazily, only by the commands that use them.
// Types are checked separately (`tsc --noEmit`, in `npm run build`).
import { build } from "esbuild";
import { rm } from "node:fs/promises";

const outdir = new URL("../dist/", import.meta.url).pathname;
const src = (file) => new URL(`../src/${file}`, import.meta.url).pathname;
const splitBundle = (entryPoints, chunkNames) =>
  build({
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    chunkNames,
    external: ["dockerode", "inquirer", "ora", "autocannon", "tar-stream"],
    // Bundled CommonJS packages (commander) call require(); give ESM one.
    banner: { js: 'import { createRequire as __envoywasmRequire } from "node:module"; const require = __envoywasmRequire(import.meta.url);' },
    logLevel: "warning",
  });
await rm(outdir, { recursive: true, force: true });
await splitBundle({ cli: src("cli.ts") }, "chunks/[name]-[hash]");
// `up -d`'s background supervisor, bundled on its own: what it needs from the start is one file, and
// its lazy parts (reloads, Docker) chunks of their own. Sharing chunks with the CLI made it load some
// twenty files, enough work in Node's module loader to start V8's optimizing compiler at start-up,
// whose code pages then stay resident: measured idle, 53.6 → 50.2 MiB.
await splitBundle({ supervisor: src("supervisor.ts") }, "supervisor-chunks/[name]-[hash]");
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
