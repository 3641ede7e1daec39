import type { BuildResult, PluginBuildResult } from "./result.js";
import path from "node:path";
import { buildKey, readLayout, readStamp, stampMatches, type BuildStamp } from "./stamp.js";
import { buildStampFile } from "../project/paths.js";
import { type PluginTarget } from "./plugins.js";
import { findProjectRoot } from "../project/root.js";
import { PACKAGE_VERSION } from "../platform/package-root.js";
import { buildEnv } from "./toolchain-identity.js";
import { toolchainNamed, type ToolchainAdapter, type ToolchainInfo } from "./toolchains.js";

/** The result of a build with nothing to do, when the last good build's layout still holds; else undefined. */
export async function upToDateByLayout(cwd: string, started: number): Promise<BuildResult | undefined> {
  const root = findProjectRoot(cwd);
  const layout = root === undefined ? undefined : await readLayout(root, PACKAGE_VERSION);
  const toolchain = layout === undefined ? undefined : toolchainNamed(layout.toolchain);
  if (root === undefined || layout === undefined || toolchain === undefined) return undefined;
  const info = await toolchain.detect(layout.plugins[0]?.absDir).catch(() => undefined);
  if (info === undefined) return undefined;
  const plugins: PluginBuildResult[] = [];
  for (const plugin of layout.plugins) {
    // A plugin folder that cannot be read (moved, renamed) is for the full path to name.
    const current = await currentModule(root, plugin, toolchain, info).catch(() => undefined);
    if (current?.stamp === undefined) return undefined;
    plugins.push(upToDateResult(plugin, current.stamp, started));
  }
  return { plugins, toolchain: info.version, ms: Math.round(performance.now() - started) };
}

export type LaidOutPlugin = Pick<PluginTarget, "dir" | "absDir" | "moduleDir" | "wasm" | "wasmRelative" | "wasmAbs" | "flags">;

/** The plugin's build key now, and its stamp when that still describes its module (the one up-to-date decision). */
export async function currentModule(
  root: string,
  plugin: LaidOutPlugin,
  toolchain: ToolchainAdapter,
  info: ToolchainInfo,
): Promise<{ key: string; stampFile: string; stamp?: BuildStamp & { sha256: string }; modulesKey?: string }> {
  const stampFile = buildStampFile(root, plugin.dir);
  const spec = toolchain.buildCommand(path.relative(plugin.absDir, plugin.wasmAbs), plugin.absDir, plugin.flags);
  const key = await buildKey({
    pluginDir: plugin.moduleDir,
    toolchainVersion: info.version,
    argv: [spec.file, ...spec.args, ...Object.entries(spec.env).flat()],
    env: buildEnv(),
  });
  const stamp = await readStamp(stampFile);
  const current = stamp?.sha256 !== undefined && (await stampMatches(stamp, key, plugin.wasmAbs));
  return current ? { key, stampFile, stamp: stamp as BuildStamp & { sha256: string } } : { key, stampFile, modulesKey: stamp?.modulesKey };
}

export function upToDateResult(plugin: LaidOutPlugin, stamp: BuildStamp & { sha256: string }, started: number): PluginBuildResult {
  return {
    dir: plugin.dir,
    wasm: plugin.wasmAbs,
    wasmRelative: plugin.wasmRelative,
    bytes: stamp.bytes,
    sha256: stamp.sha256,
    ms: Math.round(performance.now() - started),
    upToDate: true,
    warnings: [],
  };
}
