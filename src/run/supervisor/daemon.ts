import { handOverLock } from "./lock.js";
import { readRunPlan } from "../plan.js";
import { supervise } from "./supervise.js";
import { ui } from "../../ui/output.js";
import type { DaemonMessage } from "./messages.js";

/**
 * The background supervisor of `up -d`: its own small entry point (bin loads
 * it without the rest of the CLI), so the process that stays up for the
 * whole run holds little more than the supervisor itself.
 */
export async function runSupervisor(planFile: string): Promise<void> {
  const plan = await readRunPlan(planFile);
  const send = (m: DaemonMessage) => {
    if (process.connected) process.send?.(m);
  };
  const stamp = () => new Date().toISOString();
  try {
    await handOverLock(plan.lockFile, plan.runId);
    const outcome = await supervise(plan, {
      mode: "detached",
      colour: false,
      onProgress: (text) => ui.info(`${stamp()} ${text}`),
      onNotice: (text, level) => ui.info(`${stamp()} ${level === "info" ? "" : `${level}: `}${text}`),
      onReady: ({ ms }) => {
        ui.info(`${stamp()} ready`);
        send({ type: "ready", ms });
        if (process.connected) process.disconnect();
      },
      onStopping: (why) => ui.info(`${stamp()} ${why}: stopping`),
      onPluginTrap: (trap) => ui.info(`${stamp()} the plugin trapped in ${trap.callback}${trap.message === undefined ? "" : `: ${trap.message}`}`),
    });
    if (outcome.kind === "crashed" && outcome.engine !== undefined) {
      ui.info(`${stamp()} the Docker engine (${outcome.engine}) stopped, and the containers with it`);
      process.exitCode = 1;
    } else if (outcome.kind === "crashed") {
      ui.info(`${stamp()} ${outcome.service} ended on its own (${outcome.exit.signal ?? `exit ${outcome.exit.code}`}); stopped the rest`);
      process.exitCode = 1;
    } else ui.info(`${stamp()} stopped`);
  } catch (error) {
    const e = error as Error & { hint?: string };
    send({ type: "failed", message: e.message, hint: e.hint });
    throw error;
  }
}
