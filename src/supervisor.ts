import { runSupervisor } from "./cli/supervisor.js";
import { ui } from "./ui/output.js";

export { flushed } from "./ui/write.js";

/**
 * The entry point of `up -d`'s background supervisor (bin/envoywasm.js
 * `__supervise <plan> [--verbose]`), apart from the CLI so the process that
 * stays up for the whole run loads only what supervising needs. Its output
 * goes to .envoywasm/logs/supervisor.log. Returns the exit code.
 */
export async function supervisorMain(args: readonly string[]): Promise<number> {
  const [planFile] = args;
  ui.configure({ verbose: args.includes("--verbose") });
  if (planFile === undefined) {
    process.stderr.write("error: __supervise needs the plan file\n");
    return 2;
  }
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
