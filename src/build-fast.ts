import { reportBuild } from "./cli/build-report.js";
import { checkNoop } from "./commands/build-noop.js";
import { PACKAGE_VERSION } from "./lib/package-root.js";
import { ui } from "./ui/output.js";

export { flushed } from "./ui/write.js";

/**
 * `envoywasm build` (or `build --json`) when nothing changed since the last
 * good build: answered from the build's own record (commands/build-noop.ts)
 * without loading the CLI. Returns the exit code, or undefined to take the
 * full path (any other arguments, a change, no record).
 */
export async function fastBuild(args: readonly string[]): Promise<number | undefined> {
  const json = args.length === 2 && args[1] === "--json";
  if (args[0] !== "build" || (args.length !== 1 && !json)) return undefined;
  const started = performance.now();
  const plugins = await checkNoop(process.cwd(), PACKAGE_VERSION).catch(() => undefined);
  if (plugins === undefined) return undefined;
  ui.configure({ json });
  const ms = Math.round(performance.now() - started);
  reportBuild(
    plugins.map((p) => ({ ...p, ms, upToDate: true, warnings: [] })),
    ms,
    { json },
  );
  return 0;
}
