import type { Readable } from "node:stream";
import { LineSplitter, RingBuffer } from "../logs/lines.js";
import type { ExitInfo } from "./service.js";

const KEPT = 300;

/**
 * A service's output and end, the same for a process and a container: each
 * stream is split into whole lines, handed on and kept for error reports
 * (the first and the last KEPT: a Go plugin's panic at start is told in the
 * first, and can be followed by thousands more); the exit is told once every stream has ended, so after the
 * last lines, or 500 ms after the program ended if something it started
 * still holds a stream open.
 */
export class ServiceOutput {
  readonly exited: Promise<ExitInfo>;
  private resolveExit!: (info: ExitInfo) => void;
  private info: ExitInfo | undefined;
  private ended: ExitInfo | undefined;
  private open = 0;
  private readonly head: string[] = [];
  private readonly recent = new RingBuffer(KEPT);

  constructor(
    private readonly name: string,
    private readonly onLine: (service: string, line: string) => void,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** Whether the exit has been told. */
  get done(): boolean {
    return this.info !== undefined;
  }

  /** What it wrote, as far as it was kept: all of it, or its first and last KEPT lines. */
  recentLines(): string[] {
    return [...this.head, ...this.recent.all()];
  }

  /** Reads one of its streams (stdout, stderr) to the end. */
  follow(stream: Readable): void {
    this.open++;
    const splitter = new LineSplitter((line) => {
      if (this.head.length < KEPT) this.head.push(line);
      else this.recent.push(line);
      this.onLine(this.name, line);
    });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      splitter.flush();
      this.open--;
      this.settle();
    };
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => splitter.push(chunk));
    stream.once("end", close);
    stream.once("close", close);
  }

  /** The program ended; the exit is told when its streams have. */
  programEnded(info: ExitInfo): void {
    this.ended = info;
    setTimeout(() => {
      this.open = 0;
      this.settle();
    }, 500).unref();
    this.settle();
  }

  /** Tells the exit now, with no output to wait for (the program never ran). */
  endNow(info: ExitInfo): void {
    if (this.info !== undefined) return;
    this.info = info;
    this.resolveExit(info);
  }

  private settle(): void {
    if (this.ended !== undefined && this.open === 0) this.endNow(this.ended);
  }
}
