import { UserError } from "../errors.js";
import { run } from "../lib/exec.js";
import { projectPaths } from "../lib/paths.js";
import { loadProject, type Project } from "../lib/project-config.js";

export interface TestOptions {
  cwd: string;
  project?: Project;
  run?: string;
  verbose?: boolean;
}

export interface TestResult {
  exitCode: number;
}

/**
 * Runs the plugin's own Go tests natively, with ENVOYWASM_WASM pointing at
 * the built module so the SDK's emulator runs the same tests against it too.
 * Output streams straight through; the exit code is go test's.
 */
export async function testPlugin(options: TestOptions): Promise<TestResult> {
  const project = options.project ?? (await loadProject(options.cwd));
  const paths = projectPaths(project);
  const args = ["test", "-count=1"];
  if (options.verbose === true) args.push("-v");
  if (options.run !== undefined) args.push("-run", options.run);
  args.push("./...");
  const result = await run("go", args, { cwd: paths.pluginDir, env: { ENVOYWASM_WASM: paths.wasm }, inherit: true });
  if (result.spawnError !== undefined) {
    throw new UserError("the go toolchain was not found on PATH", { hint: "install Go 1.24 or newer (https://go.dev/dl/)" });
  }
  return { exitCode: result.exitCode ?? 1 };
}
