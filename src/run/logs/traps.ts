import type { FailurePolicy } from "../../envoy/bootstrap.js";
import { sdkPanic } from "../../envoy/go-panic.js";
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

export function describeTrap(trap: PluginTrap): string[] {
  const known = sdkPanic(trap.message);
  // An SDK's panic that is not the code's fault (a network filter run as an HTTP one) is told as what it is.
  const what = known?.instead ?? (trap.message === undefined ? "trapped" : `panicked: ${trap.message}`);
  const lines = [`the plugin ${what} (in ${trap.callback})`];
  if (known?.instead === undefined && (trap.func !== undefined || trap.location !== undefined)) {
    lines.push(`  at ${[trap.func, trap.location === undefined ? undefined : `(${trap.location})`].filter(Boolean).join(" ")}`);
  }
  if (known !== undefined) lines.push(`  ${known.cause}.`);
  lines.push(`  ${CONSEQUENCE[trap.failurePolicy]}`);
  lines.push(
    known?.instead === undefined
      ? "  Fix it and save (under `up --watch`), or run `envoywasm reload`: the fixed module gets a new VM."
      : "  Save the change (under `up --watch`), or run `envoywasm reload`.",
  );
  return lines;
}
