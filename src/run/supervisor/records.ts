import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { identify } from "../../platform/identity.js";
import type { RunPlan } from "../plan.js";
import type { ExitInfo, ServiceRecord } from "../runtime/service.js";
import type { LastRun, RunState } from "./state.js";

/** What state.json and last-run.json are written with: who runs the project now, and how its last run ended. */

export type RunOutcome =
  | { kind: "stopped"; signal: NodeJS.Signals }
  | { kind: "crashed"; service: string; exit: ExitInfo; lastLines: string[]; diagnosis?: { message: string; hint: string }; engine?: string };

/** state.json as a run starts: services are added as they start. */
export function initialState(plan: RunPlan, mode: RunState["mode"]): RunState {
  return {
    version: 2,
    runId: plan.runId,
    supervisor: identify(process.pid) ?? { pid: process.pid, startTime: "", command: "" },
    mode,
    runtime: plan.runtime.kind,
    startedAt: new Date().toISOString(),
    envoy: { version: plan.envoy.version, path: plan.envoy.path, image: plan.envoy.image },
    admin: plan.admin,
    listeners: plan.listeners,
    services: [],
    modules: plan.modules,
    watch: plan.watch,
    controlSocket: plan.controlSocket,
  };
}

/** The services' records with `record` in place of its service's earlier one, in the plan's order whichever started first. */
export function withService(records: ServiceRecord[], record: ServiceRecord, plan: RunPlan): ServiceRecord[] {
  const order = plan.services.map((p) => p.name);
  return [...records.filter((s) => s.name !== record.name), record].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
}

/** last-run.json: how the run ended; with no outcome, it failed (with `failure`) before it was ready or stopped. */
export function lastRun(
  state: RunState,
  outcome: RunOutcome | undefined,
  failure: unknown,
  stopSignal: NodeJS.Signals | undefined,
  stoppedBy?: string,
): LastRun {
  const base = { runId: state.runId, startedAt: state.startedAt, endedAt: new Date().toISOString(), mode: state.mode, runtime: state.runtime };
  if (outcome?.kind === "crashed") {
    return {
      ...base,
      outcome: "crashed",
      service: outcome.service,
      exit: outcome.exit,
      lastLines: outcome.lastLines,
      reason: outcome.diagnosis?.message,
      engine: outcome.engine,
    };
  }
  if (outcome === undefined) {
    const message = failure instanceof Error ? failure.message : String(failure);
    return { ...base, outcome: "failed", reason: message.split("\n")[0] ?? message, lastLines: message.split("\n").slice(1, 13) };
  }
  const by = stoppedBy ?? (stopSignal === undefined ? undefined : stopSignal === "SIGINT" ? "Ctrl-C" : stopSignal);
  return { ...base, outcome: "stopped", reason: by === undefined ? "stopped" : `stopped by ${by}` };
}

/** Who asked this run to stop, when a command said so before signalling it (\`envoywasm down\` writes stop-request.json). */
export function stopRequestedBy(stateFile: string, runId: string): string | undefined {
  const file = path.join(path.dirname(stateFile), "stop-request.json");
  try {
    const request = JSON.parse(readFileSync(file, "utf8")) as { runId?: unknown; by?: unknown };
    rmSync(file, { force: true });
    return request.runId === runId && typeof request.by === "string" ? request.by : undefined;
  } catch {
    return undefined;
  }
}
