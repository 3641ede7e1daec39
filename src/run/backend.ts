import { existsSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { ChildProcessError, UserError } from "../errors.js";
import { buildKey, readStamp, stampMatches, writeStamp } from "../lib/build-cache.js";
import { run, tailLines } from "../lib/exec.js";
import type { ProjectPaths } from "../lib/paths.js";
import type { Project } from "../lib/project-config.js";
import { toolchainFor } from "../lib/toolchains.js";

/**
 * Builds the backend to a binary under .envoywasm/bin, so `up` executes it
 * directly: a binary gets our signals itself (`go run` would not pass them
 * on) and restarts without a compile. Skipped when nothing changed.
 */
export async function buildBackend(project: Project, paths: ProjectPaths): Promise<{ bin: string; upToDate: boolean }> {
  if (!existsSync(path.join(paths.backendDir, "go.mod"))) {
    throw new UserError(`${project.config.backend.dir}/go.mod not found: backend.dir in envoywasm.yaml must name the backend's Go module`, {
      hint: "fix backend.dir in envoywasm.yaml",
    });
  }
  const go = await toolchainFor("go").detect();
  const args = ["build", "-o", paths.backendBin, "."];
  const key = await buildKey({ pluginDir: paths.backendDir, toolchainVersion: go.version, argv: args, env: {} });
  const stampFile = path.join(paths.state, "backend-build.json");
  if (await stampMatches(await readStamp(stampFile), key, paths.backendBin)) return { bin: paths.backendBin, upToDate: true };
  await mkdir(paths.bin, { recursive: true });
  const result = await run("go", args, { cwd: paths.backendDir, env: { GOOS: "", GOARCH: "" } });
  if (result.exitCode !== 0) {
    throw new ChildProcessError(`the backend did not compile (go build exited with ${result.exitCode ?? "a signal"})`, {
      command: result.command,
      output: tailLines(result.all, 30),
      hint: `the compiler said:\n${tailLines(result.all, 15)}`,
    });
  }
  const s = await stat(paths.backendBin);
  await writeStamp(stampFile, { key, wasm: paths.backendBin, bytes: s.size, mtimeMs: s.mtimeMs });
  return { bin: paths.backendBin, upToDate: false };
}
