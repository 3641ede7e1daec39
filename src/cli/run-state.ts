import { down } from "../commands/down.js";
import { logs, parseDuration } from "../commands/logs.js";
import { status } from "../commands/status.js";
import { UsageError } from "../errors.js";
import { formatLine } from "../run/log-format.js";
import { describeTrap } from "../run/plugin-watch.js";
import { ui } from "../ui/output.js";
import { reportTrap } from "./trap.js";

export async function runDown(globals: { cwd: string }): Promise<void> {
  const result = await down({ cwd: globals.cwd });
  if (!result.wasRunning) {
    ui.info("nothing is running in this project");
    return;
  }
  if (result.leftovers) ui.warn(`its supervisor was gone; stopped what it left: ${result.stopped.join(", ")}`);
  else ui.success(`stopped ${result.stopped.join(", ")}`);
}

function formatUptime(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

export async function runStatus(opts: { json?: boolean }, globals: { cwd: string }): Promise<void> {
  const result = await status({ cwd: globals.cwd });
  if (opts.json === true) {
    ui.resultJson(result);
    return;
  }
  if (result.services.length === 0) {
    ui.result("not running");
    return;
  }
  ui.result(
    result.stale
      ? "not running (an earlier run died without cleaning up; `envoywasm down` or the next `up` cleans it)"
      : `running (${result.mode}, supervisor pid ${result.supervisorPid}, Envoy ${result.envoyVersion})`,
  );
  const rows = [["SERVICE", "PID", "PORT", "UPTIME", "HEALTH"]];
  for (const s of result.services) {
    rows.push([s.name, String(s.pid), String(s.port), s.running ? formatUptime(s.uptimeSeconds) : "-", s.health]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) ui.result(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  if (result.pluginTraps.length === 0) {
    ui.result("plugin: no traps in this run");
  } else {
    const last = result.pluginTraps[result.pluginTraps.length - 1]!;
    ui.result(`plugin: ${result.pluginTraps.length} trap(s); the last at ${last.at}:`);
    for (const line of describeTrap(last)) ui.result(`  ${line}`);
  }
}

export interface LogsFlags {
  follow?: boolean;
  tail?: string;
  since?: string;
  wasm?: boolean;
  prefix?: boolean;
}

export async function runLogs(services: string[], flags: LogsFlags, globals: { cwd: string }): Promise<void> {
  let tail: number | undefined;
  if (flags.tail !== undefined) {
    tail = Number(flags.tail);
    if (!Number.isInteger(tail) || tail < 0) throw new UsageError(`--tail must be a whole number (got ${JSON.stringify(flags.tail)})`);
  }
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
      ...(tail === undefined ? {} : { tail }),
      ...(since === undefined ? {} : { since }),
      wasm: flags.wasm === true,
      signal: controller.signal,
      onServices: (s) => (known = s),
      onTrap: reportTrap,
      write: (service, line) => {
        const width = Math.max(...known.map((s) => s.length));
        process.stdout.write(`${formatLine(service, line, { colour: ui.stdoutColour, prefix: flags.prefix !== false, width, services: known })}\n`);
      },
    });
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
