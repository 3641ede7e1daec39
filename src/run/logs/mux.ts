import { createWriteStream, existsSync, mkdirSync, renameSync, type WriteStream } from "node:fs";
import path from "node:path";
import { formatLine, stampLine } from "./format.js";
import { startsRecord } from "../../envoy/log-records.js";

/**
 * The one place service output goes through. Each whole line goes to the
 * terminal (prefixed, coloured when wanted), never mixed with another
 * service's, and is appended with a timestamp to .envoywasm/logs/<service>.log
 * for `envoywasm logs`; the lines of one burst are written together, to each.
 *
 * Each run starts new files; the previous run's are kept as <service>.1.log
 * (one generation), and a file that passes MAX_BYTES within a run moves
 * there too, so logs never grow without bound.
 */
export interface LogMuxOptions {
  services: readonly string[];
  logsDir: string;
  /** Where live lines go; none for a detached run. */
  terminal?: NodeJS.WritableStream;
  colour: boolean;
  /** Show plugin lines without Envoy's source prefix on the terminal. */
  readable?: boolean;
  /** Extra observers (readiness hints, failure classification). */
  onLine?: (service: string, line: string) => void;
  /**
   * Until ready() is called, lines for which this says false go only to the
   * log files (Envoy's start-up chatter: a hundred lines of extension lists).
   */
  showWhileStarting?: (service: string, line: string) => boolean;
  /** Lines for which this says false go only to the files (a panic's fragments, told as one summary). */
  show?: (service: string, line: string) => boolean;
}

export const MAX_LOG_BYTES = 64 * 1024 * 1024;

/** Under a steady stream, lines are written at most this often: a write per handful cost more CPU than the lines (bench figure 8). */
const FLUSH_INTERVAL_MS = 10;
/** A burst is written as it comes: holding it made the supervisor's small young generation slow it down. */
const FLUSH_AT_CHARS = 64 * 1024;

/** Moves <name>.log to <name>.1.log (dropping an older .1). */
export function rotateLog(logsDir: string, name: string): void {
  const file = path.join(logsDir, `${name}.log`);
  if (existsSync(file)) renameSync(file, path.join(logsDir, `${name}.1.log`));
}

export class LogMux {
  private readonly files = new Map<string, { stream: WriteStream; bytes: number; pending: string[] }>();
  /** Terminal lines of the current burst, written in one go (a write per line ran a burst at a third of the speed). */
  private terminalPending: string[] = [];
  private flushTimer: { immediate?: NodeJS.Immediate; timeout?: NodeJS.Timeout } | undefined;
  private lastFlush = -Infinity;
  private pendingChars = 0;
  private stampMs = 0;
  private stampIso = "";
  private width: number;
  private readonly services: string[];
  private starting = true;
  private closed = false;
  private held = 0;
  /** Empty Envoy lines not shown yet: kept inside a message, dropped at its end (a plugin's "value: %d\n"). */
  private blankEnvoyLines = 0;

  constructor(private readonly options: LogMuxOptions) {
    this.services = [...options.services];
    this.width = Math.max(...options.services.map((s) => s.length));
    mkdirSync(options.logsDir, { recursive: true });
    for (const service of options.services) {
      rotateLog(options.logsDir, service);
      this.open(service);
    }
  }

  private open(service: string): { stream: WriteStream; bytes: number; pending: string[] } {
    const entry = { stream: createWriteStream(path.join(this.options.logsDir, `${service}.log`), { flags: "a" }), bytes: 0, pending: [] as string[] };
    this.files.set(service, entry);
    return entry;
  }

  /** A line from a service (or from envoywasm itself, e.g. "build"). */
  line(service: string, line: string): void {
    // A grandchild may still hold a pipe after its service stopped.
    if (this.closed) return;
    if (!this.services.includes(service)) {
      this.services.push(service);
      this.width = Math.max(this.width, service.length);
    }
    let file = this.files.get(service);
    if (file === undefined) file = this.open(service);
    // Lines arrive in bursts: one time stamp per millisecond, one write per burst.
    const now = Date.now();
    if (now !== this.stampMs) {
      this.stampMs = now;
      this.stampIso = new Date(now).toISOString();
    }
    const stamped = stampLine(line, this.stampIso);
    file.pending.push(stamped);
    this.pendingChars += stamped.length;
    this.scheduleFlush();
    this.options.onLine?.(service, line);
    if (this.options.terminal === undefined) return;
    if (this.options.show?.(service, line) === false) return;
    if (this.starting && this.options.showWhileStarting?.(service, line) === false) {
      this.held++;
      return;
    }
    if (service === "envoy" && this.options.readable === true) {
      if (line.trim() === "") {
        this.blankEnvoyLines++;
        return;
      }
      if (this.blankEnvoyLines > 0 && !startsRecord(line))
        for (; this.blankEnvoyLines > 0; this.blankEnvoyLines--) this.terminalPending.push(this.format(service, ""));
      this.blankEnvoyLines = 0;
    }
    this.terminalPending.push(this.format(service, line));
  }

  private format(service: string, line: string): string {
    return `${formatLine(service, line, { colour: this.options.colour, prefix: true, width: this.width, services: this.services, readable: this.options.readable === true })}\n`;
  }

  /**
   * The first lines after a quiet spell are written at once, and so is a burst (FLUSH_AT_CHARS pending);
   * a steady stream of a few lines at a time at most every FLUSH_INTERVAL_MS.
   */
  private scheduleFlush(): void {
    if (this.flushTimer?.immediate !== undefined) return;
    const wait = this.pendingChars >= FLUSH_AT_CHARS ? 0 : this.lastFlush + FLUSH_INTERVAL_MS - performance.now();
    if (wait > 0 && this.flushTimer !== undefined) return;
    if (this.flushTimer?.timeout !== undefined) clearTimeout(this.flushTimer.timeout);
    this.flushTimer = wait <= 0 ? { immediate: setImmediate(() => this.flush()) } : { timeout: setTimeout(() => this.flush(), wait) };
  }

  /** Writes the terminal lines still pending now: before anything else is said there, so it follows them. */
  flushTerminal(): void {
    // Empty lines that end a burst end a message: Envoy writes a message's lines together.
    this.blankEnvoyLines = 0;
    if (this.terminalPending.length === 0) return;
    const text = this.terminalPending.join("");
    this.terminalPending = [];
    this.options.terminal?.write(text);
  }

  /** Writes what the last burst of lines left pending, rotating a file that grew past the cap. */
  private flush(): void {
    if (this.flushTimer?.immediate !== undefined) clearImmediate(this.flushTimer.immediate);
    if (this.flushTimer?.timeout !== undefined) clearTimeout(this.flushTimer.timeout);
    this.flushTimer = undefined;
    this.lastFlush = performance.now();
    this.pendingChars = 0;
    this.flushTerminal();
    for (const [service, file] of this.files) {
      if (file.pending.length === 0) continue;
      // Encoded once here (a string would be encoded again by the stream, and once more to count it).
      const bytes = Buffer.from(file.pending.join(""));
      file.pending = [];
      file.stream.write(bytes);
      file.bytes += bytes.length;
      if (file.bytes > MAX_LOG_BYTES) {
        file.stream.end();
        rotateLog(this.options.logsDir, service);
        this.open(service);
      }
    }
  }

  /** From now on every line is echoed; returns how many start-up lines were not. */
  ready(): number {
    this.starting = false;
    return this.held;
  }

  /** Back to start-up mode (Envoy restarting). */
  restarting(): void {
    this.starting = true;
    this.held = 0;
  }

  async close(): Promise<void> {
    this.flush();
    this.closed = true;
    await Promise.all([...this.files.values()].map(({ stream }) => new Promise<void>((resolve) => stream.end(() => resolve()))));
  }
}
