import { down } from "../commands/down.js";
import { logs, parseDuration } from "../commands/logs.js";
import { status, type StatusResult } from "../commands/status.js";
import { UserError } from "../errors.js";
import { loadProject } from "../lib/project-config.js";
import { projectPaths } from "../lib/paths.js";
import { askSupervisor } from "../run/control.js";
import type { PreparedReload } from "../run/prepared-reload.js";
import { formatLine } from "../run/log-format.js";
import { describeTrap } from "../run/plugin-watch.js";
import { readState, supervisorAlive } from "../run/state.js";
import { describeExit } from "../run/service.js";
import { ui } from "../ui/output.js";
import { writeOut } from "../ui/write.js";
import { reportTrap } from "./trap.js";

const warn = (m: string) => ui.warn(m);

export async function runDown(globals: { cwd: string }): Promise<void> {
  const result = await down({ cwd: globals.cwd, warn });
  if (!result.wasRunning) {
    ui.info("nothing is running in this project");
    return;
  }
  if (result.leftovers) ui.warn(`its supervisor was gone; stopped what it left: ${result.stopped.join(", ")}`);
  else ui.success(`stopped ${result.stopped.join(", ") || "the run"}`);
}

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
  for (const row of rows) ui.result(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  for (const l of result.listeners ?? []) ui.result(`listener ${l.name}: http://127.0.0.1:${l.port}/`);
  for (const m of result.modules) ui.result(`module ${m.plugin}/: ${m.wasm}, sha256 ${m.sha256.slice(0, 12)} (serving)`);
  printTraps(result);
}

function printTraps(result: StatusResult): void {
  if (result.pluginTraps.length === 0) {
    if (result.running) ui.result("plugin: no traps in this run");
    return;
  }
  const last = result.pluginTraps[result.pluginTraps.length - 1]!;
  ui.result(`plugin: ${result.pluginTraps.length} trap(s); the last at ${last.at}:`);
  for (const line of describeTrap(last)) ui.result(`  ${line}`);
}

function describeLastRun(last: NonNullable<StatusResult["lastRun"]>): string[] {
  const when = `${last.startedAt} to ${last.endedAt}`;
  if (last.outcome === "stopped") return [`last run (${last.mode}, ${when}): ${last.reason ?? "stopped"}`];
  if (last.outcome === "failed") {
    return [`last run (${last.mode}, ${when}) failed to start: ${last.reason ?? "?"}`, ...(last.lastLines ?? []).map((l) => `  ${l}`)];
  }
  if (last.engine !== undefined) return [`last run (${last.mode}, ${when}) ended because the Docker engine (${last.engine}) stopped, and its containers with it`];
  const exit = last.exit === undefined ? "ended" : describeExit(last.exit);
  return [
    `last run (${last.mode}, ${when}) ended because ${last.service ?? "a service"} ${exit}${last.reason === undefined ? " on its own" : `: ${last.reason}`}`,
    ...(last.lastLines ?? []).slice(-8).map((l) => `  ${last.service} | ${l}`),
    "  (all of it: envoywasm logs supervisor, envoywasm logs " + (last.service ?? "envoy") + ")",
  ];
}

export interface LogsFlags {
  follow?: boolean;
  tail?: number;
  since?: string;
  wasm?: boolean;
  prefix?: boolean;
}

export async function runLogs(services: string[], flags: LogsFlags, globals: { cwd: string }): Promise<void> {
  const since = flags.since === undefined ? undefined : Date.now() - parseDuration(flags.since);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let known: string[] = [];
  try {
    await logs({
      cwd: globals.cwd,
      services,
      follow: flags.follow === true,
      ...(flags.tail === undefined ? {} : { tail: flags.tail }),
      ...(since === undefined ? {} : { since }),
      wasm: flags.wasm === true,
      signal: controller.signal,
      onServices: (s) => (known = s),
      onTrap: reportTrap,
      onFollowing: () => ui.info(ui.paint("gray", `• following ${known.join(", ")} (Ctrl-C to stop)`)),
      write: (service, line) => {
        const width = Math.max(...known.map((s) => s.length));
        return writeOut(`${formatLine(service, line, { colour: ui.stdoutColour, prefix: flags.prefix !== false, width, services: known, readable: !ui.verbose })}\n`);
      },
    });
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

export async function runReload(globals: { cwd: string }): Promise<void> {
  const project = await loadProject(globals.cwd);
  const paths = projectPaths(project);
  const state = await readState(paths.runState, warn);
  if (state === undefined || !supervisorAlive(state)) {
    throw new UserError("this project is not running", { hint: "start it with `envoywasm up` (add --watch to reload on every save)" });
  }
  // Built and derived here, in this process, while this reload holds the run's turn; the supervisor
  // only compares and applies (run/reload.ts).
  ui.info(ui.paint("gray", "• building, then asking the running supervisor to load what changed"));
  const { prepareReload } = await import("../run/reload-prepare.js");
  let prepared: PreparedReload | undefined;
  const { result } = await askSupervisor(state.controlSocket, async () =>
    (prepared = await prepareReload(project.root, {
      docker: state.runtime === "docker",
      envoyVersion: state.envoy.version,
      backend: state.services.some((s) => s.name === "backend"),
    })),
  );
  const compilerOutput = prepared?.ok === false ? prepared.compilerOutput : undefined;
  if (compilerOutput !== undefined) process.stderr.write(compilerOutput.endsWith("\n") ? compilerOutput : `${compilerOutput}\n`);
  if (!result.ok) throw new UserError(result.message, result.hint === undefined ? undefined : { hint: result.hint });
  ui.success(result.message);
}
