import type { FailurePolicy } from "../../envoy/bootstrap.js";
import { sdkPanicCause } from "../../envoy/go-panic.js";
import { RecordAssembler } from "../../envoy/log-records.js";

/** A plugin that trapped (a Go panic): after it the VM is dead and, by envoy.yaml's failure_policy, requests get 503, pass, or a new VM. */
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

/**
 * For the live stream: reads Envoy's lines as records (envoy/log-records.ts),
 * tells each panic once it is whole (the trap line, then its backtrace: told
 * 100 ms after the trap when nothing more comes), and says which lines
 * belong to a panic being read, which the live stream hides (the ~40
 * fragments and the backtrace; the log files keep every line).
 */
export class PanicWatch {
  private readonly assembler: RecordAssembler;
  private timer: NodeJS.Timeout | undefined;

  constructor(root: string, onTrap: (trap: PluginTrap) => void, failurePolicy: FailurePolicy = "FAIL_CLOSED") {
    this.assembler = new RecordAssembler(root, (record) => {
      const panic = record.panic;
      if (panic?.callback !== undefined)
        onTrap({ callback: panic.callback, message: panic.message, func: panic.func, location: panic.location, failurePolicy });
    });
  }

  feed(service: string, line: string): void {
    if (service !== "envoy") return;
    this.assembler.push(service, line);
    if (this.assembler.panicTrapped(service)) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.flush(), 100);
      this.timer.unref();
    }
  }

  /** Whether the line just fed belongs to a panic being read. */
  hides(service: string): boolean {
    return service === "envoy" && this.assembler.inPanic;
  }

  /** Tells a panic read but not yet told. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.assembler.flush();
  }
}

/** What a trap means for the requests that follow, per envoy.yaml's failure_policy. */
const CONSEQUENCE: Record<FailurePolicy, string> = {
  FAIL_CLOSED: "its VM is now dead: Envoy answers 503 to every request until it restarts (failure_policy FAIL_CLOSED).",
  FAIL_OPEN: "its VM is now dead: requests now pass through without the plugin until Envoy restarts (failure_policy FAIL_OPEN).",
  FAIL_RELOAD: "that request got a 503; Envoy starts a new VM for the next ones (failure_policy FAIL_RELOAD).",
};

/** The Go SDK's panic when Envoy's HTTP filter calls a plugin that made a TCP context for the stream (NewHttpContext returned nil). */
const NO_HTTP_CONTEXT = /^invalid context(?: id)? on proxy_on_(?:request|response)_(?:headers|body|trailers)$/;

export function describeTrap(trap: PluginTrap): string[] {
  if (NO_HTTP_CONTEXT.test(trap.message ?? "")) {
    // Not a bug in the plugin's code: envoy.yaml runs a network filter as an HTTP one.
    return [
      `the plugin has no HTTP context for this request (in ${trap.callback}): it is a network (TCP) filter, and envoy.yaml loads it as an HTTP filter`,
      "  load it with envoy.filters.network.wasm in a listener's filter_chains, not in http_filters; or, if it is meant to be an HTTP filter, implement NewHttpContext in its plugin context.",
      `  ${CONSEQUENCE[trap.failurePolicy]}`,
      "  Save the change (under `up --watch`), or run `envoywasm reload`.",
    ];
  }
  const what = trap.message === undefined ? "trapped" : `panicked: ${trap.message}`;
  const lines = [`the plugin ${what} (in ${trap.callback})`];
  if (trap.func !== undefined || trap.location !== undefined) {
    lines.push(`  at ${[trap.func, trap.location === undefined ? undefined : `(${trap.location})`].filter(Boolean).join(" ")}`);
  }
  const cause = sdkPanicCause(trap.message);
  if (cause !== undefined) lines.push(`  ${cause}.`);
  lines.push(`  ${CONSEQUENCE[trap.failurePolicy]}`);
  lines.push("  Fix it and save (under `up --watch`), or run `envoywasm reload`: the fixed module gets a new VM.");
  return lines;
}
