import type { FailurePolicy } from "../envoy/bootstrap.js";

/**
 * Everything a supervisor needs to run a project, decided up front by `up`
 * (after its checks) and handed over whole: to the in-process supervisor, or
 * as JSON to the background one of `up -d`. What to run is said the same way
 * for both runtimes; the runtime decides how (a process, or a container).
 */
export interface ServicePlan {
  name: string;
  /** The program, its arguments, folder and environment, as the runtime sees them (container paths in Docker). */
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Ports it serves on 127.0.0.1 (published on the host's loopback in Docker). */
  ports: number[];
  ready: { kind: "http"; port: number } | { kind: "envoy-admin"; port: number };
}

export interface Mount {
  host: string;
  container: string;
  readOnly: boolean;
}

export type RuntimePlan =
  | { kind: "native" }
  | {
      kind: "docker";
      image: string;
      /** Bind mounts, the same for every container of the run. */
      mounts: Mount[];
      /** Ports published on the host's 127.0.0.1 (or all interfaces with --expose). */
      publish: number[];
      publishAddress: string;
      /** A static binary (host path) that holds the shared network namespace, as a pod's pause container does. */
      pauseBinary: string;
      /** The user ("uid:gid") every container runs as: the one who ran envoywasm. */
      user: string;
      /** That user's other groups, so group-readable files stay readable. */
      groups: number[];
    };

/** An HTTP Wasm filter loaded through ECDS, and the version the run expects it to serve. */
export interface EcdsPlan {
  name: string;
  file: string;
  version: string;
  plugin?: string;
  sha256?: string;
}

export interface RunPlan {
  /** Unique per run: in the lock, the state, container labels. */
  runId: string;
  root: string;
  name: string;
  logsDir: string;
  stateFile: string;
  lastRunFile: string;
  lockFile: string;
  /** The supervisor's control socket (reload, status). */
  controlSocket: string;
  runtime: RuntimePlan;
  /** The user's envoy.yaml (host path), to point at its lines when explaining a failure. */
  envoyConfig?: string;
  services: ServicePlan[];
  envoy: { version: string; path?: string; image?: string };
  admin: number;
  listeners: { name: string; port: number }[];
  ecds: EcdsPlan[];
  /** The modules serving, by plugin folder. */
  modules: { plugin: string; wasm: string; sha256: string }[];
  /** What Envoy does when the plugin traps (from envoy.yaml), for explaining it. */
  failurePolicy: FailurePolicy;
  readyTimeoutMs: number;
  graceMs: number;
  /** Whether the supervisor watches sources and reloads (up --watch). */
  watch: boolean;
  /**
   * What the run watches once it is ready, decided by `up` (which has read
   * the project): the supervisor itself never parses YAML unless it reloads.
   */
  live: {
    /** The sources `--watch` reloads on: plugin and backend folders, envoy.yaml, envoywasm.yaml. */
    sources: { dirs: string[]; files: string[] };
    /** Each plugin's built module, to say when it is rebuilt under a run that does not watch. */
    builtModules: { plugin: string; file: string }[];
    /** sha256 of the derived envoy.yaml Envoy started with (a reload that changes it restarts Envoy). */
    skeletonHash: string;
  };
}

/** A plan read back from JSON (the background supervisor's): shape-checked, never trusted blindly. */
export function isRunPlan(value: unknown): value is RunPlan {
  const v = value as RunPlan;
  return (
    v !== null &&
    typeof v === "object" &&
    typeof v.runId === "string" &&
    typeof v.root === "string" &&
    typeof v.logsDir === "string" &&
    typeof v.stateFile === "string" &&
    typeof v.lockFile === "string" &&
    typeof v.controlSocket === "string" &&
    Array.isArray(v.services) &&
    v.services.every((s) => typeof s?.name === "string" && typeof s.file === "string" && Array.isArray(s.args) && typeof s.ready?.port === "number") &&
    (v.runtime?.kind === "native" || v.runtime?.kind === "docker") &&
    typeof v.admin === "number" &&
    Array.isArray(v.ecds) &&
    Array.isArray(v.live?.sources?.dirs) &&
    Array.isArray(v.live.builtModules) &&
    typeof v.live.skeletonHash === "string"
  );
}
