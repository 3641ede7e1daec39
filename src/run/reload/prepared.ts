import type { EcdsResource } from "../../envoy/derive.js";
import type { ProjectPaths } from "../../project/paths.js";
import type { EcdsPlan } from "../plan.js";

/**
 * A reload's first half as plain data, passed from the CLI process that
 * prepared it (reload-prepare.ts) to the supervisor that applies it
 * (reload.ts). Nothing here loads the build.
 */

export interface ReloadTarget {
  /** The run's runtime is Docker (paths as the container sees them, a Linux backend). */
  docker: boolean;
  /** The running Envoy's version, to check the module's imports against. */
  envoyVersion: string;
  /** The run has a backend service. */
  backend: boolean;
}

export type PreparedReload = PreparedChange | PreparedFailure;

export interface PreparedFailure {
  ok: false;
  /** The first line says what failed. */
  message: string;
  hint?: string;
  /** The build failed (the previous modules keep serving). */
  build?: true;
  /** The compiler's messages, for the run's `build` log. */
  compilerOutput?: string;
}

export interface PreparedChange {
  ok: true;
  plugins: { dir: string; wasmRelative: string; sha256: string; upToDate: boolean; warnings: string[] }[];
  buildMs: number;
  backend?: { upToDate: boolean; ms: number; port: number };
  derived: { text: string; skeletonHash: string; resources: Pick<EcdsResource, "name" | "file" | "dir" | "text" | "version">[] };
  ecds: EcdsPlan[];
  /** The module copies the derived config uses. */
  modules: string[];
  envoy: { ports: number[]; admin?: number; listeners: { name: string; port: number }[]; display: string };
  paths: Pick<ProjectPaths, "run" | "modules">;
}

/** A prepared reload read back from JSON (from another process): shape-checked. */
export function isPreparedReload(value: unknown): value is PreparedReload {
  const v = value as PreparedReload;
  if (v === null || typeof v !== "object" || typeof v.ok !== "boolean") return false;
  if (!v.ok) return typeof v.message === "string";
  return (
    Array.isArray(v.plugins) &&
    typeof v.derived?.skeletonHash === "string" &&
    Array.isArray(v.derived.resources) &&
    Array.isArray(v.ecds) &&
    Array.isArray(v.modules) &&
    Array.isArray(v.envoy?.ports) &&
    typeof v.paths?.run === "string" &&
    typeof v.paths.modules === "string"
  );
}
