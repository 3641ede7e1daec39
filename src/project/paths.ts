import path from "node:path";
import type { Project } from "./config.js";

/** Where a project keeps what envoywasm makes: all under .envoywasm/, ignored by git (a test run: under its own folder there). */
/** The folder of a project's e2e cases (e2e/*.yaml). */
export const CASES_DIR = "e2e";

export function projectPaths(project: Project, state = path.join(project.root, ".envoywasm")) {
  return {
    state,
    runState: path.join(state, "state.json"),
    lastRun: path.join(state, "last-run.json"),
    /** Who asked the run to stop (\`envoywasm down\`), read by its supervisor as it stops. */
    stopRequest: path.join(state, "stop-request.json"),
    lock: path.join(state, "run.lock"),
    logs: path.join(state, "logs"),
    bin: path.join(state, "bin"),
    backendBin: path.join(state, "bin", "backend"),
    /** What Envoy runs: the config derived from envoy.yaml, and a copy of each module by its hash. */
    run: path.join(state, "run"),
    modules: path.join(state, "run", "modules"),
    backendDir: project.config.backend === undefined ? undefined : path.join(project.root, project.config.backend.dir),
    envoyConfig: path.join(project.root, project.config.envoy.config),
  };
}

/** The build stamp of one plugin folder. */
export function buildStampFile(root: string, pluginDir: string): string {
  const slug = path.posix.normalize(pluginDir).replace(/[^A-Za-z0-9._-]+/g, "_");
  return path.join(root, ".envoywasm", "build", `${slug}.json`);
}

export type ProjectPaths = ReturnType<typeof projectPaths>;
