import type { FileContext } from "../../envoy/config-errors.js";
import type { LogMux } from "../logs/mux.js";
import type { RunPlan, ServicePlan } from "../plan.js";
import type { RunState } from "./state.js";

/**
 * What the reloader and the control server may do to a running supervisor.
 * A module of its own, so that reload/ needs nothing of the supervisor that loads it.
 */
export interface SupervisorHandle {
  readonly plan: RunPlan;
  /** A foreground `up` (a CLI process) or the background supervisor of `up -d`. */
  readonly mode: RunState["mode"];
  readonly mux: LogMux;
  notice(text: string, level?: "info" | "warn" | "error"): void;
  /** Stops a service on purpose (not a crash) and starts it again from a (new) spec; resolves once ready. */
  restartService(spec: ServicePlan): Promise<void>;
  recentLines(service: string): string[];
  /** Calls `onLine` for every line from now on, until the returned function is called. */
  listen(onLine: (service: string, line: string) => void): () => void;
  /** Records the modules now serving (state.json, status). */
  setModules(modules: RunPlan["modules"]): Promise<void>;
  /** Where the project is, as Envoy sees it: for explaining a file it cannot read. */
  fileContext(): FileContext;
}
