import { UserError } from "../../errors.js";
import { claimSignals, onExit } from "../../platform/exit-hook.js";
import { diagnoseEnvoy, envoyErrorLines, type FileContext } from "../../envoy/diagnose.js";
import { identify } from "../../platform/identity.js";
import { releaseLock } from "./lock.js";
import { LogMux } from "../logs/mux.js";
import type { RunPlan, ServicePlan } from "../plan.js";
import { PanicCollapser, TrapWatcher, type PluginTrap } from "../logs/traps.js";
import { delay } from "../runtime/process.js";
import { ecdsStatus, envoyState, httpGet, stats } from "../../envoy/admin.js";
import { runtimeFor, type Runtime } from "../runtime/runtime.js";
import { describeExit, type ExitInfo, type Service } from "../runtime/service.js";
import { removeState, writeLastRun, writeState, type LastRun, type RunState } from "./state.js";

/**
 * Runs a plan: starts its services in order, each only after the one before
 * is ready; then waits until the user stops the run or a service dies. Either
 * way every service is stopped (SIGTERM, then SIGKILL after the grace time),
 * the state file removed, the lock released and the outcome recorded. One of
 * these runs per `up`, in the foreground process or in the background one of
 * `up -d`, with either runtime. While it runs it serves reloads (watch mode,
 * `envoywasm reload`), which may swap modules in place or restart a service.
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

export type RunOutcome =
  | { kind: "stopped"; signal: NodeJS.Signals }
  | { kind: "crashed"; service: string; exit: ExitInfo; lastLines: string[]; diagnosis?: { message: string; hint: string }; engine?: string };

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

/** What the reloader and the control server may do to a running supervisor. */
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

export class Supervisor implements SupervisorHandle {
  readonly mux: LogMux;
  private runtime!: Runtime;
  private readonly traps: TrapWatcher | undefined;
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
    this.traps = this.hooks.onPluginTrap === undefined ? undefined : new TrapWatcher(plan.root, this.hooks.onPluginTrap, plan.failurePolicy);
    const collapser = new PanicCollapser();
    this.mux = new LogMux({
      services: plan.services.map((s) => s.name),
      logsDir: plan.logsDir,
      ...(hooks.terminal === undefined ? {} : { terminal: hooks.terminal }),
      colour: hooks.colour,
      readable: hooks.verbose !== true,
      ...(hooks.verbose === true ? {} : { showWhileStarting: startupLineWorthShowing, show: (s: string, l: string) => collapser.show(s, l) }),
      onLine: (service: string, line: string) => {
        this.traps?.feed(service, line);
        for (const listener of this.listeners) listener(service, line);
      },
    });
    this.stopRequested = new Promise<void>((resolve) => (this.wakeStop = resolve));
    this.crashed = new Promise((resolve) => (this.crash = resolve));
    this.state = {
      version: 2,
      runId: plan.runId,
      supervisor: identify(process.pid) ?? { pid: process.pid, startTime: "", command: "" },
      mode: hooks.mode,
      runtime: plan.runtime.kind,
      startedAt: new Date().toISOString(),
      envoy: { version: plan.envoy.version, ...(plan.envoy.path === undefined ? {} : { path: plan.envoy.path }), ...(plan.envoy.image === undefined ? {} : { image: plan.envoy.image }) },
      admin: plan.admin,
      listeners: plan.listeners,
      services: [],
      modules: plan.modules,
      watch: plan.watch,
      controlSocket: plan.controlSocket,
    };
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
    this.plan.modules = modules;
    this.state.modules = modules;
    // A restart may have moved the admin port or the listeners.
    this.state.admin = this.plan.admin;
    this.state.listeners = this.plan.listeners;
    await this.saveState();
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
          const diagnosis = engine === undefined ? this.crashDiagnosis(first.service) : undefined;
          outcome = { kind: "crashed", service: first.service.name, exit: first.exit, lastLines, ...(diagnosis === undefined ? {} : { diagnosis }), ...(engine === undefined ? {} : { engine }) };
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
      this.traps?.flush();
      // Without its engine, the run's containers cannot be removed now: the state stays, and the next command removes them once it answers.
      if (outcome?.kind !== "crashed" || outcome.engine === undefined) await removeState(this.plan.stateFile);
      await writeLastRun(this.plan.lastRunFile, this.lastRun(outcome, failure)).catch(() => {});
      await this.mux.close();
      await releaseLock(this.plan.lockFile, this.plan.runId).catch(() => {});
      releaseSignals();
      forgetExit();
    }
  }

  /** Why a service ended on its own, when it can be told: someone else stopped its container, or Envoy's own reason. */
  private crashDiagnosis(service: Service): { message: string; hint: string } | undefined {
    if (service.stoppedFromOutside?.() === true) {
      return { message: "its container was stopped from outside envoywasm (docker stop, docker kill)", hint: "`envoywasm down` stops a run and `envoywasm up` starts it again" };
    }
    return service.name === "envoy" ? diagnoseEnvoy(service.recentLines(), this.fileContext()) : undefined;
  }

  /** What the explanation of a file Envoy cannot read needs: where the project is, as Envoy sees it. */
  fileContext(): FileContext {
    const runtime = this.plan.runtime;
    const mount = runtime.kind === "docker" ? runtime.mounts.find((m) => m.host === this.plan.root) : undefined;
    return {
      root: this.plan.root,
      ...(this.plan.envoyConfig === undefined ? {} : { envoyConfig: this.plan.envoyConfig }),
      ...(runtime.kind === "docker" && mount !== undefined ? { container: { mount: mount.container, user: runtime.user, groups: runtime.groups ?? [] } } : {}),
    };
  }

  private lastRun(outcome: RunOutcome | undefined, failure: unknown): LastRun {
    const base = { runId: this.plan.runId, startedAt: this.state.startedAt, endedAt: new Date().toISOString(), mode: this.state.mode, runtime: this.state.runtime };
    if (outcome?.kind === "crashed") {
      return {
        ...base,
        outcome: "crashed",
        service: outcome.service,
        exit: outcome.exit,
        lastLines: outcome.lastLines,
        ...(outcome.diagnosis === undefined ? {} : { reason: outcome.diagnosis.message }),
        ...(outcome.engine === undefined ? {} : { engine: outcome.engine }),
      };
    }
    if (outcome === undefined) {
      const message = failure instanceof Error ? failure.message : String(failure);
      return { ...base, outcome: "failed", reason: message.split("\n")[0] ?? message, lastLines: message.split("\n").slice(1, 13) };
    }
    return { ...base, outcome: "stopped", reason: this.stopSignal === undefined ? "stopped" : `stopped by ${this.stopSignal === "SIGINT" ? "Ctrl-C" : this.stopSignal}` };
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
      throw new UserError(`could not start ${spec.name} (${spec.file}): ${(error as Error).message}`, {
        hint: this.plan.runtime.kind === "docker" ? "check the image and the Docker engine (`envoywasm doctor`)" : "check that the file exists and is executable",
      });
    }
    void service.exited.then((exit) => {
      if (!this.expected.has(service) && this.services.get(spec.name) === service) this.crash({ service, exit });
    });
    // In the plan's order, whichever of the services starting together got here first.
    const records = [...this.state.services.filter((s) => s.name !== spec.name), service.record()];
    const order = this.plan.services.map((p) => p.name);
    this.state.services = records.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
    await this.saveState();
    const outcome = await Promise.race([
      this.waitReady(service, spec).then(() => "ready" as const),
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

  private async waitReady(service: Service, spec: ServicePlan): Promise<void> {
    const started = Date.now();
    let lastNotice = started;
    const probe = readinessProbe(service, spec);
    for (;;) {
      if (service.done) throw new ServiceExitedError(service.name, await service.exited);
      const state = await probe();
      if (state.ready) break;
      if (state.error !== undefined) throw new UserError(state.error.message, { hint: state.error.hint });
      const now = Date.now();
      if (now - started > this.plan.readyTimeoutMs) {
        let detail = state.detail;
        if (spec.ready.kind === "envoy-admin") {
          // What Envoy is stuck on: its /ready state and its Wasm counters.
          const wasm = await stats(spec.ready.port, "^wasm\\.", 3000);
          const shown = [...(wasm?.entries() ?? [])].filter(([, v]) => v !== "0").slice(0, 8).map(([k, v]) => `${k}: ${v}`);
          detail = `/ready says ${state.detail ?? "nothing (the admin interface does not answer)"}${shown.length === 0 ? "" : `; ${shown.join(", ")}`}`;
        }
        throw new ServiceTimeoutError(service.name, this.plan.readyTimeoutMs, detail);
      }
      if (now - lastNotice >= 2000) {
        lastNotice = now;
        this.hooks.onProgress?.(`waiting for ${service.name}${state.detail === undefined ? "" : ` (${state.detail})`}, ${Math.round((now - started) / 1000)} s`);
      }
      await Promise.race([service.exited, delay(20)]);
    }
    if (spec.name === "envoy" && this.plan.ecds.length > 0) await this.waitEcds(service, spec.ready.port, started);
  }

  /**
   * /ready says LIVE even when a filter's first config was rejected (every
   * request then gets 500 NFCF), so each filter must also serve the version
   * this run wrote.
   */
  private async waitEcds(service: Service, adminPort: number, started: number): Promise<void> {
    const names = this.plan.ecds.map((e) => e.name);
    for (;;) {
      if (service.done) throw new ServiceExitedError(service.name, await service.exited);
      const status = await ecdsStatus(adminPort, names);
      if (status !== undefined) {
        const rejected = this.plan.ecds.find((e) => (status.get(e.name)?.rejected ?? 0) + (status.get(e.name)?.failed ?? 0) > 0);
        if (rejected !== undefined) {
          await delay(100);
          throw new EcdsRejectedError(rejected.plugin ?? rejected.name);
        }
        if (this.plan.ecds.every((e) => status.get(e.name)?.version === e.version)) return;
      }
      if (Date.now() - started > this.plan.readyTimeoutMs) throw new ServiceTimeoutError(service.name, this.plan.readyTimeoutMs, "the Wasm filter's config was not applied");
      await delay(20);
    }
  }

  private async stopAll(): Promise<void> {
    for (const service of [...this.services.values()].reverse()) {
      this.expected.add(service);
      await service.stop(this.plan.graceMs);
    }
  }
}

type ProbeState = { ready: boolean; detail?: string; error?: { message: string; hint: string } };

/** Ready: Envoy's /ready says LIVE; the backend answers HTTP (any status) and is the one holding its port. */
function readinessProbe(service: Service, spec: ServicePlan): () => Promise<ProbeState> {
  const ready = spec.ready;
  if (ready.kind === "envoy-admin") {
    return async () => {
      const state = await envoyState(ready.port);
      return { ready: state === "LIVE", ...(state === undefined ? {} : { detail: state }) };
    };
  }
  return async () => {
    const answer = await httpGet(`http://127.0.0.1:${ready.port}/`, 1000);
    if (answer === undefined) return { ready: false };
    const owns = service.ownsPort?.(ready.port);
    if (owns === false) {
      return {
        ready: false,
        error: { message: `port ${ready.port} answers, but not from ${service.name}: another process took it`, hint: "stop that process (`envoywasm doctor` names it), then run `envoywasm up` again" },
      };
    }
    return { ready: true };
  };
}

/** While starting, show Envoy's warnings, errors and plugin lines, and everything the backend says. */
export function startupLineWorthShowing(service: string, line: string): boolean {
  if (service !== "envoy") return true;
  if (/\bwasm log\b/.test(line)) return true;
  const level = /^\[[^\]]+\]\[\d+\]\[(\w+)\]/.exec(line)?.[1];
  return level === undefined || !["trace", "debug", "info"].includes(level);
}

export class ServiceExitedError extends Error {
  constructor(
    readonly service: string,
    readonly exit: ExitInfo,
  ) {
    super(`${service} ${describeExit(exit)} before it was ready`);
  }
}

export class ServiceTimeoutError extends Error {
  constructor(
    readonly service: string,
    readonly timeoutMs: number,
    readonly detail?: string,
  ) {
    super(`${service} was not ready after ${Math.round(timeoutMs / 1000)} s${detail === undefined ? "" : ` (${detail})`}`);
  }
}

export class EcdsRejectedError extends Error {
  constructor(readonly plugin: string) {
    super(`Envoy did not load the plugin ${plugin}`);
  }
}

function startFailure(service: Service, error: unknown, files: FileContext): UserError {
  if (error instanceof UserError) return error;
  const lines = service.recentLines();
  if (error instanceof ServiceExitedError || error instanceof ServiceTimeoutError || error instanceof EcdsRejectedError) {
    const diagnosis = service.name === "envoy" ? diagnoseEnvoy(lines, files) : undefined;
    const shown = (service.name === "envoy" ? envoyErrorLines(lines) : lines).slice(-12);
    const tail = shown.length === 0 ? "" : `\n${shown.map((l) => `  ${service.name} | ${l}`).join("\n")}`;
    if (diagnosis !== undefined) return new UserError(`${error.message}: ${diagnosis.message}${tail}`, { hint: diagnosis.hint });
    return new UserError(`${error.message}${tail.length > 0 ? `; its last lines:${tail}` : ""}`, {
      hint: `the full output is in .envoywasm/logs/${service.name}.log${error instanceof ServiceTimeoutError ? "; a slow machine may need --ready-timeout" : ""}`,
    });
  }
  return new UserError(`${service.name} failed to start: ${(error as Error).message}`);
}
