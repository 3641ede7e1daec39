import { claimSignals, onExit } from "../../platform/exit-hook.js";
import type { FileContext } from "../../envoy/config-errors.js";
import { releaseLock } from "./lock.js";
import { LogMux } from "../logs/mux.js";
import type { RunPlan, ServicePlan } from "../plan.js";
import { PanicWatch, type PluginTrap } from "../logs/traps.js";
import { delay } from "../../platform/time.js";
import { runtimeFor, type Runtime } from "../runtime/runtime.js";
import { describeExit, type ExitInfo, type Service } from "../runtime/service.js";
import { removeState, writeLastRun, writeState, type RunState } from "./state.js";
import { couldNotStart, crashDiagnosis, fileContext, startFailure } from "./errors.js";
import type { SupervisorHandle } from "./handle.js";
import { waitReady } from "./readiness.js";
import { initialState, lastRun, stopRequestedBy, withService, type RunOutcome } from "./records.js";

/**
 * Runs a plan: starts its services, waits until the user stops the run or a
 * service dies, and either way stops every service (SIGTERM, then SIGKILL
 * after the grace time), removes the state file, releases the lock and
 * records the outcome. One per `up`, foreground or `up -d`'s background
 * process, with either runtime; while it runs it serves reloads.
 */

export interface SuperviseHooks {
  mode: RunState["mode"];
  terminal?: NodeJS.WritableStream;
  colour: boolean;
  /** A progress note while starting ("starting envoy", "waiting for envoy (INITIALIZING, 4 s)"). */
  onProgress?: (text: string) => void;
  onReady?: (info: { ms: number; services: { name: string; ms: number }[]; hiddenStartupLines: number }) => void;
  /** Echo every start-up line and full plugin lines, not only warnings, errors and plugin messages. */
  verbose?: boolean;
  /** Told when the plugin traps (a Go panic) while running. */
  onPluginTrap?: (trap: PluginTrap) => void;
  /** Told once when stopping starts, with why. */
  onStopping?: (why: string) => void;
  /** Reload results and other news while running. */
  onNotice?: (text: string, level: "info" | "warn" | "error") => void;
}

/** The hooks, each writing the service lines still pending first: what envoywasm says follows the lines it saw. */
function afterPendingLines(hooks: SuperviseHooks, flush: () => void): SuperviseHooks {
  const wrapped: Record<string, unknown> = { ...hooks };
  for (const [key, value] of Object.entries(hooks)) {
    if (key.startsWith("on") && typeof value === "function") {
      wrapped[key] = (...args: unknown[]) => {
        flush();
        return (value as (...a: unknown[]) => unknown)(...args);
      };
    }
  }
  return wrapped as unknown as SuperviseHooks;
}

export async function supervise(plan: RunPlan, hooks: SuperviseHooks): Promise<RunOutcome> {
  return new Supervisor(plan, hooks).run();
}

export class Supervisor implements SupervisorHandle {
  readonly mux: LogMux;
  private runtime!: Runtime;
  private readonly traps: PanicWatch;
  private readonly services = new Map<string, Service>();
  /** Services stopped on purpose; their exit is not a crash. */
  private readonly expected = new Set<Service>();
  private stopSignal: NodeJS.Signals | undefined;
  private wakeStop!: () => void;
  private readonly stopRequested: Promise<void>;
  private crash!: (c: { service: Service; exit: ExitInfo }) => void;
  private readonly crashed: Promise<{ service: Service; exit: ExitInfo }>;
  private readonly state: RunState;
  private stateWrites: Promise<void> = Promise.resolve();
  /** Resolved when a service fails to start: the others stop waiting to be ready. */
  private abortStart!: () => void;
  private readonly startAborted = new Promise<void>((resolve) => (this.abortStart = resolve));
  private readonly closers: (() => Promise<void> | void)[] = [];
  private readonly listeners = new Set<(service: string, line: string) => void>();

  private readonly hooks: SuperviseHooks;

  get mode(): RunState["mode"] {
    return this.hooks.mode;
  }

  constructor(
    readonly plan: RunPlan,
    hooks: SuperviseHooks,
  ) {
    this.hooks = afterPendingLines(hooks, () => this.mux.flushTerminal());
    this.traps = new PanicWatch(plan.root, (trap) => this.hooks.onPluginTrap?.(trap), plan.failurePolicy);
    this.mux = new LogMux({
      services: plan.services.map((s) => s.name),
      logsDir: plan.logsDir,
      terminal: hooks.terminal,
      colour: hooks.colour,
      readable: hooks.verbose !== true,
      ...(hooks.verbose === true
        ? {}
        : { showWhileStarting: startupLineWorthShowing, show: (s: string, l: string) => !this.traps.hides(s) && !wasmChatter(s, l) }),
      onLine: (service: string, line: string) => {
        this.traps.feed(service, line);
        for (const listener of this.listeners) listener(service, line);
      },
    });
    this.stopRequested = new Promise<void>((resolve) => (this.wakeStop = resolve));
    this.crashed = new Promise((resolve) => (this.crash = resolve));
    this.state = initialState(plan, hooks.mode);
  }

  notice(text: string, level: "info" | "warn" | "error" = "info"): void {
    this.hooks.onNotice?.(text, level);
  }

  recentLines(service: string): string[] {
    return this.services.get(service)?.recentLines() ?? [];
  }

  listen(onLine: (service: string, line: string) => void): () => void {
    this.listeners.add(onLine);
    return () => this.listeners.delete(onLine);
  }

  async setModules(modules: RunPlan["modules"]): Promise<void> {
    // A module that replaced another serves from now on (status tells a trap before it from one after it).
    const now = new Date().toISOString();
    const was = new Map(this.state.modules.map((m) => [`${m.plugin}\0${m.sha256}`, m.since]));
    modules = modules.map((m) => ({ ...m, since: was.has(`${m.plugin}\0${m.sha256}`) ? was.get(`${m.plugin}\0${m.sha256}`) : now }));
    this.plan.modules = modules;
    this.state.modules = modules;
    // A restart may have moved the admin port or the listeners.
    this.state.admin = this.plan.admin;
    this.state.listeners = this.plan.listeners;
    await this.saveState();
  }

  fileContext(): FileContext {
    return fileContext(this.plan);
  }

  /** Ends the run as SIGTERM would (for a run started in-process, e.g. by bench). */
  stop(): void {
    if (this.stopSignal !== undefined) return;
    this.stopSignal = "SIGTERM";
    this.wakeStop();
  }

  /** Runs `close` when the run ends (watchers, the control server). */
  onClose(close: () => Promise<void> | void): void {
    this.closers.push(close);
  }

  async run(): Promise<RunOutcome> {
    const started = performance.now();
    const timings: { name: string; ms: number }[] = [];
    // Last resort: if this process dies in any way we do not handle, kill the children.
    const killNow = () => {
      for (const s of this.services.values()) s.killNow();
      this.runtime?.killNow();
    };
    const forgetExit = onExit(killNow);
    const releaseSignals = claimSignals((signal) => {
      if (this.stopSignal !== undefined) {
        // A second Ctrl-C: no more waiting.
        killNow();
        return;
      }
      this.stopSignal = signal;
      this.hooks.onStopping?.(signal === "SIGINT" ? "Ctrl-C" : signal);
      this.wakeStop();
    });

    let outcome: RunOutcome | undefined;
    let failure: unknown;
    try {
      // Recorded before anything starts, so a crash at any point leaves a trail the next command follows.
      await this.saveState();
      this.runtime = await runtimeFor(this.plan);
      this.hooks.onProgress?.(this.plan.runtime.kind === "docker" ? `setting up containers (${this.plan.runtime.image})` : "starting");
      await this.raceStop(this.runtime.setUp());
      // All at once: Envoy does not need the backend to start, only to answer (and a run is ready when both are).
      // The first to fail stops the others' waiting; its failure is the one reported.
      const starts = await Promise.allSettled(
        this.plan.services.map(async (spec) => {
          const t = performance.now();
          try {
            await this.startService(spec);
          } catch (error) {
            this.abortStart();
            throw error;
          }
          return { name: spec.name, ms: Math.round(performance.now() - t) };
        }),
      );
      const failed = starts.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      for (const r of starts) if (r.status === "fulfilled") timings.push(r.value);
      if (this.stopSignal === undefined) {
        this.state.readyAt = new Date().toISOString();
        await this.saveState();
        const hiddenStartupLines = this.mux.ready();
        const { startLive } = await import("../reload/live.js");
        this.onClose(await startLive(this));
        this.hooks.onReady?.({ ms: Math.round(performance.now() - started), services: timings, hiddenStartupLines });
        const first = await Promise.race([this.crashed, this.stopRequested.then(() => undefined)]);
        if (first !== undefined && this.stopSignal === undefined) {
          // A stopping Docker engine stops every container: that, not the container that went first, is the news.
          await delay(100); // let its last lines (and the engine's events) arrive
          const engine = await this.runtime.lostEngine?.();
          this.hooks.onStopping?.(engine === undefined ? `${first.service.name} ${describeExit(first.exit)}` : `the Docker engine (${engine}) stopped`);
          await this.stopAll();
          const lastLines = first.service.recentLines().slice(-20);
          const diagnosis = engine === undefined ? crashDiagnosis(first.service, this.fileContext()) : undefined;
          outcome = { kind: "crashed", service: first.service.name, exit: first.exit, lastLines, diagnosis, engine };
        }
      }
      await this.stopAll();
      outcome ??= { kind: "stopped", signal: this.stopSignal ?? "SIGTERM" };
      return outcome;
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      for (const close of this.closers.splice(0)) await Promise.resolve(close()).catch(() => {});
      await this.stopAll().catch(() => {});
      await this.runtime?.tearDown().catch(() => {});
      this.traps.flush();
      // Without its engine, the run's containers cannot be removed now: the state stays, and the next command removes them once it answers.
      if (outcome?.kind !== "crashed" || outcome.engine === undefined) await removeState(this.plan.stateFile);
      await writeLastRun(
        this.plan.lastRunFile,
        lastRun(
          this.state,
          outcome,
          failure,
          this.stopSignal,
          this.stopSignal === "SIGTERM" ? stopRequestedBy(this.plan.stateFile, this.plan.runId) : undefined,
        ),
      ).catch(() => {});
      await this.mux.close();
      await releaseLock(this.plan.lockFile, this.plan.runId).catch(() => {});
      releaseSignals();
      forgetExit();
    }
  }

  /** Writes the state file; writes are queued, so services starting at once cannot land out of order. */
  private saveState(): Promise<void> {
    const write = this.stateWrites.then(() => writeState(this.plan.stateFile, this.state));
    this.stateWrites = write.catch(() => {});
    return write;
  }

  private async raceStop<T>(work: Promise<T>): Promise<T | undefined> {
    return Promise.race([work, this.stopRequested.then(() => undefined)]);
  }

  /** Starts one service and waits until it is ready (or fails, or the user stops the run). */
  private async startService(spec: ServicePlan): Promise<void> {
    this.hooks.onProgress?.(`starting ${spec.name}`);
    const service = this.runtime.service(spec, (name, line) => this.mux.line(name, line));
    this.services.set(spec.name, service);
    try {
      await service.start();
    } catch (error) {
      throw couldNotStart(spec, this.plan.runtime.kind, error);
    }
    void service.exited.then((exit) => {
      if (!this.expected.has(service) && this.services.get(spec.name) === service) this.crash({ service, exit });
    });
    this.state.services = withService(this.state.services, service.record(), this.plan);
    await this.saveState();
    const outcome = await Promise.race([
      waitReady(service, spec, this.plan, (text) => this.hooks.onProgress?.(text)).then(() => "ready" as const),
      this.stopRequested.then(() => "stop" as const),
      this.startAborted.then(() => "stop" as const),
    ]).catch((error: unknown) => error);
    if (outcome === "stop" || outcome === "ready") return;
    throw startFailure(service, outcome, this.fileContext());
  }

  async restartService(spec: ServicePlan): Promise<void> {
    const old = this.services.get(spec.name);
    if (old !== undefined) {
      this.expected.add(old);
      await old.stop(this.plan.graceMs);
    }
    if (spec.name === "envoy") this.mux.restarting();
    await this.startService(spec);
    this.mux.ready();
  }

  private async stopAll(): Promise<void> {
    for (const service of [...this.services.values()].reverse()) {
      this.expected.add(service);
      await service.stop(this.plan.graceMs);
    }
  }
}

/** While starting, show Envoy's warnings, errors and plugin lines, and everything the backend says. */
export function startupLineWorthShowing(service: string, line: string): boolean {
  if (service !== "envoy") return true;
  if (/\bwasm log\b/.test(line)) return true;
  const level = /^\[[^\]]+\]\[\d+\]\[(\w+)\]/.exec(line)?.[1];
  return level === undefined || !["trace", "debug", "info"].includes(level);
}

/** Envoy's own wasm debug lines (VMs created and released on each reload): in the log files, not on the terminal unless --verbose. */
function wasmChatter(service: string, line: string): boolean {
  return service === "envoy" && /^\[[^\]]+\]\[\d+\]\[(debug|trace)\]\[wasm\]/.test(line) && !/\bwasm log\b/.test(line);
}
