import type { FailurePolicy } from "../lib/envoy-config.js";

/**
 * Everything a supervisor needs to start a project's services, decided up
 * front by `up` (after its checks) and handed over whole: to the in-process
 * supervisor, or as JSON to the background one of `up -d`.
 */
export interface ServicePlan {
  name: string;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  port: number;
  ready: { kind: "tcp"; port: number } | { kind: "envoy-admin"; port: number };
  /** A word of its command line that identifies it in /proc (see state.ts). */
  match: string;
}

export interface RunPlan {
  root: string;
  logsDir: string;
  stateFile: string;
  services: ServicePlan[];
  envoy: { path: string; version: string; baseId: number };
  ports: { listener: number; admin: number; backend: number };
  /** What Envoy does when the plugin traps (from envoy.yaml), for explaining it. */
  failurePolicy: FailurePolicy;
  readyTimeoutMs: number;
  graceMs: number;
}
