import type { PluginBuildResult } from "./build.js";
import { ui } from "../ui/output.js";

/**
 * How `envoywasm build` reports its modules: shared by the full command and
 * its no-op fast path (build-fast.ts), so both say the same thing.
 */

export type ReportedPlugin = PluginBuildResult;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Prints the result: JSON on stdout, or a line per module on stderr and each module's path on stdout. */
export function reportBuild(
  plugins: ReportedPlugin[],
  ms: number,
  opts: { json?: boolean; quiet?: boolean },
  succeed: (line: string) => void = (l) => ui.success(l),
): void {
  if (opts.json === true) {
    ui.resultJson({ plugins: plugins.map((p) => ({ dir: p.dir, wasm: p.wasm, bytes: p.bytes, sha256: p.sha256, ms: p.ms, upToDate: p.upToDate })), ms });
    return;
  }
  const lines = plugins.map((p) => {
    const what = `${p.wasmRelative} (${formatBytes(p.bytes)}, sha256 ${p.sha256.slice(0, 12)})`;
    return p.upToDate ? `${what} is up to date` : `built ${what} in ${formatMs(p.ms)}`;
  });
  const allUpToDate = plugins.every((p) => p.upToDate);
  succeed(lines.join("\n  ") + (allUpToDate ? ` (${formatMs(ms)}); --force rebuilds` : ""));
  for (const p of plugins) {
    for (const w of p.warnings) ui.warn(w);
    if (!p.upToDate) ui.debug(`${p.dir}: checked exports (ABI ${p.abiVersion ?? "?"}) and imports against Envoy ${p.checkedAgainst ?? "?"}`);
    if (opts.quiet !== true) ui.result(p.wasm);
  }
}
