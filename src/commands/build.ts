import { build, type BuildResult } from "../build/build.js";
import { reportBuild } from "../build/report.js";
import { ui } from "../ui/output.js";
import { startProgress, type Progress } from "../ui/progress.js";

export interface BuildFlags {
  force?: boolean;
  json?: boolean;
  /** No module paths on stdout (when another command builds first). */
  quiet?: boolean;
}

/** `envoywasm build`: progress appears only once there is something to compile. */
export async function runBuild(opts: BuildFlags, globals: { cwd: string }): Promise<BuildResult> {
  let progress: Promise<Progress> | undefined;
  const show = (text: string) => {
    if (ui.json) return;
    if (progress === undefined) progress = startProgress(text);
    else void progress.then((p) => p.update(text));
  };
  try {
    const result = await build({
      cwd: globals.cwd,
      force: opts.force === true,
      onPhase: show,
      onLegacy: (warning) => ui.warn(warning),
      onCompilerOutput: async (text) => {
        (await progress)?.stop();
        process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
      },
    });
    const shown = await progress;
    if (opts.json === true) shown?.stop();
    reportBuild(result.plugins, result.ms, opts, shown === undefined ? undefined : (line) => shown.succeed(line));
    return result;
  } catch (error) {
    (await progress)?.fail();
    throw error;
  }
}
