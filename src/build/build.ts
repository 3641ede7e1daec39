import type { BuildOptions, BuildResult } from "./result.js";
import { upToDateByLayout } from "./up-to-date.js";

export type { BuildOptions, BuildResult, PluginBuildResult } from "./result.js";

/**
 * Builds every plugin folder whose output is stale, each to the module path
 * envoy.yaml loads, checking each module as Envoy will load it. A plugin is
 * up to date when its stamp's key (a hash of its sources, the toolchain, the
 * command and the environment that steers it) is the same and its module is
 * the one the stamp describes; while envoywasm.yaml and envoy.yaml are the
 * files the last good build read, that is decided without parsing them.
 */
export async function build(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  if (options.force !== true && options.project === undefined) {
    const unchanged = await upToDateByLayout(options.cwd, started);
    if (unchanged !== undefined) return unchanged;
  }
  const { buildAll } = await import("./build-all.js");
  return buildAll(options, started);
}
