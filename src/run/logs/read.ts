import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { StringDecoder } from "node:string_decoder";
import { parseStampedLine } from "./format.js";

/**
 * Reading .envoywasm/logs/<service>.log back without holding a whole file in
 * memory: forward as a stream, backward from the end for --tail and status,
 * and following what is appended (across a rotation) for -f.
 */

export interface LogEntry {
  at: number;
  service: string;
  line: string;
}

/** Every entry of a file, in order, streamed. */
export async function* readEntries(file: string, service: string): AsyncGenerator<LogEntry> {
  const stream = createReadStream(file, { encoding: "utf8" });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      const parsed = parseStampedLine(text);
      if (parsed !== undefined) yield { at: parsed.at, service, line: parsed.line };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** Merges sorted entry streams into one, in time order (ties keep the order of the streams). */
export async function* mergeEntries(sources: AsyncGenerator<LogEntry>[]): AsyncGenerator<LogEntry> {
  const heads = await Promise.all(sources.map((s) => s.next()));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]!;
      if (h.done === true) continue;
      if (best < 0 || h.value.at < (heads[best]!.value as LogEntry).at) best = i;
    }
    if (best < 0) return;
    yield heads[best]!.value as LogEntry;
    heads[best] = await sources[best]!.next();
  }
}

/** The last `count` entries of a file, read backward from its end. */
export async function tailEntries(file: string, service: string, count: number, filter: (e: LogEntry) => boolean = () => true): Promise<LogEntry[]> {
  if (count <= 0) return [];
  const handle = await open(file, "r").catch(() => undefined);
  if (handle === undefined) return [];
  try {
    const size = (await handle.stat()).size;
    const found: LogEntry[] = [];
    let position = size;
    let carry = Buffer.alloc(0);
    const chunk = 64 * 1024;
    while (position > 0 && found.length < count) {
      const length = Math.min(chunk, position);
      position -= length;
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, position);
      let data = Buffer.concat([buffer, carry]);
      // Everything after the first newline is whole lines; keep the head for the next (earlier) chunk.
      const first = position === 0 ? -1 : data.indexOf(10);
      carry = first < 0 ? Buffer.alloc(0) : data.subarray(0, first + 1);
      data = first < 0 ? data : data.subarray(first + 1);
      const lines = data.toString("utf8").split("\n");
      for (let i = lines.length - 1; i >= 0 && found.length < count; i--) {
        const parsed = parseStampedLine(lines[i]!);
        if (parsed === undefined) continue;
        const entry = { at: parsed.at, service, line: parsed.line };
        if (filter(entry)) found.push(entry);
      }
    }
    return found.reverse();
  } finally {
    await handle.close();
  }
}

/** Reads what is appended to a file from `offset` on; starts over when the file was replaced or truncated. */
export class LogFollower {
  private partial = "";
  private decoder = new StringDecoder("utf8");
  private inode: number | undefined;

  constructor(
    private readonly file: string,
    private readonly service: string,
    private offset = 0,
  ) {}

  /** Positions at the end of the file as it is now. */
  async atEnd(): Promise<this> {
    const s = await stat(this.file).catch(() => undefined);
    this.offset = s?.size ?? 0;
    this.inode = s?.ino;
    return this;
  }

  async readNew(maxBytes = 4 * 1024 * 1024): Promise<LogEntry[]> {
    const s = await stat(this.file).catch(() => undefined);
    if (s === undefined) return [];
    if ((this.inode !== undefined && s.ino !== this.inode) || s.size < this.offset) {
      // Rotated (a new run, or the size cap): the new file from its start.
      this.offset = 0;
      this.partial = "";
      this.decoder = new StringDecoder("utf8");
    }
    this.inode = s.ino;
    if (s.size === this.offset) return [];
    const handle = await open(this.file, "r");
    try {
      const length = Math.min(s.size - this.offset, maxBytes);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, this.offset);
      this.offset += bytesRead;
      const text = this.partial + this.decoder.write(buffer.subarray(0, bytesRead));
      const parts = text.split("\n");
      this.partial = parts.pop() ?? "";
      const out: LogEntry[] = [];
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
