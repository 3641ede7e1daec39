import type { FailurePolicy } from "../../envoy/bootstrap.js";
import { parseGoPanic } from "../../envoy/go-panic.js";

/**
 * Watches Envoy's lines for a plugin that trapped (a Go panic), and tells it
 * in one place. Envoy prints a Go panic as dozens of `[error][wasm] wasm log`
 * fragments (one per write the Go runtime makes), then "Function: proxy_on_…
 * failed: Uncaught RuntimeError: unreachable" and a backtrace. After that the
 * VM is dead and every request gets a 503 (failure_policy FAIL_CLOSED) until
 * Envoy restarts; nothing in Envoy's output says that plainly.
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
const TRAP_TAIL = /Function: \w+ failed: Uncaught \w+: |^Proxy-Wasm plugin in-VM backtrace:|^\s+\d+:\s+0x[0-9a-f]+ - /;
const FAILED = /Function: (\w+) failed: Uncaught \w+: /;

/** A line of Envoy's own log (`[2026-11-25 23:19:37.816][1406][error][wasm] …`), as opposed to its stdout access log. */
const ENVOY_LOG_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\]\[\d+\]\[\w+\]/;

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

  show(service: string, line: string): boolean {
    if (service !== "envoy") return true;
    const fragment = FRAGMENT.exec(line);
    if (fragment !== null && /^(panic: |fatal error: )/.test(fragment[1] ?? "")) this.hiding = true;
    if (!this.hiding) return true;
    if (fragment !== null || TRAP_TAIL.test(line)) return false;
    if (ENVOY_LOG_LINE.test(line)) this.hiding = false;
    return true;
  }
}

export class TrapWatcher {
  private fragments: string[] = [];
  private pending: PluginTrap | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly root: string,
    private readonly onTrap: (trap: PluginTrap) => void,
    private readonly failurePolicy: FailurePolicy = "FAIL_CLOSED",
  ) {}

  feed(service: string, line: string): void {
    if (service !== "envoy") return;
    const fragment = FRAGMENT.exec(line);
    if (fragment !== null) {
      this.fragments.push(fragment[1] ?? "");
      if (this.fragments.length > 400) this.fragments.shift();
      return;
    }
    const failed = FAILED.exec(line);
    if (failed !== null) {
      this.flush();
      this.pending = { callback: failed[1]!, ...parseGoPanic(this.fragments, this.root), failurePolicy: this.failurePolicy };
      this.fragments = [];
      // The backtrace follows on lines of its own; report once it has passed.
      this.timer = setTimeout(() => this.flush(), 100);
      this.timer.unref();
      return;
    }
    if (this.pending !== undefined && this.pending.func === undefined) {
      const frame = /^\s+\d+:\s+0x[0-9a-f]+ - (main\..+)$/.exec(line);
      if (frame !== null) this.pending.func = frame[1];
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
  lines.push("  Fix it and save (under `up --watch`), or run `envoywasm reload`: the fixed module gets a new VM.");
  return lines;
}
