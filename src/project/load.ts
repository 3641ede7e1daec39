import { legacyWarning, loadProject, type Project } from "./config.js";
import { ui } from "../ui/output.js";
import path from "node:path";

/** Loads the project and tells, once, what a 0.1.0 project file still holds that envoy.yaml holds now. */
export async function warnLegacy(cwd: string): Promise<Project> {
  const project = await loadProject(cwd);
  const warning = legacyWarning(project, path.relative(cwd, project.file) || "envoywasm.yaml");
  if (warning !== undefined) ui.warn(warning);
  return project;
}
