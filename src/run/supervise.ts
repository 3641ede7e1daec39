import { UserError } from "../errors.js";
import { diagnoseEnvoy, envoyErrorLines } from "./envoy-diagnose.js";
import { LogMux } from "./log-mux.js";
import type { RunPlan } from "./plan.js";
import { TrapWatcher, type PluginTrap } from "./plugin-watch.js";
import { probeFor } from "./probes.js";
import { delay, ProcessService, ServiceExitedError, ServiceTimeoutError } from "./process-service.js";
import { describeExit, type ExitInfo, type Service } from "./service.js";
import { removeState, writeState, type RunState } from "./state.js";

/**
 * Starts a plan's services in order, each only after the one before is
 * ready; then waits until the user stops the run or a service dies. Either
 * way every service is stopped (SIGTERM, then SIGKILL after the grace time)
 * and the state file removed. One of these runs per `up`, in the foreground
 * process or in the background one of `up -d`.
 */

export interface SuperviseHooks {
  mode: RunState["mode"];
  terminal?: NodeJS.WritableStream;
  colour: boolean;
  /** A progress note while starting ("starting envoy…", "waiting for envoy (INITIALIZING)…"). */
  onProgress?: (text: string) => void;
  onReady?: (info: { ms: number; services: { name: string; ms: number }[]; hiddenStartupLines: number }) => void;
  /** Echo every start-up line, not only warnings, errors and the plugin's. */
  showStartup?: boolean;
  /** Told when the plugin traps (a Go panic) while running. */
  onPluginTrap?: (trap: PluginTrap) => void;
  /** Told once when stopping starts, with why. */
  onStopping?: (why: string) => void;
}

export type RunOutcome =
  | { kind: "stopped"; signal: NodeJS.Signals }
  | { kind: "crashed"; service: string; exit: ExitInfo; lastLines: string[]; diagnosis?: { message: string; hint: string } };

export async function supervise(plan: RunPlan, hooks: SuperviseHooks): Promise<RunOutcome> {
  const started = performance.now();
  const traps = hooks.onPluginTrap === undefined ? undefined : new TrapWatcher(plan.root, hooks.onPluginTrap, plan.failurePolicy);
  const mux = new LogMux({
    services: plan.services.map((s) => s.name),
    logsDir: plan.logsDir,
    ...(hooks.terminal === undefined ? {} : { terminal: hooks.terminal }),
    colour: hooks.colour,
    ...(hooks.showStartup === true ? {} : { showWhileStarting: startupLineWorthShowing }),
    ...(traps === undefined ? {} : { onLine: (service: string, line: string) => traps.feed(service, line) }),
  });
  const timings: { name: string; ms: number }[] = [];
  const services: Service[] = plan.services.map(
    (spec) => new ProcessService({ ...spec, probe: probeFor(spec) }, (service, line) => mux.line(service, line)),
  );

  // Last resort: if this process dies in any way we do not handle, kill the children.
  const onExit = () => services.forEach((s) => s.killNow());
  process.on("exit", onExit);

  let stopSignal: NodeJS.Signals | undefined;
  let wakeStop!: () => void;
  const stopRequested = new Promise<void>((resolve) => {
    wakeStop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal !== undefined) {
      // A second Ctrl-C: no more waiting.
      services.forEach((s) => s.killNow());
      return;
    }
    stopSignal = signal;
    hooks.onStopping?.(signal === "SIGINT" ? "Ctrl-C" : signal);
    wakeStop();
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, onSignal);

  const state: RunState = {
    version: 1,
    supervisorPid: process.pid,
    mode: hooks.mode,
    startedAt: new Date().toISOString(),
    envoy: plan.envoy,
    ports: plan.ports,
    services: [],
  };

  const stopAll = async () => {
    for (const service of [...services].reverse()) await service.stop(plan.graceMs);
  };

  try {
    for (const [index, service] of services.entries()) {
      const spec = plan.services[index]!;
      if (stopSignal !== undefined) break;
      hooks.onProgress?.(`starting ${service.name}`);
      try {
        await service.start();
      } catch (error) {
        await stopAll();
        throw new UserError(`could not start ${service.name} (${spec.file}): ${(error as Error).message}`, {
          hint: "check that the file exists and is executable",
        });
      }
      state.services.push({ name: service.name, pid: service.pid!, match: spec.file, port: spec.port });
      await writeState(plan.stateFile, state);
      const serviceStarted = performance.now();
      const ready = service.waitReady(plan.readyTimeoutMs, (ms) =>
        hooks.onProgress?.(`waiting for ${service.name} (${(ms / 1000).toFixed(0)} s)`),
      );
      const outcome = await Promise.race([ready.then(() => "ready" as const), stopRequested.then(() => "stop" as const)]).catch(
        (error: unknown) => error,
      );
      if (outcome === "stop") break;
      if (outcome !== "ready") {
        await stopAll();
        throw startFailure(service, outcome);
      }
      timings.push({ name: service.name, ms: Math.round(performance.now() - serviceStarted) });
    }
    if (stopSignal === undefined) {
      state.readyAt = new Date().toISOString();
      await writeState(plan.stateFile, state);
      const hiddenStartupLines = mux.ready();
      hooks.onReady?.({ ms: Math.round(performance.now() - started), services: timings, hiddenStartupLines });

      const crashed = Promise.race(services.map((s) => s.exited.then((exit) => ({ service: s, exit }))));
      const first = await Promise.race([crashed, stopRequested.then(() => undefined)]);
      if (first !== undefined && stopSignal === undefined) {
        hooks.onStopping?.(`${first.service.name} ${describeExit(first.exit)}`);
        await delay(100); // let its last lines arrive
        await stopAll();
        const lastLines = first.service.recentLines().slice(-20);
        const diagnosis = first.service.name === "envoy" ? diagnoseEnvoy(first.service.recentLines()) : undefined;
        return { kind: "crashed", service: first.service.name, exit: first.exit, lastLines, ...(diagnosis === undefined ? {} : { diagnosis }) };
      }
    }
    await stopAll();
    return { kind: "stopped", signal: stopSignal ?? "SIGTERM" };
  } finally {
    await stopAll().catch(() => {});
    traps?.flush();
    await removeState(plan.stateFile);
    await mux.close();
    for (const s of signals) process.off(s, onSignal);
    process.off("exit", onExit);
  }
}

/** While starting, show Envoy's warnings, errors and plugin lines, and everything the backend says. */
export function startupLineWorthShowing(service: string, line: string): boolean {
  if (service !== "envoy") return true;
  if (/\bwasm log\b/.test(line)) return true;
  const level = /^\[[^\]]+\]\[\d+\]\[(\w+)\]/.exec(line)?.[1];
  return level === undefined || !["trace", "debug", "info"].includes(level);
}

function startFailure(service: Service, error: unknown): UserError {
  const lines = service.recentLines();
  if (error instanceof ServiceExitedError || error instanceof ServiceTimeoutError) {
    const diagnosis = service.name === "envoy" ? diagnoseEnvoy(lines) : undefined;
    const shown = (service.name === "envoy" ? envoyErrorLines(lines) : lines).slice(-12);
    const tail = shown.length === 0 ? "" : `\n${shown.map((l) => `  ${service.name} | ${l}`).join("\n")}`;
    if (diagnosis !== undefined) return new UserError(`${error.message}: ${diagnosis.message}${tail}`, { hint: diagnosis.hint });
    return new UserError(`${error.message}${tail.length > 0 ? `; its last lines:${tail}` : ""}`, {
      hint: `the full output is in .envoywasm/logs/${service.name}.log`,
    });
  }
  return new UserError(`${service.name} failed to start: ${(error as Error).message}`);
}
