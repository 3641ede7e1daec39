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
