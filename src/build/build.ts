import { type EnvoyBootstrap } from "../envoy/bootstrap.js";
import { type Project } from "../project/config.js";

export interface BuildOptions {
  cwd: string;
  force?: boolean;
  project?: Project;
  bootstrap?: EnvoyBootstrap;
  /** Told each phase as it starts ("fetching modules", "compiling", "checking"). */
  onPhase?: (phase: string) => void;
  /** Told the compiler's output (paths made relative to the project) when it fails. */
  onCompilerOutput?: (text: string) => void | Promise<void>;
  /** Told what a 0.1.0 project file still holds that envoy.yaml holds now (when this build reads it). */
  onLegacy?: (warning: string) => void;
  /** Check imports against this Envoy version instead of the pinned or newest one. */
  envoyVersion?: string;
}

export interface PluginBuildResult {
  /** The plugin's source folder, as envoywasm.yaml lists it. */
  dir: string;
  wasm: string;
  /** The module's path relative to the project root. */
  wasmRelative: string;
  bytes: number;
  sha256: string;
  ms: number;
  upToDate: boolean;
  checkedAgainst?: string;
  abiVersion?: string;
  warnings: string[];
}

export interface BuildResult {
  plugins: PluginBuildResult[];
  toolchain: string;
  ms: number;
}

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
    const { upToDateByLayout } = await import("./up-to-date.js");
    const unchanged = await upToDateByLayout(options.cwd, started);
    if (unchanged !== undefined) return unchanged;
  }
  const { buildAll } = await import("./build-all.js");
  return buildAll(options, started);
}

