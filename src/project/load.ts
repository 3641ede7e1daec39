import path from "node:path";
import { loadBootstrap, type EnvoyBootstrap } from "../envoy/bootstrap.js";
import { legacyWarning, loadProject, type Project } from "./config.js";
import { projectPaths, type ProjectPaths } from "./paths.js";
import { PROJECT_FILE } from "./root.js";

export interface OpenProject {
  project: Project;
  paths: ProjectPaths;
}

/**
 * How every command opens the project around `cwd`: envoywasm.yaml found and
 * parsed (or a UserError saying how to make one), where its files go, and,
 * told once through `warn`, what a 0.1.0 project file still holds that
 * envoy.yaml holds now.
 */
export async function openProject(cwd: string, warn?: (message: string) => void): Promise<OpenProject> {
  const project = await loadProject(cwd);
  const warning = warn === undefined ? undefined : legacyWarning(project, path.relative(cwd, project.file) || PROJECT_FILE);
  if (warning !== undefined) warn?.(warning);
  return { project, paths: projectPaths(project) };
}

/** The project's envoy.yaml, parsed (errors name it as envoywasm.yaml does). */
export function readEnvoyConfig(project: Project): Promise<EnvoyBootstrap> {
  return loadBootstrap(projectPaths(project).envoyConfig, project.config.envoy.config);
}
