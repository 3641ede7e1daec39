import { build } from "../commands/build.js";
import { ui } from "../ui/output.js";
import { startProgress } from "../ui/progress.js";
import { warnLegacy } from "./project.js";

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export async function runBuild(opts: { force?: boolean; json?: boolean; quiet?: boolean }, globals: { cwd: string }): Promise<void> {
  // The project is found (or its absence reported) before any progress is shown.
  const project = await warnLegacy(globals.cwd);
  const progress = ui.json ? undefined : await startProgress("building");
  try {
    const result = await build({
      cwd: globals.cwd,
      project,
      force: opts.force === true,
      onPhase: (phase) => progress?.update(phase),
      onCompilerOutput: (text) => {
        progress?.stop();
        process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
      },
    });
    if (opts.json === true) {
      progress?.stop();
      ui.resultJson({
        plugins: result.plugins.map((p) => ({ dir: p.dir, wasm: p.wasm, bytes: p.bytes, sha256: p.sha256, ms: p.ms, upToDate: p.upToDate })),
        ms: result.ms,
      });
      return;
    }
    const lines = result.plugins.map((p) => {
      const what = `${p.wasmRelative} (${formatBytes(p.bytes)}, sha256 ${p.sha256.slice(0, 12)})`;
      return p.upToDate ? `${what} is up to date` : `built ${what} in ${formatMs(p.ms)}`;
    });
    const allUpToDate = result.plugins.every((p) => p.upToDate);
    progress?.succeed(lines.join("\n  ") + (allUpToDate ? ` (${formatMs(result.ms)}); --force rebuilds` : ""));
    for (const p of result.plugins) {
      for (const w of p.warnings) ui.warn(w);
      if (!p.upToDate) ui.debug(`${p.dir}: checked exports (ABI ${p.abiVersion ?? "?"}) and imports against Envoy ${p.checkedAgainst ?? "?"}`);
      if (opts.quiet !== true) ui.result(p.wasm);
    }
  } catch (error) {
    progress?.fail();
    throw error;
  }
}
