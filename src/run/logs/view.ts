import { readdir } from "node:fs/promises";
import path from "node:path";
import { UsageError, UserError } from "../../errors.js";
import { delay } from "../../platform/time.js";
import { LogFollower, mergeEntries, readEntries, tailEntries, type LogEntry } from "./read.js";
import { RecordAssembler, type LogRecord } from "../../envoy/log-records.js";

/**
 * What `envoywasm logs` shows, read back from .envoywasm/logs as records (a
 * plugin message with its continuation lines, a panic whole): the services'
 * records in time order, the last N of them, only the plugin's, and (with
 * follow) new ones as they come. Never reads a whole file into memory.
 */
export interface LogView {
  logsDir: string;
  root: string;
  services?: string[];
  follow?: boolean;
  /** The last N records (after the filters). */
  tail?: number;
  /** Only records at or after this time (ms since epoch). */
  since?: number;
  /** Only what the plugin said (its messages and its panics). */
  wasm?: boolean;
  /** Envoy's start-up and its wasm debug chatter too. */
  all?: boolean;
  /** Ends a follow. */
  signal?: AbortSignal;
  /** Writes one record; a promise makes the reader wait (a slow pipe). */
  write: (record: LogRecord) => void | Promise<void>;
  /** Which services there are, once known (for aligned prefixes). */
  onServices?: (services: string[]) => void;
  /** Told once a follow has caught up and waits for new records. */
  onFollowing?: () => void;
}

const ORDER = ["envoy", "backend", "build", "supervisor"];

/** The services that have logs: envoy, backend, build (compiler output of reloads), supervisor (of up -d). */
export async function servicesWithLogs(logsDir: string): Promise<string[]> {
  return (await readdir(logsDir).catch(() => [] as string[]))
    .filter((f) => f.endsWith(".log") && !/\.\d+\.log$/.test(f))
    .map((f) => f.slice(0, -4))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export async function viewLogs(o: LogView): Promise<void> {
  const available = await servicesWithLogs(o.logsDir);
  if (available.length === 0) throw new UserError("no logs yet: this project has not been run", { hint: "start it with `envoywasm up` (or `up -d`)" });
  const requested = o.services === undefined || o.services.length === 0 ? available.filter((s) => s !== "supervisor") : o.services;
  for (const s of requested) {
    if (!available.includes(s)) throw new UsageError(`no logs for "${s}"`, { hint: `logs there are: ${available.join(", ")}` });
  }
  o.onServices?.(requested);
  const file = (s: string) => path.join(o.logsDir, `${s}.log`);
  const filter = () => {
    const quiet = o.all === true ? undefined : new StartupQuiet();
    return (r: LogRecord) =>
      (o.since === undefined || (r.at ?? 0) >= o.since) && (o.wasm !== true || r.plugin !== undefined || r.panic !== undefined) && quiet?.shows(r) !== false;
  };
  const keep = filter();
  // Followers start where the backlog ends, so no line is shown twice or missed.
  const followers = o.follow === true ? await Promise.all(requested.map((s) => new LogFollower(file(s), s).atEnd())) : [];

  if (o.tail !== undefined) {
    const records = (await Promise.all(requested.map((s) => lastRecords(file(s), s, o.tail!, o.root, filter))))
      .flat()
      .sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
    for (const r of records.slice(Math.max(0, records.length - o.tail))) await o.write(r);
  } else {
    const out: LogRecord[] = [];
    const assembler = new RecordAssembler(o.root, (r) => out.push(r));
    for await (const e of mergeEntries(requested.map((s) => readEntries(file(s), s)))) {
      assembler.push(e.service, e.line, e.at);
      for (const r of out.splice(0)) if (keep(r)) await o.write(r);
    }
    assembler.flush();
    for (const r of out.splice(0)) if (keep(r)) await o.write(r);
  }
  if (o.follow !== true) return;

  o.onFollowing?.();
  const aborted = abortPromise(o.signal);
  const out: LogRecord[] = [];
  const assembler = new RecordAssembler(o.root, (r) => out.push(r));
  while (o.signal?.aborted !== true) {
    await Promise.race([delay(150), aborted]);
    const fresh = (await Promise.all(followers.map((f) => f.readNew()))).flat().sort((a, b) => a.at - b.at);
    for (const e of fresh) assembler.push(e.service, e.line, e.at);
    // A record still open after a quiet spell is whole: nothing more of it is coming.
    if (fresh.length === 0) assembler.flush();
    for (const r of out.splice(0)) if (keep(r)) await o.write(r);
  }
  assembler.flush();
  for (const r of out.splice(0)) if (keep(r)) await o.write(r);
}

/** The last `count` records of a file that `keep` keeps: read backward, more each time, until there are enough. */
async function lastRecords(file: string, service: string, count: number, root: string, filter: () => (r: LogRecord) => boolean): Promise<LogRecord[]> {
  for (let lines = Math.max(200, count * 4); ; lines *= 4) {
    const entries = await tailEntries(file, service, lines);
    const records: LogRecord[] = [];
    const assembler = new RecordAssembler(root, (r) => records.push(r));
    for (const e of entries) assembler.push(e.service, e.line, e.at);
    assembler.flush();
    // The first record may have begun before what was read: drop it unless the whole file was read.
    const whole = entries.length < lines;
    const kept = (whole ? records : records.slice(1)).filter(filter());
    if (kept.length >= count || whole) return kept.slice(-count);
  }
}

/**
 * Envoy's start-up (from "initializing epoch" to "starting main dispatch
 * loop": the list of compiled-in extensions, ~130 lines) and the wasm
 * component's debug lines (VMs created and released on every reload) are
 * left out unless asked for: warnings, errors and the plugin's own words stay.
 */
class StartupQuiet {
  private starting = false;

  shows(r: LogRecord): boolean {
    if (r.service !== "envoy" || r.plugin !== undefined || r.panic !== undefined) return true;
    const first = r.lines[0] ?? "";
    const level = /^\[[^\]]+\]\[\d+\]\[(\w+)\]\[([\w-]+)\]/.exec(first);
    if (level === null) return !this.starting;
    if (/initializing epoch \d+/.test(first)) this.starting = true;
    const quiet = level[1] === "info" || level[1] === "debug" || level[1] === "trace";
    const shown = !(this.starting && quiet) && !(level[2] === "wasm" && (level[1] === "debug" || level[1] === "trace"));
    if (/starting main dispatch loop/.test(first)) this.starting = false;
    return shown;
  }
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

export type { LogEntry };
