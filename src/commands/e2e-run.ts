import { writeFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { caseFailure, junitXml, resultJson } from "../run/e2e/report.js";
import { runE2e } from "../run/e2e/runner.js";
import { ui } from "../ui/output.js";

export interface E2eFlags {
  /** Only the cases this selects: a name (or part of one), a file's name, or a `*` glob. */
  case?: string;
  /** Write the results as JUnit XML to this file. */
  junit?: string;
  json?: boolean;
  envoy?: string;
}

/**
 * The e2e/*.yaml cases of `envoywasm test`, against a real Envoy: a line per
 * case on stderr as it ends, each failure told whole and the closing count on
 * stdout (or the results as JSON), JUnit XML when asked. Exit 1 when a case failed.
 */
export async function runE2eCommand(opts: E2eFlags, globals: { cwd: string }): Promise<{ passed: number; failed: number }> {
  const result = await runE2e({
    cwd: globals.cwd,
    cases: opts.case,
    envoy: opts.envoy,
    onPhase: (p) => ui.info(ui.paint("gray", `• ${p}`)),
    onCase: (r) => ui.info(`${r.ok ? ui.paint("green", "✔") : ui.paint("red", "✘")} ${r.file}: ${r.name} ${ui.paint("gray", `(${r.ms} ms)`)}`),
  });
  if (opts.junit !== undefined) {
    const file = path.resolve(globals.cwd, opts.junit);
    await writeFile(file, junitXml(result));
    ui.info(ui.paint("gray", `• JUnit results: ${path.relative(globals.cwd, file) || file}`));
  }
  if (opts.json === true) ui.resultJson(resultJson(result));
  else {
    for (const r of result.cases.filter((c) => !c.ok)) {
      ui.result(`${ui.paintOut("red", "FAIL")} ${r.file}:${r.line}: ${r.name}`);
      ui.result(caseFailure(r).join("\n"));
      ui.result("");
    }
    ui.result(`e2e: ${result.passed} passed, ${result.failed} failed`);
  }
  if (result.failed > 0) {
    throw new UserError(`${result.failed} of ${result.cases.length} e2e case${result.cases.length === 1 ? "" : "s"} failed`, {
      hint: "each failure above shows its request as curl; `envoywasm up` runs the project to try it by hand",
    });
  }
  return { passed: result.passed, failed: result.failed };
}
