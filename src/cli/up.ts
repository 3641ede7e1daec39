import { fork } from "node:child_process";
import { openSync, closeSync, mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CancelledError, UserError } from "../errors.js";
import { prepareUp, type UpOptions } from "../commands/up.js";
import type { RunPlan } from "../run/plan.js";
import { supervise, type RunOutcome } from "../run/supervise.js";
import { writeFileAtomic } from "../lib/write-plan.js";
import { ui } from "../ui/output.js";
import { formatMs } from "./build.js";
import { reportTrap } from "./trap.js";

export interface UpFlags {
  detach?: boolean;
  envoy?: string;
  logLevel?: string;
  wasmLogLevel?: string;
  concurrency?: string;
  baseId?: string;
  readyTimeout?: string;
}

function numberFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`--${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  return n;
}

export async function runUp(flags: UpFlags, globals: { cwd: string }): Promise<void> {
  const options: UpOptions = {
    cwd: globals.cwd,
    onPhase: (p) => ui.info(ui.paint("gray", `• ${p}`)),
    onWarning: (w) => ui.warn(w),
    onCompilerOutput: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  };
  if (flags.envoy !== undefined) options.envoy = flags.envoy;
  if (flags.logLevel !== undefined) options.logLevel = flags.logLevel;
  if (flags.wasmLogLevel !== undefined) options.wasmLogLevel = flags.wasmLogLevel;
  const concurrency = numberFlag("concurrency", flags.concurrency, 1, 64);
  if (concurrency !== undefined) options.concurrency = concurrency;
  const baseId = numberFlag("base-id", flags.baseId, 0, 4_000_000);
  if (baseId !== undefined) options.baseId = baseId;
  const readyTimeout = numberFlag("ready-timeout", flags.readyTimeout, 1, 600);
  if (readyTimeout !== undefined) options.readyTimeoutMs = readyTimeout * 1000;

  const started = performance.now();
  const prepared = await prepareUp(options);
  const { plan } = prepared;
  const curl = `curl -i http://127.0.0.1:${plan.ports.listener}/hello`;

  if (flags.detach === true) {
    const ms = await startDetached(plan, prepared.paths.state);
    ui.success(`ready in ${formatMs(Math.round(performance.now() - started))} (services up in ${formatMs(ms)}), running in the background`);
    ui.result(`  try:   ${curl}`);
    ui.result(`  logs:  envoywasm logs -f   (plugin lines only: envoywasm logs --wasm)`);
    ui.result(`  stop:  envoywasm down`);
    return;
  }

  const outcome = await supervise(plan, {
    mode: "foreground",
    terminal: process.stdout,
    colour: ui.stdoutColour,
    onProgress: (text) => ui.info(ui.paint("gray", `• ${text}`)),
    showStartup: ui.verbose,
    onReady: ({ services, hiddenStartupLines }) => {
      const each = services.map((s) => `${s.name} ${formatMs(s.ms)}`).join(", ");
      ui.success(
        `ready in ${formatMs(Math.round(performance.now() - started))} (${each}): Envoy on 127.0.0.1:${plan.ports.listener} (admin ${plan.ports.admin}), backend on ${plan.ports.backend}`,
      );
      if (hiddenStartupLines > 0) {
        ui.info(ui.paint("gray", `  (${hiddenStartupLines} lines of Envoy start-up info are in .envoywasm/logs/envoy.log; --verbose shows them here)`));
      }
      ui.info(`  try:  ${curl}      Ctrl-C stops both`);
    },
    onStopping: (why) => ui.info(ui.paint("gray", `• ${why}: stopping envoy and backend (Ctrl-C again to force)`)),
    onPluginTrap: reportTrap,
  });
  reportOutcome(outcome);
}

function reportOutcome(outcome: RunOutcome): void {
  if (outcome.kind === "stopped") {
    ui.success("stopped envoy and backend");
    return;
  }
  const exit = outcome.exit.signal !== null ? `was killed by ${outcome.exit.signal}` : `exited with code ${outcome.exit.code}`;
  const tail = outcome.lastLines.slice(-10).map((l) => `  ${outcome.service} | ${l}`).join("\n");
  throw new UserError(
    `${outcome.service} ${exit} on its own${outcome.diagnosis === undefined ? "" : `: ${outcome.diagnosis.message}`}; stopped the other service${tail === "" ? "" : `\nits last lines:\n${tail}`}`,
    { hint: outcome.diagnosis?.hint ?? `the full output is in .envoywasm/logs/${outcome.service}.log; run \`envoywasm up\` again when fixed` },
  );
}

type DaemonMessage = { type: "ready"; ms: number } | { type: "failed"; message: string; hint?: string };

/** Starts the supervisor in a background process of its own and waits until it reports. */
async function startDetached(plan: RunPlan, stateDir: string): Promise<number> {
  mkdirSync(plan.logsDir, { recursive: true });
  const planFile = path.join(stateDir, "plan.json");
  await writeFileAtomic(planFile, JSON.stringify(plan, null, 2));
  const out = openSync(path.join(plan.logsDir, "supervisor.log"), "w");
  const bin = fileURLToPath(new URL("../../bin/envoywasm.js", import.meta.url));
  const child = fork(bin, ["__supervise", planFile, ...(ui.verbose ? ["--verbose"] : [])], {
    detached: true,
    stdio: ["ignore", out, out, "ipc"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  closeSync(out);
  // Ctrl-C while it starts: the background supervisor must not carry on alone.
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    child.kill("SIGTERM");
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const message = await new Promise<DaemonMessage | { type: "exit"; code: number | null }>((resolve) => {
    child.once("message", (m) => resolve(m as DaemonMessage));
    child.once("exit", (code) => resolve({ type: "exit", code }));
  });
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  child.removeAllListeners();
  if (interrupted !== undefined) {
    if (message.type !== "exit") await new Promise((resolve) => child.once("exit", resolve));
    throw new CancelledError(interrupted);
  }
  if (child.connected) child.disconnect();
  child.unref();
  if (message.type === "ready") return message.ms;
  if (message.type === "failed") throw new UserError(message.message, message.hint === undefined ? undefined : { hint: message.hint });
  const log = await readFile(path.join(plan.logsDir, "supervisor.log"), "utf8").catch(() => "");
  throw new UserError(`the background supervisor exited (code ${message.code}) before the services were ready${log.trim() === "" ? "" : `:\n${log.trim()}`}`);
}

/** The background supervisor of `up -d` (hidden command `__supervise <plan>`). */
export async function runSupervisor(planFile: string): Promise<void> {
  const plan = JSON.parse(await readFile(planFile, "utf8")) as RunPlan;
  const send = (m: DaemonMessage) => {
    if (process.connected) process.send?.(m);
  };
  try {
    const outcome = await supervise(plan, {
      mode: "detached",
      colour: false,
      onProgress: (text) => ui.info(text),
      onReady: ({ ms }) => {
        send({ type: "ready", ms });
        if (process.connected) process.disconnect();
      },
      onStopping: (why) => ui.info(`${new Date().toISOString()} ${why}: stopping`),
    });
    if (outcome.kind === "crashed") {
      ui.info(`${new Date().toISOString()} ${outcome.service} ended on its own; stopped the rest`);
      process.exitCode = 1;
    }
  } catch (error) {
    const e = error as Error & { hint?: string };
    send({ type: "failed", message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) });
    throw error;
  }
}
