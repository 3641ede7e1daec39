import { UserError } from "../errors.js";
import { loadProject } from "../project/config.js";
import { projectPaths } from "../project/paths.js";
import { askSupervisor } from "../run/supervisor/control.js";
import type { PreparedReload } from "../run/reload/prepared.js";
import { readState, supervisorAlive } from "../run/supervisor/state.js";
import { ui } from "../ui/output.js";

const warn = (m: string) => ui.warn(m);

export async function runReload(opts: { json?: boolean }, globals: { cwd: string }): Promise<void> {
  const project = await loadProject(globals.cwd);
  const paths = projectPaths(project);
  const state = await readState(paths.runState, warn);
  if (state === undefined || !supervisorAlive(state)) {
    throw new UserError("this project is not running", { hint: "start it with `envoywasm up` (add --watch to reload on every save)" });
  }
  // Built and derived here, in this process, while this reload holds the run's turn; the supervisor
  // only compares and applies (run/reload.ts).
  ui.info(ui.paint("gray", "• building, then asking the running supervisor to load what changed"));
  const { prepareReload } = await import("../run/reload/prepare.js");
  let prepared: PreparedReload | undefined;
  const { result } = await askSupervisor(
    state.controlSocket,
    async () =>
      (prepared = await prepareReload(project.root, {
        docker: state.runtime === "docker",
        envoyVersion: state.envoy.version,
        backend: state.services.some((s) => s.name === "backend"),
      })),
  );
  const compilerOutput = prepared?.ok === false ? prepared.compilerOutput : undefined;
  if (compilerOutput !== undefined) process.stderr.write(compilerOutput.endsWith("\n") ? compilerOutput : `${compilerOutput}\n`);
  if (!result.ok) throw new UserError(result.message, result.hint === undefined ? undefined : { hint: result.hint });
  if (opts.json === true) ui.resultJson({ reloaded: result.unchanged !== true, message: result.message });
  else ui.success(result.message);
}
