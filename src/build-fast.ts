import path from "node:path";
import { reportBuild } from "./cli/build-report.js";
import { changedFiles, readNoop, type NoopRecord } from "./commands/build-noop.js";
import { startEarlyCompile, type Compile, type Handoff } from "./lib/compile.js";
import { PACKAGE_VERSION } from "./lib/package-root.js";
import { ui } from "./ui/output.js";

export { flushed } from "./ui/write.js";

/**
 * `envoywasm build [--force] [--json]` before the CLI loads, from the last
 * good build's record (commands/build-noop.ts). Nothing changed: answered
 * here (the exit code). Only plugin sources changed, or --force: the changed
 * plugins' compiles are started here and handed to the CLI, which adopts or
 * discards them. Anything else: undefined, the full path.
 */
export async function fastBuild(args: readonly string[]): Promise<number | Handoff | undefined> {
  const flags = new Set(args.slice(1));
  if (args[0] !== "build" || flags.size !== args.length - 1 || ![...flags].every((f) => f === "--json" || f === "--force" || f === "-f")) return undefined;
  const json = flags.has("--json");
  const force = flags.has("--force") || flags.has("-f");
  const started = performance.now();
  const since = await sinceLastBuild();
  if (since === undefined) return undefined;
  if (since.changed.size === 0 && !force) {
    ui.configure({ json });
    const ms = Math.round(performance.now() - started);
    reportBuild(
      since.record.plugins.map((p) => ({ ...p, ms, upToDate: true, warnings: [] })),
      ms,
      { json },
    );
    return 0;
  }
  return startChanged(since, force);
}

/**
 * `envoywasm up …` in the project's folder: when only plugin sources changed
 * since the last good build, their compiles start here, before the CLI
 * loads, and `up`'s build adopts or discards them as `build`'s does.
 */
export async function earlyUp(args: readonly string[]): Promise<Handoff | undefined> {
  if (args[0] !== "up" || args.some((a) => a === "-C" || a.startsWith("--cwd") || a === "-h" || a === "--help")) return undefined;
  const since = await sinceLastBuild();
  return since === undefined || since.changed.size === 0 ? undefined : startChanged(since, false);
}

interface SinceLastBuild {
  record: NoopRecord;
  /** The recorded files changed or gone since. */
  changed: Set<string>;
}

/** The last good build's record of this folder's project, and what changed since. */
async function sinceLastBuild(): Promise<SinceLastBuild | undefined> {
  const record = await readNoop(process.cwd(), PACKAGE_VERSION).catch(() => undefined);
  return record === undefined ? undefined : { record, changed: await changedFiles(record) };
}

/**
 * Starts the recorded compile of each plugin whose folder changed (of every
 * plugin, with `force`); undefined when a change rules that out (envoywasm.yaml,
 * envoy.yaml, go.mod, go.sum: the full path).
 */
async function startChanged({ record, changed }: SinceLastBuild, force: boolean): Promise<Handoff | undefined> {
  if (record.shape.some((file) => changed.has(file))) return undefined;
  const touched = (cwd: string) => [...changed].some((file) => file === cwd || file.startsWith(cwd + path.sep));
  const early: Compile[] = [];
  for (const compile of record.compiles) {
    if (!force && !touched(compile.cwd)) continue;
    const running = await startEarlyCompile(compile);
    if (running !== undefined) early.push(running);
  }
  return { early };
}
