#!/usr/bin/env node
// envoywasm's benchmark suite (`npm run bench`). Every figure is measured
// against a baseline in the same run, repetition by repetition, and reported
// as a ratio (median, min, max): the machines this runs on are shared and
// noisy, so absolute times say little. Writes results.json and results.md
// (bench/ unless --out), prints the table on stdout and progress on stderr.
// Exit 0 whether or not goals are met; 1 when a measurement itself failed.
//
//   node bench/run.mjs [--quick] [--out <dir>] [--only <groups>]
//
// Needs `npm run build` (dist/), Go, and an Envoy the CLI finds
// (`envoywasm envoy which`). Runs everything in a temp folder of its own,
// with its own ENVOYWASM_HOME, on ports from the OS, on 127.0.0.1 only.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { compile } from "./figures/compile.mjs";
import { dataPath } from "./figures/data-path.mjs";
import { e2e } from "./figures/e2e.mjs";
import { logs } from "./figures/logs.mjs";
import { reload } from "./figures/reload.mjs";
import { startup } from "./figures/startup.mjs";
import { toolchains } from "./figures/toolchains.mjs";
import { up } from "./figures/up.mjs";
import { machine, versions } from "./lib/machine.mjs";
import { MeasureError, stopAllGroups } from "./lib/proc.mjs";
import { CLI, REPO, cli, initProject } from "./lib/project.mjs";
import { markdown } from "./lib/report.mjs";

const REPS = {
  full: { startup: 15, compile: 7, up: 7, reload: 5, reloadLoops: 4, logs: 3, logLines: 200_000, dataPath: 3, dataPathS: 10, toolchains: 2 },
  quick: { startup: 7, compile: 5, up: 3, reload: 3, reloadLoops: 4, logs: 2, logLines: 50_000, dataPath: 1, dataPathS: 2, toolchains: 1 },
  // For the test suite: every figure once, as small as it can be (one request at a time under reload), to show the suite runs end to end.
  smoke: { startup: 2, compile: 1, up: 1, reload: 1, reloadLoops: 1, logs: 1, logLines: 5_000, dataPath: 1, dataPathS: 1, toolchains: 1 },
};

/** Left out of a smoke run (the data path of the other templates: the same code as data-headers; Rust's cold builds and three benches). */
const SMOKE_SKIPS = ["data-add-header", "data-auth", "toolchains"];

/** The figures, in groups that share a project: --only takes the group names. */
const GROUPS = {
  startup: { figures: "1, 2", template: "add-header", run: (ctx, p) => startup(ctx, p) },
  compile: { figures: "3", template: "add-header", run: (ctx, p) => compile(ctx, p) },
  up: { figures: "4, 5", template: "add-header", run: (ctx, p) => up(ctx, p) },
  reload: { figures: "6, 7", template: "add-header", run: (ctx, p) => reload(ctx, p) },
  logs: { figures: "8", template: "add-header", run: (ctx, p) => logs(ctx, p) },
  e2e: { figures: "11", template: "add-header", run: (ctx, p) => e2e(ctx, p) },
  "data-headers": { figures: "9a, 9f", template: "headers", run: (ctx, p) => dataPath(ctx, p, "9a", "9f") },
  "data-add-header": { figures: "9b", template: "add-header", run: (ctx, p) => dataPath(ctx, p, "9b") },
  "data-auth": { figures: "9c", template: "auth", run: (ctx, p) => dataPath(ctx, p, "9c") },
  toolchains: { figures: "9g, 10", template: "add-header", toolchain: "rust", run: (ctx, p) => toolchains(ctx, p) },
};

const USAGE = `usage: node bench/run.mjs [--quick | --smoke] [--out <dir>] [--only <group,...>]
  --quick   fewer repetitions, fewer lines, shorter loads (about two minutes)
  --smoke   every figure once, as small as it goes, the data path for one template (the test suite's check that the suite runs; numbers mean little)
  --out     where results.json and results.md go (default: bench/)
  --only    some groups: ${Object.keys(GROUPS).join(", ")}`;

function parse() {
  try {
    const { values } = parseArgs({
      options: {
        quick: { type: "boolean" },
        smoke: { type: "boolean" },
        out: { type: "string" },
        only: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    const only = values.only
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const g of only ?? []) if (!(g in GROUPS)) throw new Error(`unknown group ${g}`);
    return { quick: values.quick === true, smoke: values.smoke === true, out: path.resolve(values.out ?? path.join(REPO, "bench")), only };
  } catch (error) {
    process.stderr.write(`error: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
}

/** The Envoy `up` would run, found the way the CLI finds it, with the caller's environment. */
function findEnvoy() {
  const r = spawnSync(process.execPath, [CLI, "envoy", "which", "--json"], { cwd: os.tmpdir(), encoding: "utf8" });
  if (r.status !== 0) throw new MeasureError(`no Envoy found (\`envoywasm envoy which\`): ${r.stderr.trim()}; install one with \`envoywasm envoy install\``);
  const found = JSON.parse(r.stdout);
  return { path: found.path, version: found.version, source: found.source };
}

async function main() {
  const args = parse();
  if (!existsSync(path.join(REPO, "dist", "cli.js"))) {
    process.stderr.write("error: dist/ is missing: run `npm run build` first\n");
    return 1;
  }
  const mode = args.smoke ? "smoke" : args.quick ? "quick" : "full";
  const t0 = performance.now();
  const root = mkdtempSync(path.join(os.tmpdir(), "envoywasm-bench-"));
  const ctx = {
    root,
    mode,
    reps: REPS[mode],
    projects: [],
    progress: (text) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${text}\n`),
    // A --base-id for the hand-started Envoys outside the range `up` derives (1000–61000).
    baseId: 2_000_000 + Math.floor(Math.random() * 1_000_000),
  };
  let cleaned = false;
  const cleanUp = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const p of ctx.projects.filter((x) => x.up)) await cli(ctx, ["down"], p.dir, { allowFail: true }).catch(() => {});
    await stopAllGroups();
    rmSync(root, { recursive: true, force: true });
  };
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ]) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping what the suite started\n`);
      cleanUp().finally(() => process.exit(code));
    });
  }

  try {
    const envoy = findEnvoy();
    ctx.envoy = envoy;
    ctx.env = {
      ...process.env,
      NO_COLOR: "1",
      ENVOYWASM_HOME: path.join(root, "envoywasm-home"),
      PATH: `${path.dirname(envoy.path)}${path.delimiter}${process.env.PATH ?? ""}`,
    };
    ctx.progress(`${mode} run in ${root}; Envoy ${envoy.version} (${envoy.path})`);
    const results = {
      suite: "envoywasm bench",
      mode,
      startedAt: new Date().toISOString(),
      machine: machine(),
      versions: await versions(ctx),
      envoyPath: envoy.path,
      repetitions: ctx.reps,
      figures: [],
    };
    // A smoke run measures the data path for one template: the others run the same code with another plugin.
    const inSmoke = (name) => mode !== "smoke" || args.only !== undefined || !SMOKE_SKIPS.includes(name);
    const groups = Object.entries(GROUPS).filter(([name]) => (args.only === undefined || args.only.includes(name)) && inSmoke(name));
    if (mode === "smoke" && args.only === undefined) ctx.progress(`smoke: skipping ${SMOKE_SKIPS.join(", ")} (the data path is measured for one template)`);
    for (const [name, group] of groups) {
      ctx.progress(`${name} (figure ${group.figures}): a new ${group.template} project`);
      const project = await initProject(ctx, `p-${name}`, group.template, group.toolchain === undefined ? [] : ["--toolchain", group.toolchain]);
      await cli(ctx, ["build"], project.dir);
      results.figures.push(...(await group.run(ctx, project)));
    }
    results.durationS = Math.round((performance.now() - t0) / 1000);
    mkdirSync(args.out, { recursive: true });
    writeFileSync(path.join(args.out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    const table = markdown(results);
    writeFileSync(path.join(args.out, "results.md"), table);
    process.stdout.write(table);
    const missed = results.figures.filter((f) => f.met === false).map((f) => f.id);
    ctx.progress(
      `done in ${results.durationS} s; ${missed.length === 0 ? "every goal met" : `goals missed: ${missed.join(", ")}`}; wrote ${path.join(args.out, "results.json")} and results.md`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`\nbench: a measurement failed: ${error instanceof MeasureError ? error.message : (error?.stack ?? String(error))}\n`);
    return 1;
  } finally {
    await cleanUp();
  }
}

process.exitCode = await main();
