import * as v from "valibot";
import { PlanMessageSchema } from "./messages.js";
import { runSupervisor } from "./daemon.js";
import { ui } from "../../ui/output.js";

export { flushed } from "../../ui/write.js";
// For the benchmark's Node baselines (bench/figures/reload.mjs), started as this process is.
export { SUPERVISOR_NODE_FLAGS, supervisorEnv } from "./launch.js";

/**
 * The entry point of `up -d`'s background supervisor (bin/envoywasm.js
 * `__supervise --await-plan [--verbose]`), apart from the CLI so the process that
 * stays up for the whole run loads only what supervising needs. Its output
 * goes to .envoywasm/logs/supervisor.log. Returns the exit code.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const args = argv.slice(3);
  ui.configure({ verbose: args.includes("--verbose") });
  if (args[0] !== "--await-plan") {
    process.stderr.write("error: __supervise is started by `envoywasm up -d` (__supervise --await-plan)\n");
    return 2;
  }
  // `up -d` forks its supervisor before it has a plan, so the two start up side by side: wait for it.
  const planFile = await awaitPlan();
  if (planFile === undefined) return 0; // `up` ended (or failed) before it had a plan: nothing to do
  try {
    await runSupervisor(planFile);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    const e = error as Error & { exitCode?: number; hint?: string };
    process.stderr.write(`${new Date().toISOString()} error: ${e.message}\n`);
    if (e.hint !== undefined) process.stderr.write(`${new Date().toISOString()} hint: ${e.hint}\n`);
    if (ui.verbose && e.stack !== undefined) process.stderr.write(`${e.stack}\n`);
    return typeof e.exitCode === "number" ? e.exitCode : 70;
  }
}

/** The plan file `up` sends over IPC; undefined when `up` goes away first. */
function awaitPlan(): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (!process.connected) {
      resolve(undefined);
      return;
    }
    const onMessage = (m: unknown) => {
      if (!v.is(PlanMessageSchema, m)) return;
      process.off("message", onMessage);
      process.off("disconnect", onGone);
      resolve(m.file);
    };
    const onGone = () => {
      process.off("message", onMessage);
      resolve(undefined);
    };
    process.on("message", onMessage);
    process.once("disconnect", onGone);
  });
}
