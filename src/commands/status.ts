import path from "node:path";
import { failurePolicyIn } from "../envoy/bootstrap.js";
import { loadProject } from "../project/config.js";
import { projectPaths } from "../project/paths.js";
import { envoyState, httpGet } from "../envoy/admin.js";
import { tailEntries } from "../run/logs/read.js";
import { type PluginTrap, describeTrap } from "../run/logs/traps.js";
import { recordsOf } from "../envoy/log-records.js";
import { liveRun, readLastRun, serviceAlive, type LastRun, type RunState } from "../run/supervisor/state.js";
import { describeExit } from "../run/runtime/service.js";
import { ui } from "../ui/output.js";
import { readEnvoyConfig } from "../project/load.js";

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
  /** Whether the module serving now has trapped: "recovered" when every trap came before a reload put it in. */
  pluginHealth?: "ok" | "trapped" | "recovered";
}

export async function status(options: { cwd: string; warn?: (message: string) => void }): Promise<StatusResult> {
  const project = await loadProject(options.cwd);
  const paths = projectPaths(project);
  const { state, deadRun, leftovers } = await liveRun(paths, project.root, options.warn);
  const bootstrap = await readEnvoyConfig(project).catch(() => undefined);
  const traps = await trapsInLog(path.join(paths.logs, "envoy.log"), project.root, failurePolicyIn(bootstrap));
  if (state === undefined) {
    const lastRun = await readLastRun(paths.lastRun, options.warn);
    return { running: false, services: [], modules: [], cleanedUp: leftovers, lastRun, pluginTraps: deadRun || lastRun !== undefined ? traps : [] };
  }
  const uptime = Math.max(0, Math.round((Date.now() - Date.parse(state.startedAt)) / 1000));
  const containers = state.runtime === "docker" ? await dockerStates(project.root) : new Map<string, string>();
  const services: ServiceStatus[] = [];
  for (const s of state.services) {
    const running = s.container !== undefined ? containers.get(s.container.id) === "running" : serviceAlive(s);
    let health = "stopped";
    if (running && s.name === "envoy") health = (await envoyState(state.admin, 3000)) ?? "admin not answering";
    else if (running && s.ports[0] !== undefined)
      health = (await httpGet(`http://127.0.0.1:${s.ports[0]}/`, 2000)) !== undefined ? "answering" : "not answering";
    else if (running) health = "running";
    services.push({
      name: s.name,
      pid: s.process?.pid,
      container: s.container?.name,
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
    envoyImage: state.envoy.image,
    watch: state.watch,
    admin: state.admin,
    listeners: state.listeners,
    services,
    modules: state.modules,
    cleanedUp: [],
    pluginTraps: traps,
    pluginHealth: healthOf(traps, state.modules),
  };
}

async function dockerStates(root: string): Promise<Map<string, string>> {
  try {
    const { projectContainers } = await import("../run/runtime/docker.js");
    return new Map((await projectContainers(root)).map((c) => [c.id, c.state]));
  } catch {
    return new Map();
  }
}

/** The plugin's panics in the last part of Envoy's log (never the whole file), read as records. */
async function trapsInLog(file: string, root: string, policy: ReturnType<typeof failurePolicyIn>): Promise<(PluginTrap & { at: string })[]> {
  const entries = await tailEntries(file, "envoy", 20_000);
  return recordsOf("envoy", entries, root).flatMap((r) =>
    r.panic?.callback === undefined
      ? []
      : [
          {
            callback: r.panic.callback,
            message: r.panic.message,
            func: r.panic.func,
            location: r.panic.location,
            failurePolicy: policy,
            at: new Date(r.at ?? 0).toISOString(),
          },
        ],
  );
}

const warn = (m: string) => ui.warn(m);

function formatUptime(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

export async function runStatus(opts: { json?: boolean }, globals: { cwd: string }): Promise<void> {
  const result = await status({ cwd: globals.cwd, warn });
  if (opts.json === true) {
    ui.resultJson(result);
    return;
  }
  if (result.cleanedUp.length > 0) ui.warn(`an earlier run died without cleaning up; stopped what it left: ${result.cleanedUp.join(", ")}`);
  if (!result.running) {
    ui.result("not running");
    if (result.lastRun !== undefined) for (const line of describeLastRun(result.lastRun)) ui.result(line);
    if (result.lastRun?.outcome !== "stopped") printTraps(result);
    return;
  }
  ui.result(
    `running (${result.mode}${result.runtime === "docker" ? ", in Docker" : ""}${result.watch === true ? ", watching" : ""}; supervisor pid ${result.supervisorPid}; Envoy ${result.envoyVersion}${result.envoyImage === undefined ? "" : ` from ${result.envoyImage}`})`,
  );
  const rows = [["SERVICE", result.runtime === "docker" ? "CONTAINER" : "PID", "PORTS", "UPTIME", "HEALTH"]];
  for (const s of result.services) {
    rows.push([s.name, s.container ?? String(s.pid ?? "-"), s.ports.join(","), s.running ? formatUptime(s.uptimeSeconds) : "-", s.health]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows)
    ui.result(
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    );
  for (const l of result.listeners ?? []) ui.result(`listener ${l.name}: http://127.0.0.1:${l.port}/`);
  for (const m of result.modules) ui.result(`module ${m.plugin}/: ${m.wasm}, sha256 ${m.sha256.slice(0, 12)} (serving)`);
  printTraps(result);
}

/** A trap counts against the module serving now only if it came after that module began to serve. */
function healthOf(traps: StatusResult["pluginTraps"], modules: StatusResult["modules"]): StatusResult["pluginHealth"] {
  const last = traps.at(-1);
  if (last === undefined) return "ok";
  const newest =
    modules
      .map((m) => m.since ?? "")
      .sort()
      .at(-1) ?? "";
  return newest !== "" && newest > last.at ? "recovered" : "trapped";
}

function printTraps(result: StatusResult): void {
  if (result.pluginTraps.length === 0) {
    if (result.running) ui.result("plugin: no traps in this run");
    return;
  }
  const last = result.pluginTraps[result.pluginTraps.length - 1]!;
  if (result.pluginHealth === "recovered") {
    const since = result.modules
      .map((m) => m.since ?? "")
      .sort()
      .at(-1);
    ui.result(
      `plugin: ${result.pluginTraps.length} trap(s) in this run, the last at ${last.at} (${last.message ?? "a trap"} in ${last.callback}); a new module has served since ${since}, and has not trapped`,
    );
    return;
  }
  ui.result(`plugin: ${result.pluginTraps.length} trap(s); the last at ${last.at}:`);
  for (const line of describeTrap(last)) ui.result(`  ${line}`);
}

function describeLastRun(last: NonNullable<StatusResult["lastRun"]>): string[] {
  const when = `${last.startedAt} to ${last.endedAt}`;
  if (last.outcome === "stopped") return [`last run (${last.mode}, ${when}): ${last.reason ?? "stopped"}`];
  if (last.outcome === "failed") {
    return [`last run (${last.mode}, ${when}) failed to start: ${last.reason ?? "?"}`, ...(last.lastLines ?? []).map((l) => `  ${l}`)];
  }
  if (last.engine !== undefined)
    return [`last run (${last.mode}, ${when}) ended because the Docker engine (${last.engine}) stopped, and its containers with it`];
  const exit = last.exit === undefined ? "ended" : describeExit(last.exit);
  return [
    `last run (${last.mode}, ${when}) ended because ${last.service ?? "a service"} ${exit}${last.reason === undefined ? " on its own" : `: ${last.reason}`}`,
    ...(last.lastLines ?? []).slice(-8).map((l) => `  ${last.service} | ${l}`),
    "  (all of it: envoywasm logs supervisor, envoywasm logs " + (last.service ?? "envoy") + ")",
  ];
}
