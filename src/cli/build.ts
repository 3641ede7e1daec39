import { build } from "../commands/build.js";
import { ui } from "../ui/output.js";
import { startProgress } from "../ui/progress.js";

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export async function runBuild(opts: { force?: boolean; json?: boolean; quiet?: boolean }, globals: { cwd: string }): Promise<void> {
  const progress = ui.json ? undefined : await startProgress("building the plugin");
  try {
    const result = await build({
      cwd: globals.cwd,
      force: opts.force === true,
      onPhase: (phase) => progress?.update(phase),
      onCompilerOutput: (text) => {
        progress?.stop();
        process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
      },
    });
    if (opts.json === true) {
      progress?.stop();
      ui.resultJson({ wasm: result.wasm, bytes: result.bytes, ms: result.ms, upToDate: result.upToDate });
      return;
    }
    const what = `${result.wasmRelative} (${formatBytes(result.bytes)})`;
    if (result.upToDate) progress?.succeed(`${what} is up to date (${formatMs(result.ms)}); --force rebuilds`);
    else progress?.succeed(`built ${what} in ${formatMs(result.ms)}`);
    for (const w of result.warnings) ui.warn(w);
    if (!result.upToDate) ui.debug(`checked exports (ABI ${result.abiVersion ?? "?"}) and imports against Envoy ${result.checkedAgainst ?? "?"}`);
    if (opts.quiet !== true) ui.result(result.wasm);
  } catch (error) {
    progress?.fail();
    throw error;
  }
}
