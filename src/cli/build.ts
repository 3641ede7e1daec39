import { build } from "../commands/build.js";
import type { Compile } from "../lib/compile.js";
import { ui } from "../ui/output.js";
import { startProgress } from "../ui/progress.js";
import { warnLegacy } from "./project.js";
import { reportBuild } from "./build-report.js";

export async function runBuild(opts: { force?: boolean; json?: boolean; quiet?: boolean }, globals: { cwd: string }, early?: Compile[]): Promise<void> {
  // The project is found (or its absence reported) before any progress is shown.
  const project = await warnLegacy(globals.cwd);
  const progress = ui.json ? undefined : await startProgress("building");
  try {
    const result = await build({
      cwd: globals.cwd,
      project,
      force: opts.force === true,
      ...(early === undefined ? {} : { early }),
      onPhase: (phase) => progress?.update(phase),
      onCompilerOutput: (text) => {
        progress?.stop();
        process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
      },
    });
    if (opts.json === true) progress?.stop();
    reportBuild(result.plugins, result.ms, opts, (line) => progress?.succeed(line));
  } catch (error) {
    progress?.fail();
    throw error;
  }
}
