// The CLI under test and the throwaway projects it runs on.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "./net.mjs";
import { MeasureError, timed } from "./proc.mjs";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = path.join(REPO, "bin", "envoywasm.js");

/** Runs `envoywasm <args>` (timed) in cwd with the suite's environment; a failure is a MeasureError. */
export function cli(ctx, args, cwd, options = {}) {
  return timed(process.execPath, [CLI, ...args], { cwd, env: ctx.env, label: `envoywasm ${args.join(" ")}`, ...options });
}

/** `envoywasm init` of a template on ports from the OS, in the suite's temp folder (`extra`: more init flags, e.g. --toolchain). */
export async function initProject(ctx, name, template, extra = []) {
  const [listener, admin, backend] = await freePorts(3);
  const args = [
    "init",
    name,
    "--template",
    template,
    "--listener-port",
    String(listener),
    "--admin-port",
    String(admin),
    "--backend-port",
    String(backend),
    "--yes",
    ...extra,
  ];
  await cli(ctx, args, ctx.root);
  const dir = path.join(ctx.root, name);
  const project = { name, template, dir, ports: { listener, admin, backend }, up: false };
  ctx.projects.push(project);
  return project;
}

/** `envoywasm up -d`, remembered so the suite's clean-up stops it. */
export async function upDetached(ctx, project) {
  project.up = true;
  return cli(ctx, ["up", "-d"], project.dir);
}

export async function down(ctx, project) {
  const r = await cli(ctx, ["down"], project.dir);
  project.up = false;
  return r;
}

/** Replaces text in a project file; the text must be there. */
export function edit(file, from, to) {
  const text = readFileSync(file, "utf8");
  const next = text.replace(from, to);
  if (next === text) throw new MeasureError(`${file}: ${String(from)} not found (did the template change?)`);
  writeFileSync(file, next);
}

/**
 * A one-line change to the plugin that changes what it compiles to (a new
 * default value), so Go recompiles and relinks: an mtime-only touch is a Go
 * build-cache hit and measures no compile at all.
 */
export function changePlugin(project, n) {
  const file = path.join(project.dir, "plugin", "main.go");
  edit(file, /(defaultValue\s*=\s*"[^"]*?)(?: #\d+)?"/, `$1 #${n}"`);
}

export function readState(project) {
  try {
    return JSON.parse(readFileSync(path.join(project.dir, ".envoywasm", "state.json"), "utf8"));
  } catch {
    return undefined;
  }
}

/** Resident memory of a process in MiB (/proc/<pid>/status VmRSS; `RssAnon`: only its own, not the pages of files it maps, such as the node binary's code). */
export function rssMiB(pid, field = "VmRSS") {
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kb === undefined) throw new MeasureError(`no ${field} for pid ${pid}`);
  return Number(kb) / 1024;
}

const GO_BUILD = (out) => ["build", "-buildmode=c-shared", "-o", out, "."];
const goBuildOptions = (ctx, project) => ({ cwd: path.join(project.dir, "plugin"), env: { ...ctx.env, GOOS: "wasip1", GOARCH: "wasm" } });

/** The Go build envoywasm runs for a go plugin, run by hand. */
export function goBuild(ctx, project, out) {
  return timed("go", GO_BUILD(out), { ...goBuildOptions(ctx, project), label: "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared" });
}

/** The same Go build run by the least a Node CLI can do: Node starts, runs it at once and ends with it. */
export function goBuildFromNode(ctx, project, out) {
  const script = `process.exitCode = require("node:child_process").spawnSync("go", ${JSON.stringify(GO_BUILD(out))}, { stdio: "inherit" }).status ?? 1`;
  return timed(process.execPath, ["-e", script], { ...goBuildOptions(ctx, project), label: "node -e 'spawnSync(go build …)'" });
}

export function wasmPath(project) {
  return path.join(project.dir, "build", `${project.name}.wasm`);
}
