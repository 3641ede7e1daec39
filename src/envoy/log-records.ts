import { BACKTRACE_FRAME, parseGoPanic, PLUGIN_FRAGMENT, sdkPanic, TRAP_LINE, type GoPanic } from "./go-panic.js";

export interface PluginLine {
  /** HH:MM:SS.mmm as Envoy stamped it. */
  time: string;
  level: string;
  /** The plugin's name, else its root_id or vm_id ("" when all are unset). */
  plugin: string;
  message: string;
}

const PLUGIN_LINE = /^\[(?:\d{4}-\d\d-\d\d )?([\d:.]+)\]\[\d+\]\[(\w+)\]\[wasm\] (?:\[[^\]]*\] )?wasm log((?: [^ :]*){0,3}): ?(.*)$/;

/** The parts of a line a plugin logged through Envoy, or undefined for any other line. */
export function pluginLineParts(line: string): PluginLine | undefined {
  const m = PLUGIN_LINE.exec(line);
  if (m === null) return undefined;
  const ids = (m[3] ?? "").trim().split(" ").filter(Boolean);
  return { time: m[1]!, level: m[2]!, plugin: ids[0] ?? "", message: m[4] ?? "" };
}

/**
 * Service output as records rather than lines. Envoy writes a plugin message
 * that holds newlines as one `wasm log` line followed by bare lines, a Go
 * panic as dozens of one-fragment `wasm log` lines, and its own errors with
 * a backtrace on lines of their own: a record keeps each of those whole, so
 * every view (`logs`, `--wasm`, `--tail N`, `-f`, `--json`, `status`) shows,
 * counts and filters the same things. The log files keep the raw lines.
 */
export interface LogRecord {
  service: string;
  /** When its first line was logged (ms since the epoch), when known. */
  at?: number;
  /** The lines as the service wrote them. */
  lines: string[];
  /** A plugin's message: the `wasm log` line's parts, its text including continuation lines. */
  plugin?: PluginLine;
  /** A Go panic or fatal error, its fragments read, and the callback that trapped (once Envoy said). */
  panic?: GoPanic & { kind: "panic" | "fatal error" | "trap"; callback?: string };
}

/** Envoy's own log line: `[2026-11-25 23:19:37.816][1406][error][wasm] …`. */
const ENVOY_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\]\[\d+\]\[\w+\]\[[\w-]+\]/;
/** An access log line that starts with %START_TIME% as Envoy's default format does: `[2026-11-25T23:19:37.816Z] "GET / HTTP/1.1" …`, or `… src=…` in one of its own. */
const ACCESS_LINE = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:[^\]]*\] /;

/** A line that begins a record of its own (Envoy's log line, an access line); any other continues the one before. */
export function startsRecord(line: string): boolean {
  return ENVOY_LINE.test(line) || ACCESS_LINE.test(line);
}

interface Pending {
  record: LogRecord;
  fragments?: string[];
  /** The panic's trap line arrived: only its backtrace may follow. */
  trapped?: boolean;
  /** A Rust panic: its text is the plugin's "panicked at FILE:LINE:COL:" message, not the Go runtime's fragments. */
  rust?: boolean;
}

/** Rust's "panicked at FILE:LINE:COLUMN:", with the message after it or on the next line (std's hook starts with "thread '…' "). */
const RUST_PANICKED = /(?:^|^thread '[^']*'(?: \(\d+\))? )panicked at (\S+?):(\d+):\d+:(?:[ \t]+(.*))?$/m;

/** Assembles records from lines as they come, per service; `flush()` ends what is still open. */
export class RecordAssembler {
  private readonly pending = new Map<string, Pending>();
  /** Whether the line pushed last belongs to a panic (or a trap) being read. */
  inPanic = false;
  /** The last plugin message of each service (a Rust panic's words come before its trap). */
  private readonly lastMessage = new Map<string, string>();

  constructor(
    private readonly root: string,
    private readonly emit: (record: LogRecord) => void,
  ) {}

  push(service: string, line: string, at?: number): void {
    this.inPanic = false;
    if (service !== "envoy") {
      this.emit({ service, at, lines: [line] });
      return;
    }
    const open = this.pending.get(service);
    if (ACCESS_LINE.test(line)) {
      // Envoy's other pipe: never part of a record; it ends a message (its lines come in one write) but not a panic.
      if (open?.fragments === undefined) this.end(service);
      this.emit({ service, at, lines: [line] });
      return;
    }
    const fragment = PLUGIN_FRAGMENT.exec(line);
    if (open?.fragments !== undefined) {
      if (fragment !== null && open.trapped !== true) {
        open.fragments.push(fragment[1] ?? "");
        open.record.lines.push(line);
        this.inPanic = true;
        return;
      }
      const trap = TRAP_LINE.exec(line);
      if (trap !== null && open.trapped !== true) {
        open.trapped = true;
        open.record.panic!.callback = trap[1];
        open.record.lines.push(line);
        this.inPanic = true;
        return;
      }
      if (!startsRecord(line) && (open.trapped === true ? isBacktrace(line) : true)) {
        open.record.lines.push(line);
        if (open.rust === true && open.trapped !== true) open.fragments.push(line);
        this.inPanic = true;
        return;
      }
    } else if (open !== undefined && !startsRecord(line)) {
      // A continuation: a plugin message's next line, or Envoy's own multi-line message.
      open.record.lines.push(line);
      if (open.record.plugin !== undefined) {
        open.record.plugin.message += `\n${line}`;
        this.maybeRustPanic(open);
      }
      return;
    }
    this.end(service);
    const trap = TRAP_LINE.exec(line);
    if (trap !== null) {
      // A trap with no Go panic before it (a Rust panic tells its message in the plugin's line just before).
      const rust = this.lastMessage.get(service)?.match(/panicked at (\S+?):(\d+)(?::\d+)?:?\s*([\s\S]*)$/);
      const said = rust === null || rust === undefined ? {} : { message: rust[3]!.trim() || undefined, location: `${rust[1]}:${rust[2]}` };
      this.pending.set(service, { record: { service, at, lines: [line], panic: { kind: "trap", callback: trap[1], ...said } }, fragments: [], trapped: true });
      this.inPanic = true;
      return;
    }
    const parts = pluginLineParts(line);
    if (parts !== undefined && /^(panic|fatal error): /.test(parts.message)) {
      const kind = parts.message.startsWith("panic") ? "panic" : "fatal error";
      this.pending.set(service, { record: { service, at, lines: [line], plugin: parts, panic: { kind } }, fragments: [parts.message] });
      this.inPanic = true;
      return;
    }
    const pending: Pending = { record: { service, at, lines: [line], plugin: parts } };
    this.pending.set(service, pending);
    this.maybeRustPanic(pending);
  }

  /** A plugin message that says "panicked at src/lib.rs:…" begins a Rust panic: what follows, to the trap's backtrace, is part of it. */
  private maybeRustPanic(open: Pending): void {
    if (open.fragments !== undefined || open.record.plugin === undefined || !RUST_PANICKED.test(open.record.plugin.message)) return;
    open.fragments = [];
    open.rust = true;
    open.record.panic = { kind: "panic" };
    this.inPanic = true;
  }

  /** Whether the open panic's trap line has come (only its backtrace may follow). */
  panicTrapped(service: string): boolean {
    return this.pending.get(service)?.trapped === true;
  }

  /** Ends the open record of each service (at the end of a file, or after a quiet spell while following). */
  flush(): void {
    for (const service of [...this.pending.keys()]) this.end(service);
  }

  private end(service: string): void {
    const open = this.pending.get(service);
    if (open === undefined) return;
    this.pending.delete(service);
    if (open.record.plugin !== undefined && open.fragments === undefined) this.lastMessage.set(service, open.record.plugin.message);
    if (open.rust === true) {
      const record = open.record;
      const text = [record.plugin?.message ?? "", ...open.fragments!].join("\n");
      const m = RUST_PANICKED.exec(text);
      const rest = m === null ? "" : text.slice(m.index + m[0].length).replace(/^\n/, "");
      const message = (m?.[3] ?? "").trim() || rest.split("\n")[0]?.trim();
      record.panic = { ...record.panic!, message: message === "" ? undefined : message, location: m === null ? undefined : `${m[1]}:${m[2]}` };
      record.panic.func = record.lines
        .map((l) => BACKTRACE_FRAME.exec(l)?.[1])
        .map((f) => (f === undefined ? undefined : rustFrame(f)))
        .find((f) => f !== undefined);
    } else if (open.fragments !== undefined && open.record.panic?.kind !== "trap") {
      const record = open.record;
      record.panic = { ...record.panic!, ...parseGoPanic(open.fragments, this.root) };
      const frame = record.lines.map((l) => BACKTRACE_FRAME.exec(l)?.[1]).find((f) => f?.startsWith("main.") === true);
      if (record.panic.func === undefined && frame !== undefined) record.panic.func = frame;
    } else if (open.record.plugin !== undefined) {
      // A message that ends with a newline ("value: %d\n") leaves a bare empty line behind it: not worth a line of its own.
      const { lines, plugin } = open.record;
      while (lines.length > 1 && lines.at(-1)!.trim() === "") lines.pop();
      plugin.message = plugin.message.replace(/\n\s*$/, "");
    }
    this.emit(open.record);
  }
}

function isBacktrace(line: string): boolean {
  return /^Proxy-Wasm plugin in-VM backtrace:/.test(line) || BACKTRACE_FRAME.test(line);
}

/** All records of a list of lines (one service), for a reader that has them all. */
export function recordsOf(service: string, lines: readonly { line: string; at?: number }[], root: string): LogRecord[] {
  const out: LogRecord[] = [];
  const assembler = new RecordAssembler(root, (r) => out.push(r));
  for (const l of lines) assembler.push(service, l.line, l.at);
  assembler.flush();
  return out;
}

/** A panic record told in a line: what, where, in which callback. */
export function describePanic(panic: NonNullable<LogRecord["panic"]>): string {
  const what =
    panic.kind === "trap" ? `trapped${panic.message === undefined ? "" : `: ${panic.message}`}` : `${panic.kind}: ${panic.message ?? "(no message)"}`;
  const at = [panic.func, panic.location === undefined ? undefined : `(${panic.location})`].filter(Boolean).join(" ");
  const instead = sdkPanic(panic.message)?.instead;
  return `${what}${at === "" ? "" : ` at ${at}`}${panic.callback === undefined ? "" : ` in ${panic.callback}`}${instead === undefined ? "" : `: the plugin ${instead}`}`;
}

/**
 * A frame of the V8 backtrace that is the plugin's own Rust code, readable:
 * `_$LT$ah..AddHeader$u20$as$u20$proxy_wasm..traits..HttpContext$GT$::on_http_request_headers::h535f…`
 * is `<ah::AddHeader as proxy_wasm::traits::HttpContext>::on_http_request_headers`. The runtime's
 * and the SDK's frames (std, core, proxy_wasm, v0-mangled `_R…` names, the exports) are not.
 */
export function rustFrame(name: string): string | undefined {
  // Go's frames (runtime.gopanic, sort.Sort[...]) have neither.
  if (!name.includes("::") && !name.includes("$")) return undefined;
  const escapes: Record<string, string> = { LT: "<", GT: ">", RF: "&", BP: "*", C: ",", SP: "@" };
  const readable = name
    .replace(/::h[0-9a-f]{16}$/, "")
    .replace(/^_(?=\$)/, "")
    .replace(/\$(LT|GT|RF|BP|C|SP)\$/g, (_m, e: string) => escapes[e]!)
    .replace(/\$u([0-9a-f]{2,6})\$/g, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replaceAll("..", "::");
  if (/^<?(std|core|alloc|proxy_wasm|hashbrown|log|serde_json|serde_core)::/.test(readable)) return undefined;
  return readable;
}
