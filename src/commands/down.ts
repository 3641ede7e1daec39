import { loadProject } from "../project/config.js";
import { writeFileAtomic } from "../platform/files.js";
import { projectPaths } from "../project/paths.js";
import { signalIfOurs, stillRunning } from "../platform/identity.js";
import { readLock } from "../run/supervisor/lock.js";
import { delay } from "../platform/time.js";
import { liveRun, reapLeftovers, removeState, serviceAlive } from "../run/supervisor/state.js";
import { ui } from "../ui/output.js";

export interface DownResult {
  /** False when nothing was running. */
  wasRunning: boolean;
  /** What was running and is stopped now. */
  stopped: string[];
  /** The supervisor was gone and what it left was stopped directly. */
  leftovers: boolean;
}

/**
 * Stops this project's run: asks its supervisor to stop (it stops the
 * services), or stops what a dead supervisor left. Only what proves to be
 * the run's own is signalled: processes by identity (pid, start time and
 * command line recorded at start), containers by their labels.
 */
export async function down(options: { cwd: string; timeoutMs?: number; warn?: (message: string) => void }): Promise<DownResult> {
  const project = await loadProject(options.cwd);
  const paths = projectPaths(project);
  const { state, deadRun, leftovers } = await liveRun(paths, project.root, options.warn);
  if (deadRun) return { wasRunning: leftovers.length > 0, stopped: leftovers, leftovers: true };
  if (state === undefined) {
    // A run still preparing (building, checking) holds the lock but has started nothing yet.
    const lock = await readLock(paths.lock);
    if (lock === undefined || !stillRunning(lock.owner)) return { wasRunning: false, stopped: [], leftovers: false };
    signalIfOurs(lock.owner, "SIGTERM", false);
    await waitGone(() => stillRunning(lock.owner), options.timeoutMs ?? 15_000);
    return { wasRunning: true, stopped: [`the starting run (pid ${lock.owner.pid})`], leftovers: false };
  }
  const running = state.services.filter((s) => s.container !== undefined || serviceAlive(s)).map((s) => s.name);
  // The supervisor (a foreground `up` in some terminal, or the background one) stops its services itself,
  // and tells in last-run.json that this command stopped it.
  await writeFileAtomic(paths.stopRequest, JSON.stringify({ runId: state.runId, by: "envoywasm down" })).catch(() => {});
  signalIfOurs(state.supervisor, "SIGTERM", false);
  const gone = await waitGone(() => stillRunning(state.supervisor), options.timeoutMs ?? 15_000);
  if (!gone) signalIfOurs(state.supervisor, "SIGKILL", false);
  await reapLeftovers(state, project.root, 1000);
  await removeState(paths.runState);
  return { wasRunning: true, stopped: running, leftovers: false };
}

async function waitGone(alive: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive()) {
    if (Date.now() > deadline) return false;
    await delay(50);
  }
  return true;
}

const warn = (m: string) => ui.warn(m);

export async function runDown(opts: { json?: boolean }, globals: { cwd: string }): Promise<void> {
  const result = await down({ cwd: globals.cwd, warn });
  if (opts.json === true) {
    ui.resultJson(result);
    return;
  }
  if (!result.wasRunning) {
    ui.info("nothing is running in this project");
    return;
  }
  if (result.leftovers) ui.warn(`its supervisor was gone; stopped what it left: ${result.stopped.join(", ")}`);
  else ui.success(`stopped ${result.stopped.join(", ") || "the run"}`);
}
