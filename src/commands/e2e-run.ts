import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { UsageError, UserError } from "../errors.js";
import type { PullPolicy } from "../platform/docker.js";
import { caseFailure, junitXml, resultJson, runLabel } from "../run/e2e/report.js";
import { runE2eVersions, type E2eRuns } from "../run/e2e/versions.js";
import { ui } from "../ui/output.js";

export interface E2eFlags {
  /** Only the cases this selects: a name (or part of one), a file's name, or a `*` glob. */
  case?: string;
  /** Write the results as JUnit XML to this file. */
  junit?: string;
  json?: boolean;
  /** Envoy versions or binaries, comma-separated: the cases run on each. */
  envoy?: string;
  docker?: boolean;
  envoyImage?: string;
  pull?: PullPolicy;
}

/**
 * The e2e/*.yaml cases of `envoywasm test`, against a real Envoy (or one after
 * another, --envoy 1.36.2,1.40.0): a line per case on stderr as it ends, each
 * failure told whole and the closing count on stdout (a count per Envoy with
 * several), or the results as JSON; JUnit XML when asked. Exit 1 when a case failed.
 */
export async function runE2eCommand(opts: E2eFlags, globals: { cwd: string }): Promise<{ passed: number; failed: number }> {
  const junit = opts.junit === undefined ? undefined : await junitTarget(opts.junit, globals.cwd);
  const result = await runE2eVersions({
    cwd: globals.cwd,
    cases: opts.case,
    envoy: opts.envoy,
    docker: opts.docker,
    envoyImage: opts.envoyImage,
    pull: opts.pull,
    onPhase: (p) => ui.info(ui.paint("gray", `• ${p}`)),
    onEnvoy: (e) => ui.info(ui.paint("bold", `Envoy ${e}`)),
    onCase: (r) => ui.info(`${r.ok ? ui.paint("green", "✔") : ui.paint("red", "✘")} ${r.file}: ${r.name} ${ui.paint("gray", `(${r.ms} ms)`)}`),
  });
  if (junit !== undefined) {
    try {
      await mkdir(path.dirname(junit.file), { recursive: true });
      await writeFile(junit.file, junitXml(result));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new UserError(`could not write the JUnit results to ${junit.given} (${code})`, { hint: "give --junit a file in a folder you can write to" });
    }
    ui.info(ui.paint("gray", `• JUnit results: ${path.relative(globals.cwd, junit.file) || junit.file}`));
  }
  const several = result.runs.length > 1;
  if (opts.json === true) ui.resultJson(resultJson(result));
  else {
    for (const run of result.runs) {
      const tag = several ? `[${runLabel(run)}] ` : "";
      if (run.error !== undefined) {
        ui.result(`${ui.paintOut("red", "FAIL")} ${tag}the cases did not run:`);
        ui.result([...run.error.message.split("\n"), ...(run.error.hint === undefined ? [] : [`hint: ${run.error.hint}`])].map((l) => `  ${l}`).join("\n"));
        ui.result("");
      }
      for (const r of run.cases.filter((c) => !c.ok)) {
        ui.result(`${ui.paintOut("red", "FAIL")} ${tag}${r.file}:${r.line}: ${r.name}`);
        ui.result(caseFailure(r).join("\n"));
        ui.result("");
      }
    }
    for (const run of result.runs) {
      const name = several ? `e2e (${runLabel(run)})` : "e2e";
      ui.result(
        run.error === undefined
          ? `${name}: ${run.passed} passed, ${run.failed} failed`
          : `${name}: did not run: ${run.error.message.split("\n")[0]!.replace(/:$/, "")}`,
      );
    }
  }
  const failed = result.failed > 0 || result.runs.some((r) => r.error !== undefined);
  // Under --json the results are the answer: one JSON document on stdout, and the exit code says they failed (as doctor does).
  if (failed && opts.json === true) process.exitCode = 1;
  else if (failed) throw failure(result);
  return { passed: result.passed, failed: result.failed };
}

function failure(result: E2eRuns): UserError {
  const hint = "each failure above shows its request as curl; `envoywasm up` runs the project to try it by hand";
  const [only] = result.runs;
  if (result.runs.length === 1 && only !== undefined) {
    return new UserError(`${only.failed} of ${only.cases.length} e2e case${only.cases.length === 1 ? "" : "s"} failed`, { hint });
  }
  const parts = result.runs
    .filter((r) => r.failed > 0 || r.error !== undefined)
    .map((r) => (r.error === undefined ? `${r.failed} of ${r.cases.length} failed on ${runLabel(r)}` : `${runLabel(r)} could not run them`));
  const broken = result.runs.find((r) => r.error !== undefined);
  return new UserError(`e2e cases: ${parts.join("; ")}`, { hint: broken?.error?.hint ?? hint });
}

/** Where --junit writes, checked before any case runs: a folder there is a wrong command line. */
async function junitTarget(given: string, cwd: string): Promise<{ file: string; given: string }> {
  const file = path.resolve(cwd, given);
  if ((await stat(file).catch(() => undefined))?.isDirectory() === true) {
    throw new UsageError(`--junit ${given} is a folder: give the file to write, e.g. --junit ${path.join(given, "e2e.xml")}`);
  }
  return { file, given };
}
