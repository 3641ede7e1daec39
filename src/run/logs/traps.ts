import path from "node:path";
import type { FailurePolicy } from "../../envoy/bootstrap.js";

/**
 * Watches Envoy's lines for a plugin that trapped (a Go or Rust panic), and
 * tells it in one place. Envoy prints a Go panic as dozens of
 * `[error][wasm] wasm log` fragments (one per write the Go runtime makes), a
 * Rust panic as "panicked at src/lib.rs:LINE:COLUMN:" and its message (one
 * line from a hook that logs it whole, else on the next line, which Envoy
 * writes without a prefix); then "Function: proxy_on_… failed: Uncaught
 * RuntimeError: unreachable" and a backtrace. After that the VM is dead and
 * every request gets a 503 (failure_policy FAIL_CLOSED) until Envoy restarts;
 * nothing in Envoy's output says that plainly.
 */
export interface PluginTrap {
  /** The proxy-wasm callback that trapped, e.g. proxy_on_request_headers. */
  callback: string;
  /** The panic message, e.g. "assignment to entry in nil map". */
  message?: string;
  /** The plugin's function that panicked, e.g. main.(*httpContext).OnHttpRequestHeaders. */
  func?: string;
  /** Where, relative to the project root when it is inside it, e.g. plugin/main.go:50. */
  location?: string;
  /** What Envoy does about it, from envoy.yaml. */
  failurePolicy: FailurePolicy;
}

const FRAGMENT = /\]\[error\]\[wasm\].*? wasm log [^:]*: ?(.*)$/;
/** A plugin's log line at any level (a Rust panic hook logs at critical). */
const WASM_LOG = /\]\[\w+\]\[wasm\].*? wasm log [^:]*: ?(.*)$/;
const TRAP_TAIL = /Function: \w+ failed: Uncaught \w+: |^Proxy-Wasm plugin in-VM backtrace:|^\s+\d+:\s+0x[0-9a-f]+ - /;
const FAILED = /Function: (\w+) failed: Uncaught \w+: /;
/** Rust's "panicked at FILE:LINE:COLUMN:", with the message after it or on the next line (std's hook starts with "thread '…' "). */
const RUST_PANICKED = /(?:^|^thread '[^']*'(?: \(\d+\))? )panicked at (\S+?):(\d+):\d+:(?:\s+(.*))?$/;

/** A line of Envoy's own log (`[2026-11-25 23:19:37.816][1406][error][wasm] …`), as opposed to its stdout access log. */
const ENVOY_LOG_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\]\[\d+\]\[\w+\]/;
/** A line of Envoy's default access log (`[2026-11-25T23:19:37.800Z] "GET /hello …`), on its other pipe. */
const ACCESS_LOG_LINE = /^\[\d{4}-\d\d-\d\dT[^\]]*\] "/;

/** A line Envoy wrote without a prefix: the rest of a plugin's message that had newlines in it. */
function continuation(line: string): boolean {
  return !ENVOY_LOG_LINE.test(line) && !ACCESS_LOG_LINE.test(line) && !TRAP_TAIL.test(line);
}

/**
 * For the live stream: hides the ~40 one-fragment lines and the V8 backtrace
 * of a Go panic, which TrapWatcher reports as one summary. It starts hiding
 * at a fragment that begins a panic and stops at the first line of Envoy's
 * own log that is not part of it. Lines from Envoy's other pipe (the access
 * log on stdout) may arrive in between: they are shown, and do not end it.
 * The log files keep every line.
 */
export class PanicCollapser {
  private hiding = false;
  /** Inside a Rust panic's text, before the trap: lines without a prefix are its message. */
  private inRustPanic = false;

  show(service: string, line: string): boolean {
    if (service !== "envoy") return true;
    const fragment = FRAGMENT.exec(line);
    const text = WASM_LOG.exec(line)?.[1] ?? (continuation(line) ? line : undefined);
    if (fragment !== null && /^(panic: |fatal error: )/.test(fragment[1] ?? "")) this.hiding = true;
    if (text !== undefined && RUST_PANICKED.test(text)) this.hiding = this.inRustPanic = true;
    if (!this.hiding) return true;
    if (FAILED.test(line)) this.inRustPanic = false;
    if (fragment !== null || TRAP_TAIL.test(line) || (this.inRustPanic && text !== undefined)) return false;
    if (ENVOY_LOG_LINE.test(line)) this.hiding = this.inRustPanic = false;
    return true;
  }
}

export class TrapWatcher {
  private fragments: string[] = [];
  /** The plugin's recent messages at any level, each continuation line as one more (for a Rust panic). */
  private texts: string[] = [];
  private afterText = false;
  private pending: PluginTrap | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly root: string,
    private readonly onTrap: (trap: PluginTrap) => void,
    private readonly failurePolicy: FailurePolicy = "FAIL_CLOSED",
  ) {}

  feed(service: string, line: string): void {
    if (service !== "envoy") return;
    const text = WASM_LOG.exec(line)?.[1] ?? (this.afterText && continuation(line) ? line : undefined);
    this.afterText = text !== undefined;
    if (text !== undefined) {
      this.texts.push(text);
      if (this.texts.length > 50) this.texts.shift();
    }
    const fragment = FRAGMENT.exec(line);
    if (fragment !== null) {
      this.fragments.push(fragment[1] ?? "");
      if (this.fragments.length > 400) this.fragments.shift();
      return;
    }
    const failed = FAILED.exec(line);
    if (failed !== null) {
      this.flush();
      const go = this.fromPanicText(this.fragments);
      this.pending = { callback: failed[1]!, ...(go.message === undefined ? rustPanic(this.texts) : go), failurePolicy: this.failurePolicy };
      this.fragments = [];
      this.texts = [];
      // The backtrace follows on lines of its own; report once it has passed.
      this.timer = setTimeout(() => this.flush(), 100);
      this.timer.unref();
      return;
    }
    if (this.pending !== undefined && this.pending.func === undefined) {
      const frame = /^\s+\d+:\s+0x[0-9a-f]+ - (.+)$/.exec(line)?.[1];
      if (frame !== undefined && /^main\./.test(frame)) this.pending.func = frame;
      else if (frame !== undefined) this.pending.func = rustFrame(frame);
    }
  }

  /** Reports a trap seen but not yet reported. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const trap = this.pending;
    this.pending = undefined;
    if (trap !== undefined) this.onTrap(trap);
  }

  /**
   * The Go runtime prints a panic in many small writes, and Envoy logs each
   * as a line with its trailing newline cut off; so read the fragments as
   * they come rather than as text: "panic: " then the message, a "main.…"
   * frame, then "\t", "/abs/path/main.go", ":", "50".
   */
  private fromPanicText(fragments: string[]): Omit<PluginTrap, "callback" | "failurePolicy"> {
    const out: Omit<PluginTrap, "callback" | "failurePolicy"> = {};
    const start = fragments.findIndex((f) => f.startsWith("panic: "));
    if (start < 0) return out;
    const rest = fragments.slice(start);
    const inline = rest[0]!.slice("panic: ".length).trim();
    const message = inline !== "" ? inline : rest[1]?.trim();
    if (message !== undefined && message !== "") out.message = message.replace(/ \[recovered\]$/, "");
    const func = rest.find((f) => /^main\.\S+$/.test(f));
    if (func !== undefined) out.func = func;
    for (let i = 0; i < rest.length; i++) {
      const file = rest[i]!;
      if (!/^\/\S+\.go$/.test(file) || file.includes("/pkg/mod/") || file.includes("/src/runtime/")) continue;
      const line = rest[i + 1] === ":" && /^\d+$/.test(rest[i + 2] ?? "") ? `:${rest[i + 2]}` : "";
      const rel = path.relative(this.root, file);
      out.location = (rel.startsWith("..") ? file : rel) + line;
      break;
    }
    return out;
  }
}

/** A Rust panic among the plugin's last messages: its message, and where (as rustc names the file, e.g. src/lib.rs:57). */
function rustPanic(texts: string[]): Pick<PluginTrap, "message" | "location"> {
  for (let i = texts.length - 1; i >= 0; i--) {
    const m = RUST_PANICKED.exec(texts[i]!);
    if (m === null) continue;
    const message = (m[3] ?? "").trim() || texts[i + 1]?.trim();
    return { message: message === "" ? undefined : message, location: `${m[1]}:${m[2]}` };
  }
  return {};
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

/** What a trap means for the requests that follow, per envoy.yaml's failure_policy. */
const CONSEQUENCE: Record<FailurePolicy, string> = {
  FAIL_CLOSED: "its VM is now dead: Envoy answers 503 to every request until it restarts (failure_policy FAIL_CLOSED).",
  FAIL_OPEN: "its VM is now dead: requests now pass through without the plugin until Envoy restarts (failure_policy FAIL_OPEN).",
  FAIL_RELOAD: "that request got a 503; Envoy starts a new VM for the next ones (failure_policy FAIL_RELOAD).",
};

export function describeTrap(trap: PluginTrap): string[] {
  const what = trap.message === undefined ? "trapped" : `panicked: ${trap.message}`;
  const lines = [`the plugin ${what} (in ${trap.callback})`];
  if (trap.func !== undefined || trap.location !== undefined) {
    lines.push(`  at ${[trap.func, trap.location === undefined ? undefined : `(${trap.location})`].filter(Boolean).join(" ")}`);
  }
  lines.push(`  ${CONSEQUENCE[trap.failurePolicy]}`);
  lines.push("  Fix the plugin, then stop and start `envoywasm up` again.");
  return lines;
}
