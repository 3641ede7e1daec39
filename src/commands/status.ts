import path from "node:path";
import { failurePolicyIn, loadBootstrap } from "../envoy/bootstrap.js";
import { loadProject } from "../lib/project-config.js";
import { projectPaths } from "../lib/paths.js";
import { envoyState, httpGet } from "../run/envoy-admin.js";
import { tailEntries } from "../run/log-read.js";
import { TrapWatcher, type PluginTrap } from "../run/plugin-watch.js";
import { liveRun, readLastRun, serviceAlive, type LastRun, type RunState } from "../run/state.js";

export interface ServiceStatus {
  name: string;
  /** The process id, natively. */
  pid?: number;
  /** The container, in Docker. */
  container?: string;
  ports: number[];
  running: boolean;
  /** envoy: the admin /ready state (LIVE, INITIALIZING, …); backend: "answering" or "not answering". */
  health: string;
  uptimeSeconds: number;
}

export interface StatusResult {
  running: boolean;
  runId?: string;
  mode?: RunState["mode"];
  runtime?: RunState["runtime"];
  supervisorPid?: number;
  startedAt?: string;
  envoyVersion?: string;
  envoyImage?: string;
  watch?: boolean;
  admin?: number;
  listeners?: RunState["listeners"];
  services: ServiceStatus[];
  /** The modules serving now, by plugin folder (each module's sha256). */
  modules: RunState["modules"];
  /** What an earlier run left behind, stopped now (its supervisor had died). */
  cleanedUp: string[];
  /** How the last run ended, when nothing runs. */
  lastRun?: LastRun;
  /** Traps (Go panics) the plugin hit in this run, from Envoy's log; each killed a VM. */
  pluginTraps: (PluginTrap & { at: string })[];
}

export async function status(options: { cwd: string; warn?: (message: string) => void }): Promise<StatusResult> {
  const project = await loadProject(options.cwd);
  const paths = projectPaths(project);
  const { state, deadRun, leftovers } = await liveRun(paths, project.root, options.warn);
  const bootstrap = await loadBootstrap(paths.envoyConfig, project.config.envoy.config).catch(() => undefined);
  const traps = await trapsInLog(path.join(paths.logs, "envoy.log"), project.root, failurePolicyIn(bootstrap));
  if (state === undefined) {
    const lastRun = await readLastRun(paths.lastRun, options.warn);
    return { running: false, services: [], modules: [], cleanedUp: leftovers, ...(lastRun === undefined ? {} : { lastRun }), pluginTraps: deadRun || lastRun !== undefined ? traps : [] };
  }
  const uptime = Math.max(0, Math.round((Date.now() - Date.parse(state.startedAt)) / 1000));
  const containers = state.runtime === "docker" ? await dockerStates(project.root) : new Map<string, string>();
  const services: ServiceStatus[] = [];
  for (const s of state.services) {
    const running = s.container !== undefined ? containers.get(s.container.id) === "running" : serviceAlive(s);
    let health = "stopped";
    if (running && s.name === "envoy") health = (await envoyState(state.admin, 3000)) ?? "admin not answering";
    else if (running && s.ports[0] !== undefined) health = (await httpGet(`http://127.0.0.1:${s.ports[0]}/`, 2000)) !== undefined ? "answering" : "not answering";
    else if (running) health = "running";
    services.push({
      name: s.name,
      ...(s.process === undefined ? {} : { pid: s.process.pid }),
      ...(s.container === undefined ? {} : { container: s.container.name }),
      ports: s.ports,
      running,
      health,
      uptimeSeconds: uptime,
    });
  }
  return {
    running: true,
    runId: state.runId,
    mode: state.mode,
    runtime: state.runtime,
    supervisorPid: state.supervisor.pid,
    startedAt: state.startedAt,
    envoyVersion: state.envoy.version,
    ...(state.envoy.image === undefined ? {} : { envoyImage: state.envoy.image }),
    watch: state.watch,
    admin: state.admin,
    listeners: state.listeners,
    services,
    modules: state.modules,
    cleanedUp: [],
    pluginTraps: traps,
  };
}

async function dockerStates(root: string): Promise<Map<string, string>> {
  try {
    const { projectContainers } = await import("../run/docker-runtime.js");
    return new Map((await projectContainers(root)).map((c) => [c.id, c.state]));
  } catch {
    return new Map();
  }
}

/** The plugin's traps in the last part of Envoy's log (never the whole file). */
async function trapsInLog(file: string, root: string, policy: ReturnType<typeof failurePolicyIn>): Promise<(PluginTrap & { at: string })[]> {
  const entries = await tailEntries(file, "envoy", 20_000);
  const traps: (PluginTrap & { at: string })[] = [];
  let at = "";
  const watcher = new TrapWatcher(root, (trap) => traps.push({ ...trap, at }), policy);
  for (const e of entries) {
    at = new Date(e.at).toISOString();
    watcher.feed("envoy", e.line);
  }
  watcher.flush();
  return traps;
}

