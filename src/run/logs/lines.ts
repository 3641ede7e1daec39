/**
 * Turns a stream's chunks into whole lines. A chunk may end mid-line; the
 * rest waits for the next chunk, so no line is ever split or interleaved
 * with another source's. flush() hands over a last line with no newline.
 */
export class LineSplitter {
  private pending = "";

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const text = this.pending + chunk;
    const parts = text.split("\n");
    this.pending = parts.pop() ?? "";
    for (const part of parts) this.onLine(part.endsWith("\r") ? part.slice(0, -1) : part);
  }

  flush(): void {
    if (this.pending !== "") {
      const rest = this.pending;
      this.pending = "";
      this.onLine(rest.endsWith("\r") ? rest.slice(0, -1) : rest);
    }
  }
}

/** Keeps the last N lines a service wrote, for error reports (a ring: nothing moves per line). */
export class RingBuffer {
  private readonly lines: string[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(line: string): void {
    if (this.lines.length < this.size) this.lines.push(line);
    else this.lines[this.next] = line;
    this.next = (this.next + 1) % this.size;
  }
  /** Oldest first. */
  all(): string[] {
    return this.lines.length < this.size ? [...this.lines] : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
  }
}
