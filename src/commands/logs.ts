import { open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { UsageError, UserError } from "../errors.js";
import { loadProject } from "../lib/project-config.js";
import { projectPaths } from "../lib/paths.js";
import { failurePolicyIn, readEnvoyConfig } from "../lib/envoy-config.js";
import { isWasmLine, parseStampedLine } from "../run/log-format.js";
import { TrapWatcher, type PluginTrap } from "../run/plugin-watch.js";
import { delay } from "../run/process-service.js";

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
  write: (service: string, line: string) => void;
  /** Which services there are, once known (for aligned prefixes). */
  onServices?: (services: string[]) => void;
  /** Told each time the plugin trapped (a Go panic), whatever the filters show. */
  onTrap?: (trap: PluginTrap) => void;
}

interface Entry {
  at: number;
  service: string;
  line: string;
  order: number;
}

/** "90s", "5m", "2h", "1d" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) throw new UsageError(`--since ${JSON.stringify(text)}: use a duration such as 30s, 5m, 2h or 1d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

/**
 * Reads back what `up` wrote to .envoywasm/logs: the services' lines merged
 * in time order, then (with follow) new lines as they come, until the signal.
 */
export async function logs(options: LogsOptions): Promise<void> {
  const project = await loadProject(options.cwd);
  const paths = projectPaths(project);
  const dir = paths.logs;
  const available = (await readdir(dir).catch(() => [] as string[]))
    .filter((f) => f.endsWith(".log") && f !== "supervisor.log")
    .map((f) => f.slice(0, -4))
    .sort((a, b) => rank(a) - rank(b));
  if (available.length === 0) {
    throw new UserError("no logs yet: this project has not been run", { hint: "start it with `envoywasm up` (or `up -d`)" });
  }
  const wanted = options.services === undefined || options.services.length === 0 ? available : options.services;
  for (const s of wanted) {
    if (!available.includes(s)) {
      throw new UsageError(`no logs for service "${s}"`, { hint: `services with logs: ${available.join(", ")}` });
    }
  }
  options.onServices?.(wanted);
  const keep = (e: { at: number; line: string }) =>
    (options.since === undefined || e.at >= options.since) && (options.wasm !== true || isWasmLine(e.line));

  const onTrap = options.onTrap;
  const traps =
    onTrap === undefined
      ? undefined
      : new TrapWatcher(project.root, onTrap, failurePolicyIn(await readEnvoyConfig(paths.envoyConfig)));
  const readers = wanted.map((service) => new LogReader(path.join(dir, `${service}.log`), service));
  let order = 0;
  /** What the files gained since the last call, every line past the trap watcher, the kept ones in time order. */
  const readNew = async (): Promise<Entry[]> => {
    const entries: Entry[] = [];
    for (const reader of readers) {
      for (const e of await reader.readNew()) {
        traps?.feed(e.service, e.line);
        if (keep(e)) entries.push({ ...e, order: order++ });
      }
    }
    return entries.sort((a, b) => a.at - b.at || a.order - b.order);
  };
  const backlog = await readNew();
  const shown = options.tail === undefined ? backlog : backlog.slice(Math.max(0, backlog.length - options.tail));
  for (const e of shown) options.write(e.service, e.line);
  traps?.flush();

  if (options.follow !== true) return;
  while (options.signal?.aborted !== true) {
    await Promise.race([delay(150), abortPromise(options.signal)]);
    for (const e of await readNew()) options.write(e.service, e.line);
  }
  traps?.flush();
}

function rank(service: string): number {
  const i = ["envoy", "backend"].indexOf(service);
  return i < 0 ? 99 : i;
}

function abortPromise(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => {});
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Reads a log file from where it last stopped; starts over when a new run truncated it. */
class LogReader {
  private offset = 0;
  private partial = "";
  private decoder = new StringDecoder("utf8");

  constructor(
    private readonly file: string,
    private readonly service: string,
  ) {}

  async readNew(): Promise<{ at: number; service: string; line: string }[]> {
    const s = await stat(this.file).catch(() => undefined);
    if (s === undefined) return [];
    if (s.size < this.offset) {
      this.offset = 0;
      this.partial = "";
      this.decoder = new StringDecoder("utf8");
    }
    if (s.size === this.offset) return [];
    const handle = await open(this.file, "r");
    try {
      const buffer = Buffer.alloc(s.size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset += bytesRead;
      const text = this.partial + this.decoder.write(buffer.subarray(0, bytesRead));
      const parts = text.split("\n");
      this.partial = parts.pop() ?? "";
      const out: { at: number; service: string; line: string }[] = [];
      for (const part of parts) {
        const parsed = parseStampedLine(part);
        if (parsed !== undefined) out.push({ at: parsed.at, service: this.service, line: parsed.line });
      }
      return out;
    } finally {
      await handle.close();
    }
  }
}
