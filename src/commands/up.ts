import { fork, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CancelledError, UsageError, UserError } from "../errors.js";
import { prepareUp, type Prepared, type UpOptions } from "../run/prepare.js";
import type { PullPolicy } from "../platform/docker.js";
import { rotateLog } from "../run/logs/mux.js";
import type { RunPlan } from "../run/plan.js";
import { supervise } from "../run/supervisor/supervise.js";
import type { RunOutcome } from "../run/supervisor/records.js";
import { ui } from "../ui/output.js";
import { startProgress, type Progress } from "../ui/progress.js";
import { formatMs } from "../build/report.js";
import { openProject } from "../project/load.js";
import { reportTrap } from "../run/logs/trap-report.js";
import * as v from "valibot";
import { DaemonMessageSchema, type DaemonMessage, type PlanMessage } from "../run/supervisor/messages.js";
import { projectPaths } from "../project/paths.js";
import { PACKAGE_ROOT } from "../platform/package-root.js";
import { SUPERVISOR_NODE_FLAGS, supervisorEnv } from "../run/supervisor/launch.js";
import { writeFileAtomic } from "../platform/files.js";
import { claimSignals } from "../platform/exit-hook.js";

export interface UpFlags {
  /** With detach: the result as JSON on stdout. */
  json?: boolean;
  detach?: boolean;
  watch?: boolean;
  envoy?: string;
  logLevel?: string;
  wasmLogLevel?: string;
  concurrency?: number;
  baseId?: number;
  readyTimeout?: number;
  docker?: boolean;
  envoyImage?: string;
  pull?: PullPolicy;
  expose?: boolean;
}

export async function runUp(flags: UpFlags, globals: { cwd: string }): Promise<void> {
  if (flags.json === true && flags.detach !== true) throw new UsageError("--json goes with --detach: a foreground `up` streams the services' output");
  const { project } = await openProject(globals.cwd, (m) => ui.warn(m));
  if (flags.detach === true && flags.watch === true) ui.info(ui.paint("gray", "• watching in the background: reloads are told in `envoywasm logs supervisor`"));
  // A pull reports many times a second: a spinner on a terminal, a line every few seconds elsewhere.
  let pull: Promise<Progress> | undefined;
  let lastPullLine = 0;
  const onPull = (text: string | undefined) => {
    if (text === undefined) {
      void pull?.then((p) => p.succeed("image pulled"));
      pull = undefined;
    } else if (pull === undefined) {
      pull = startProgress(text);
      lastPullLine = Date.now();
    } else if (process.stderr.isTTY === true || Date.now() - lastPullLine > 3000) {
      lastPullLine = Date.now();
      void pull.then((p) => p.update(text));
    }
  };
  const options: UpOptions = {
    cwd: globals.cwd,
    project,
    onPull,
    onPhase: (p) => ui.info(ui.paint("gray", `• ${p}`)),
    onWarning: (w) => ui.warn(w),
    onCompilerOutput: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
    envoy: flags.envoy,
    logLevel: flags.logLevel,
    wasmLogLevel: flags.wasmLogLevel,
    concurrency: flags.concurrency,
    baseId: flags.baseId,
    readyTimeoutMs: flags.readyTimeout === undefined ? undefined : flags.readyTimeout * 1000,
    docker: flags.docker,
    envoyImage: flags.envoyImage,
    pull: flags.pull,
    expose: flags.expose,
    watch: flags.watch,
  };
  if (flags.expose === true)
    ui.warn(
      "--expose: Envoy's listeners (and, in Docker, every published port) are reachable from other machines; its admin interface can shut it down and dumps its config",
    );

  const started = performance.now();
  // The background supervisor is forked now, to start up while `up` builds and checks; it waits for the plan.
  const early = flags.detach === true ? forkSupervisor(projectPaths(project).logs) : undefined;
  let prepared: Prepared;
  try {
    prepared = await prepareUp(options);
  } catch (error) {
    abandon(early);
    throw error;
  }
  const { plan } = prepared;
  const tries = prepared.tryLines;

  if (early !== undefined) {
    let ms: number;
    try {
      ms = await startDetached(plan, prepared.paths.state, early);
    } catch (error) {
      abandon(early);
      await prepared.release().catch(() => {});
      throw error;
    }
    if (flags.json === true) {
      ui.resultJson({
        ready: true,
        ms: Math.round(performance.now() - started),
        servicesMs: ms,
        envoy: plan.envoy,
        listeners: plan.listeners.map((l) => ({ name: l.name, url: `http://127.0.0.1:${l.port}/` })),
        admin: plan.admin,
        modules: plan.modules,
        watch: plan.watch,
        try: tries,
      });
      return;
    }
    ui.success(
      `ready in ${formatMs(Math.round(performance.now() - started))} (services up in ${formatMs(ms)}), running in the background${plan.watch ? ", watching for changes" : ""}`,
    );
    for (const t of tries) ui.result(`  try:   ${t}`);
    ui.result(`  logs:  envoywasm logs -f   (plugin lines only: envoywasm logs --wasm)`);
    ui.result(`  stop:  envoywasm down`);
    return;
  }

  const outcome = await supervise(plan, {
    mode: "foreground",
    terminal: process.stdout,
    colour: ui.stdoutColour,
    verbose: ui.verbose,
    onProgress: (text) => ui.info(ui.paint("gray", `• ${text}`)),
    onNotice: (text, level) =>
      level === "info"
        ? ui.info(`${ui.paint("cyan", "envoywasm:")} ${text}`)
        : level === "warn"
          ? ui.warn(text)
          : ui.info(`${ui.paint("red", "envoywasm:")} ${text}`),
    onReady: ({ services, hiddenStartupLines }) => {
      const each = services.map((s) => `${s.name} ${formatMs(s.ms)}`).join(", ");
      ui.success(`ready in ${formatMs(Math.round(performance.now() - started))} (${each}): ${describeEndpoints(prepared)}`);
      if (hiddenStartupLines > 0) {
        ui.info(ui.paint("gray", `  (${hiddenStartupLines} lines of Envoy start-up info are in .envoywasm/logs/envoy.log; --verbose shows them here)`));
      }
      for (const t of tries) ui.info(`  try:  ${t}`);
      ui.info(`  ${plan.watch ? "watching plugins, envoy.yaml and the backend: saving reloads. " : ""}Ctrl-C stops everything`);
    },
    onStopping: (why) =>
      ui.info(
        ui.paint(
          "gray",
          `• ${why}: stopping ${plan.services
            .map((s) => s.name)
            .reverse()
            .join(" and ")} (Ctrl-C again to force)`,
        ),
      ),
    onPluginTrap: reportTrap,
  });
  reportOutcome(outcome, plan);
}

function describeEndpoints(prepared: Prepared): string {
  const { plan } = prepared;
  const listeners = plan.listeners.map((l) => `${l.name} on 127.0.0.1:${l.port}`).join(", ");
  const backend = plan.services.find((s) => s.name === "backend");
  return `Envoy ${plan.envoy.version}${plan.runtime.kind === "docker" ? " in Docker" : ""} (${listeners}; admin ${plan.admin})${backend === undefined ? "" : `, backend on ${backend.ports[0]}`}`;
}

function reportOutcome(outcome: RunOutcome, plan: RunPlan): void {
  if (outcome.kind === "stopped") {
    ui.success(
      `stopped ${plan.services
        .map((s) => s.name)
        .reverse()
        .join(" and ")}`,
    );
    return;
  }
  if (outcome.engine !== undefined) {
    throw new UserError(
      `the Docker engine (${outcome.engine}) stopped under the run, and ${plan.services
        .map((s) => s.name)
        .reverse()
        .join(" and ")} with it`,
      {
        hint: "start the engine again, then `envoywasm up --docker`; the next envoywasm command here removes the containers it left",
      },
    );
  }
  const exit = outcome.exit.signal !== null ? `was killed by ${outcome.exit.signal}` : `exited with code ${outcome.exit.code}`;
  const tail = outcome.lastLines
    .slice(-10)
    .map((l) => `  ${outcome.service} | ${l}`)
    .join("\n");
  const others = plan.services.filter((s) => s.name !== outcome.service).map((s) => s.name);
  throw new UserError(
    `${outcome.service} ${exit}${outcome.diagnosis === undefined ? " on its own" : `: ${outcome.diagnosis.message}`}${others.length === 0 ? "" : `; stopped ${others.join(" and ")}`}${tail === "" ? "" : `\nits last lines:\n${tail}`}`,
    { hint: outcome.diagnosis?.hint ?? `the full output is in .envoywasm/logs/${outcome.service}.log; run \`envoywasm up\` again when fixed` },
  );
}

/** A background supervisor forked before its plan was ready, and the log it writes to until then. */
interface EarlySupervisor {
  child: ChildProcess;
  log: string;
  /** Once it has its plan it is the run's supervisor: it cleans up after itself and its log stays. */
  handedOver?: boolean;
}

/**
 * Forks `up -d`'s background supervisor in its own process group, writing
 * to a log of its own until the run's lock is held (then it becomes
 * supervisor.log); it waits for its plan over IPC, and ends if `up` goes first.
 */
function forkSupervisor(logsDir: string): EarlySupervisor {
  mkdirSync(logsDir, { recursive: true });
  const log = path.join(logsDir, `${STARTING_LOG}${process.pid}.log`);
  const out = openSync(log, "w");
  const bin = path.join(PACKAGE_ROOT, "bin", "envoywasm.js");
  const child = fork(bin, ["__supervise", "--await-plan", ...(ui.verbose ? ["--verbose"] : [])], {
    detached: true,
    execArgv: [...process.execArgv, ...SUPERVISOR_NODE_FLAGS],
    stdio: ["ignore", out, out, "ipc"],
    env: supervisorEnv(process.env),
  });
  closeSync(out);
  return { child, log };
}

const STARTING_LOG = "supervisor.starting-";

/** `up` failed or was stopped before the run started: the early supervisor (ours, never reaped) goes, and its log. */
function abandon(early: EarlySupervisor | undefined): void {
  if (early === undefined || early.handedOver === true) return;
  if (early.child.exitCode === null && early.child.signalCode === null) early.child.kill("SIGTERM");
  rmSync(early.log, { force: true });
}

/** Hands the plan to the early supervisor and waits until it reports. */
async function startDetached(plan: RunPlan, stateDir: string, early: EarlySupervisor): Promise<number> {
  const planFile = path.join(stateDir, "plan.json");
  await writeFileAtomic(planFile, JSON.stringify(plan, null, 2));
  // Under the run's lock now: the last run's log becomes supervisor.1.log, the early one supervisor.log,
  // and logs of early supervisors whose `up` was killed are swept.
  rotateLog(plan.logsDir, "supervisor");
  renameSync(early.log, path.join(plan.logsDir, "supervisor.log"));
  early.handedOver = true;
  for (const f of readdirSync(plan.logsDir)) if (f.startsWith(STARTING_LOG)) rmSync(path.join(plan.logsDir, f), { force: true });
  const child = early.child;
  // Ctrl-C while it starts: the background supervisor must not carry on alone. A second one is not waited for.
  let interrupted: NodeJS.Signals | undefined;
  const releaseSignals = claimSignals((signal) => {
    releaseSignals();
    interrupted = signal;
    child.kill("SIGTERM");
  });
  const message = await new Promise<DaemonMessage | { type: "exit"; code: number | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ type: "exit", code: child.exitCode });
      return;
    }
    child.on("message", (m) => {
      if (v.is(DaemonMessageSchema, m)) resolve(m);
    });
    child.once("exit", (code) => resolve({ type: "exit", code }));
    child.send({ type: "plan", file: planFile } satisfies PlanMessage, (error) => {
      if (error !== null && error !== undefined) resolve({ type: "exit", code: child.exitCode });
    });
  });
  releaseSignals();
  child.removeAllListeners();
  if (interrupted !== undefined) {
    if (message.type !== "exit" && child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
    throw new CancelledError(interrupted);
  }
  if (child.connected) child.disconnect();
  child.unref();
  if (message.type === "ready") return message.ms;
  if (message.type === "failed") throw new UserError(message.message, { hint: message.hint });
  const log = await readFile(path.join(plan.logsDir, "supervisor.log"), "utf8").catch(() => "");
  throw new UserError(
    `the background supervisor exited (code ${message.code}) before the services were ready${log.trim() === "" ? "" : `:\n${log.trim().split("\n").slice(-12).join("\n")}`}`,
  );
}
