import { loadProject } from "../lib/project-config.js";
import { projectPaths } from "../lib/paths.js";
import { pidAlive, readState, reapLeftovers, removeState, supervisorAlive } from "../run/state.js";
import { delay } from "../run/process-service.js";

export interface DownResult {
  /** False when nothing was running. */
  wasRunning: boolean;
  stopped: string[];
  /** The supervisor was gone and its services were stopped directly. */
  leftovers: boolean;
}

/**
 * Stops this project's run: asks its supervisor to stop (it stops the
 * services, SIGTERM then SIGKILL), or stops the services itself when the
 * supervisor is gone.
 */
export async function down(options: { cwd: string; timeoutMs?: number }): Promise<DownResult> {
  const project = await loadProject(options.cwd);
  const paths = projectPaths(project);
  const state = await readState(paths.runState);
  if (state === undefined) return { wasRunning: false, stopped: [], leftovers: false };
  const names = state.services.map((s) => `${s.name} (pid ${s.pid})`);
  if (supervisorAlive(state)) {
    process.kill(state.supervisorPid, "SIGTERM");
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    while (pidAlive(state.supervisorPid) && Date.now() < deadline) await delay(50);
    if (pidAlive(state.supervisorPid)) {
      try {
        process.kill(state.supervisorPid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    await reapLeftovers(state, 1000);
    await removeState(paths.runState);
    return { wasRunning: true, stopped: names, leftovers: false };
  }
  const stopped = await reapLeftovers(state);
  await removeState(paths.runState);
  return { wasRunning: stopped.length > 0, stopped, leftovers: true };
}
