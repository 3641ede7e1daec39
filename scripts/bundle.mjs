#!/usr/bin/env node
// Bundles the CLI into dist/ with esbuild: dist/cli.js with a chunk per lazily
// imported command, and dist/supervisor.js (`up -d`'s background supervisor)
// with chunks of its own, so the process that stays up loads only supervising.
// Node then loads a handful of files instead of a few hundred. Packages with
// native or optional parts (dockerode), and the interactive ones, stay
// external: only the commands that use them import them. Types are checked
// separately (`tsc --noEmit`, in `npm run build`).
import { build } from "esbuild";
import { rm } from "node:fs/promises";

const outdir = new URL("../dist/", import.meta.url).pathname;
const src = (file) => new URL(`../src/${file}`, import.meta.url).pathname;
const bundle = (entryPoints, chunkNames) =>
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
await bundle({ cli: src("cli/main.ts") }, "chunks/[name]-[hash]");
await bundle({ supervisor: src("run/supervisor/entry.ts") }, "supervisor-chunks/[name]-[hash]");
