import path from "node:path";
import type { Project } from "./project-config.js";

/** Where a project keeps what envoywasm makes: all under .envoywasm/, ignored by git. */
export function projectPaths(project: Project) {
  const state = path.join(project.root, ".envoywasm");
  return {
    state,
    buildStamp: path.join(state, "build.json"),
    runState: path.join(state, "state.json"),
    logs: path.join(state, "logs"),
    bin: path.join(state, "bin"),
    backendBin: path.join(state, "bin", "backend"),
    pluginDir: path.join(project.root, project.config.plugin.dir),
    backendDir: path.join(project.root, project.config.backend.dir),
    wasm: path.join(project.root, project.config.plugin.wasm),
    envoyConfig: path.join(project.root, project.config.envoy.config),
  };
}

export type ProjectPaths = ReturnType<typeof projectPaths>;
