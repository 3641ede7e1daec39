import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import path from "node:path";
import { formatLine, stampLine } from "./log-format.js";

/**
 * The one place service output goes through. Each whole line is written to
 * the terminal (prefixed, coloured when wanted) in one write, so lines from
 * different services never mix, and appended with a timestamp to
 * .envoywasm/logs/<service>.log for `envoywasm logs`.
 */
export interface LogMuxOptions {
  services: readonly string[];
  logsDir: string;
  /** Where live lines go; none for a detached run. */
  terminal?: NodeJS.WritableStream;
  colour: boolean;
  /** Extra observers (readiness hints, failure classification). */
  onLine?: (service: string, line: string) => void;
  /**
   * Until ready() is called, lines for which this says false go only to the
   * log files (Envoy's start-up chatter: a hundred lines of extension lists).
   */
  showWhileStarting?: (service: string, line: string) => boolean;
}

export class LogMux {
  private readonly files = new Map<string, WriteStream>();
  private readonly width: number;
  private starting = true;
  private closed = false;
  private held = 0;

  constructor(private readonly options: LogMuxOptions) {
    this.width = Math.max(...options.services.map((s) => s.length));
    mkdirSync(options.logsDir, { recursive: true });
    for (const service of options.services) {
      // A new run starts new logs; `envoywasm logs` shows the current or last run.
      this.files.set(service, createWriteStream(path.join(options.logsDir, `${service}.log`), { flags: "w" }));
    }
  }

  line(service: string, line: string): void {
    // A grandchild may still hold a pipe after its service stopped.
    if (this.closed) return;
    this.files.get(service)?.write(stampLine(line));
    this.options.onLine?.(service, line);
    if (this.options.terminal !== undefined) {
      if (this.starting && this.options.showWhileStarting?.(service, line) === false) {
        this.held++;
        return;
      }
      this.options.terminal.write(
        `${formatLine(service, line, { colour: this.options.colour, prefix: true, width: this.width, services: this.options.services })}\n`,
      );
    }
  }

  /** From now on every line is echoed; returns how many start-up lines were not. */
  ready(): number {
    this.starting = false;
    return this.held;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.files.values()].map((stream) => new Promise<void>((resolve) => stream.end(() => resolve()))),
    );
  }
}
