import { readFile } from "node:fs/promises";
import path from "node:path";
import { failurePolicyIn, readEnvoyConfig, type FailurePolicy } from "../lib/envoy-config.js";
import { loadProject } from "../lib/project-config.js";
import { parseStampedLine } from "../run/log-format.js";
import { TrapWatcher, type PluginTrap } from "../run/plugin-watch.js";
import { projectPaths } from "../lib/paths.js";
import { canConnect } from "../run/ports.js";
import { envoyState } from "../run/probes.js";
import { readState, serviceAlive, supervisorAlive, type RunState } from "../run/state.js";

export interface ServiceStatus {
  name: string;
  pid: number;
  port: number;
  running: boolean;
  /** envoy: the admin /ready state (LIVE, INITIALIZING, …); backend: "accepting" or "not answering". */
  health: string;
  uptimeSeconds: number;
}

export interface StatusResult {
  running: boolean;
  mode?: RunState["mode"];
  supervisorPid?: number;
  startedAt?: string;
  envoyVersion?: string;
  /** State left by a run whose supervisor is gone. */
  stale: boolean;
  services: ServiceStatus[];
  /** Traps (Go panics) the plugin hit in this run, from Envoy's log; each killed a VM. */
  pluginTraps: (PluginTrap & { at: string })[];
}

export async function status(options: { cwd: string }): Promise<StatusResult> {
  const project = await loadProject(options.cwd);
  const paths = projectPaths(project);
  const state = await readState(paths.runState);
  if (state === undefined) return { running: false, stale: false, services: [], pluginTraps: [] };
  const uptime = Math.max(0, Math.round((Date.now() - Date.parse(state.startedAt)) / 1000));
  const services: ServiceStatus[] = [];
  for (const s of state.services) {
    const running = serviceAlive(s);
    let health = "stopped";
    if (running && s.name === "envoy") health = (await envoyState(state.ports.admin)) ?? "admin not answering";
    else if (running) health = (await canConnect(s.port)) ? "accepting connections" : "not answering";
    services.push({ name: s.name, pid: s.pid, port: s.port, running, health, uptimeSeconds: uptime });
  }
  const alive = supervisorAlive(state);
  return {
    running: alive,
    mode: state.mode,
    supervisorPid: state.supervisorPid,
    startedAt: state.startedAt,
    envoyVersion: state.envoy.version,
    stale: !alive,
    services,
    pluginTraps: await trapsInLog(
      path.join(paths.logs, "envoy.log"),
      project.root,
      failurePolicyIn(await readEnvoyConfig(paths.envoyConfig)),
    ),
  };
}

async function trapsInLog(file: string, root: string, policy: FailurePolicy): Promise<(PluginTrap & { at: string })[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  const traps: (PluginTrap & { at: string })[] = [];
  let at = "";
  const watcher = new TrapWatcher(root, (trap) => traps.push({ ...trap, at }), policy);
  for (const raw of text.split("\n")) {
    const entry = parseStampedLine(raw);
    if (entry === undefined) continue;
    at = new Date(entry.at).toISOString();
    watcher.feed("envoy", entry.line);
  }
  watcher.flush();
  return traps;
}
