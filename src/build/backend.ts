import { existsSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { ChildProcessError, UserError } from "../errors.js";
import { buildKey, readStamp, stampMatches, writeStamp } from "./stamp.js";
import { run, tailLines } from "../platform/exec.js";
import type { ProjectPaths } from "../project/paths.js";
import type { Project } from "../project/config.js";
import { toolchainFor } from "./toolchains.js";
import { openToContainer } from "../platform/files.js";

/**
 * Builds the backend to a binary under .envoywasm/bin, so `up` executes it
 * directly: a binary gets our signals itself (`go run` would not pass them
 * on) and restarts without a compile. Skipped when nothing changed. For a
 * container (`cross` set) it is a static Linux binary any image can run.
 */
export async function buildBackend(
  project: Project,
  paths: ProjectPaths,
  cross?: { GOOS: string; GOARCH: string; CGO_ENABLED: string },
): Promise<{ bin: string; upToDate: boolean; ms: number }> {
  const started = performance.now();
  const dir = paths.backendDir!;
  if (!existsSync(path.join(dir, "go.mod"))) {
    throw new UserError(`${project.config.backend!.dir}/go.mod not found: backend.dir in envoywasm.yaml must name the backend's Go module`, {
      hint: "fix backend.dir in envoywasm.yaml, or remove backend: when the project has none",
    });
  }
  const go = await toolchainFor("go").detect();
  const bin = cross === undefined ? paths.backendBin : `${paths.backendBin}-${cross.GOOS}-${cross.GOARCH}`;
  const args = ["build", "-o", bin, "."];
  const env = cross ?? { GOOS: "", GOARCH: "" };
  const key = await buildKey({ pluginDir: dir, toolchainVersion: go.version, argv: args, env });
  const stampFile = path.join(paths.state, "build", `backend${cross === undefined ? "" : `-${cross.GOOS}-${cross.GOARCH}`}.json`);
  if (await stampMatches(await readStamp(stampFile), key, bin)) return { bin, upToDate: true, ms: 0 };
  await mkdir(paths.bin, { recursive: true });
  await mkdir(path.dirname(stampFile), { recursive: true });
  const result = await run("go", args, { cwd: dir, env });
  if (result.exitCode !== 0) {
    throw new ChildProcessError(`the backend did not compile (go build exited with ${result.exitCode ?? "a signal"})`, {
      command: result.command,
      output: tailLines(result.all, 30),
      hint: `the compiler said:\n${tailLines(result.all, 15)}`,
    });
  }
  if (cross !== undefined) await openToContainer(bin, true);
  const s = await stat(bin);
  await writeStamp(stampFile, { key, wasm: bin, bytes: s.size, mtimeMs: s.mtimeMs });
  return { bin, upToDate: false, ms: Math.round(performance.now() - started) };
}
