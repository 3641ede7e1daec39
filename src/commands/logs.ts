import { readdir } from "node:fs/promises";
import path from "node:path";
import { UsageError, UserError } from "../errors.js";
import { failurePolicyIn, loadBootstrap } from "../envoy/bootstrap.js";
import { loadProject } from "../project/config.js";
import { projectPaths } from "../project/paths.js";
import { isWasmLine, formatLine } from "../run/logs/format.js";
import { LogFollower, mergeEntries, readEntries, tailEntries, type LogEntry } from "../run/logs/read.js";
import { TrapWatcher, type PluginTrap } from "../run/logs/traps.js";
import { delay } from "../run/runtime/process.js";
import { ui } from "../ui/output.js";
import { writeOut } from "../ui/write.js";
import { reportTrap } from "../run/logs/trap-report.js";
import { claimSignals } from "../platform/exit-hook.js";

export interface LogsOptions {
  cwd: string;
  services?: string[];
  follow?: boolean;
  tail?: number;
  /** Only lines at or after this time (ms since epoch). */
  since?: number;
  wasm?: boolean;
  /** Ends a follow. */
  signal?: AbortSignal;
  /** Writes one line; a promise makes the reader wait (a slow pipe). */
  write: (service: string, line: string) => void | Promise<void>;
  /** Which services there are, once known (for aligned prefixes). */
  onServices?: (services: string[]) => void;
  /** Told each time the plugin trapped (a Go panic), whatever the filters show. */
  onTrap?: (trap: PluginTrap) => void;
  /** Told once a follow has caught up and waits for new lines. */
  onFollowing?: () => void;
}

/** "90s", "5m", "2h", "1d" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) throw new UsageError(`--since ${JSON.stringify(text)}: use a duration such as 30s, 5m, 2h or 1d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

const ORDER = ["envoy", "backend", "build", "supervisor"];

/** The services that have logs: envoy, backend, build (compiler output of reloads), supervisor (of up -d). */
export async function servicesWithLogs(logsDir: string): Promise<string[]> {
  return (await readdir(logsDir).catch(() => [] as string[]))
    .filter((f) => f.endsWith(".log") && !/\.\d+\.log$/.test(f))
    .map((f) => f.slice(0, -4))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * Reads back what `up` wrote to .envoywasm/logs: the services' lines merged
 * in time order, then (with follow) new lines as they come, until the
 * signal. Never reads a whole file into memory.
 */
export async function logs(options: LogsOptions): Promise<void> {
  const project = await loadProject(options.cwd);
  const paths = projectPaths(project);
  const available = await servicesWithLogs(paths.logs);
  if (available.length === 0) {
    throw new UserError("no logs yet: this project has not been run", { hint: "start it with `envoywasm up` (or `up -d`)" });
  }
  const requested = options.services === undefined || options.services.length === 0 ? available.filter((s) => s !== "supervisor") : options.services;
  for (const s of requested) {
    if (!available.includes(s)) throw new UsageError(`no logs for "${s}"`, { hint: `logs there are: ${available.join(", ")}` });
  }
  options.onServices?.(requested);
  const keep = (e: LogEntry) => (options.since === undefined || e.at >= options.since) && (options.wasm !== true || isWasmLine(e.line));

  const onTrap = options.onTrap;
  let traps: TrapWatcher | undefined;
  if (onTrap !== undefined && requested.includes("envoy")) {
    const bootstrap = await loadBootstrap(paths.envoyConfig, project.config.envoy.config).catch(() => undefined);
    traps = new TrapWatcher(project.root, onTrap, failurePolicyIn(bootstrap));
  }
  const file = (s: string) => path.join(paths.logs, `${s}.log`);
  // Followers start where the backlog ends, so no line is shown twice or missed.
  const followers = options.follow === true ? await Promise.all(requested.map((s) => new LogFollower(file(s), s).atEnd())) : [];

  if (options.tail !== undefined) {
    const tails = await Promise.all(requested.map((s) => tailEntries(file(s), s, options.tail!, keep)));
    const merged = tails.flat().sort((a, b) => a.at - b.at);
    for (const e of merged.slice(Math.max(0, merged.length - options.tail))) {
      traps?.feed(e.service, e.line);
      await options.write(e.service, e.line);
    }
  } else {
    for await (const e of mergeEntries(requested.map((s) => readEntries(file(s), s)))) {
      traps?.feed(e.service, e.line);
      if (keep(e)) await options.write(e.service, e.line);
    }
  }
  traps?.flush();
  if (options.follow !== true) return;

  options.onFollowing?.();
  const aborted = abortPromise(options.signal);
  while (options.signal?.aborted !== true) {
    await Promise.race([delay(150), aborted]);
    const fresh = (await Promise.all(followers.map((f) => f.readNew()))).flat().sort((a, b) => a.at - b.at);
    for (const e of fresh) {
      traps?.feed(e.service, e.line);
      if (keep(e)) await options.write(e.service, e.line);
    }
  }
  traps?.flush();
}

function rank(service: string): number {
  const i = ORDER.indexOf(service);
  return i < 0 ? 99 : i;
}

/** One promise per follow, not one listener per poll. */
function abortPromise(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => {});
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
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
  // Ctrl-C (SIGTERM, a closed terminal) stops following; a second one ends the process.
  const releaseSignals = claimSignals(() => {
    releaseSignals();
    controller.abort();
  });
  let known: string[] = [];
  try {
    await logs({
      cwd: globals.cwd,
      services,
      follow: flags.follow === true,
      tail: flags.tail,
      since,
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
    releaseSignals();
  }
}
