import { readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../lib/write-plan.js";
import type { PluginBuildResult } from "./build.js";
import { findProjectRoot } from "../lib/project-root.js";
import { BUILD_ENV_KEYS, goIdentity } from "../lib/toolchain-identity.js";
import type { CommandSpec } from "../lib/toolchains.js";
import { onPath } from "../lib/which.js";

/**
 * The record of the last good build, for the paths of `envoywasm build` that
 * run before the CLI loads (build-fast.ts). After every good build, the build
 * records the size and mtime of everything its decision rested on
 * (envoywasm.yaml, envoy.yaml, each plugin folder's files and folders, each
 * module and its build stamp), what decides the toolchain, and the compile
 * command it ran for each plugin.
 *
 * - Nothing changed: `envoywasm build` answers from the record without
 *   loading the CLI, reading YAML or hashing sources.
 * - Only a plugin's sources changed (or `--force`): that plugin's compile
 *   starts at once from the recorded command, while the CLI loads and
 *   decides; the build adopts it only when it would run the same command on
 *   the same files (build.ts), and stops it otherwise.
 *
 * Anything else (envoywasm.yaml, envoy.yaml, go.mod or go.sum changed,
 * another Go, another environment, another envoywasm) takes the full path,
 * which decides by content.
 */

export type NoopPlugin = Pick<PluginBuildResult, "dir" | "wasm" | "wasmRelative" | "bytes" | "sha256">;

export type FileStat = [file: string, size: number, mtimeMs: number];

/** Where the recorded compile commands put the output file (relative to the plugin folder). */
export const COMPILE_OUTPUT = "{output}";

/** A plugin's compile as the last good build ran it. */
export interface RecordedCompile {
  /** The plugin's folder (absolute): where the command runs. */
  cwd: string;
  /** The module's path (absolute). */
  wasm: string;
  /** The command, with COMPILE_OUTPUT for the output file. */
  spec: CommandSpec;
}

export interface NoopRecord {
  version: 2;
  toolchain: string;
  /** envoywasm's version and the toolchain/environment fingerprint. */
  context: string;
  files: FileStat[];
  plugins: NoopPlugin[];
  compiles: RecordedCompile[];
  /** Of `files`: those whose change rules out starting a compile early (envoywasm.yaml, envoy.yaml, go.mod, go.sum). */
  shape: string[];
}

export function noopRecordFile(root: string): string {
  return path.join(root, ".envoywasm", "build", "noop.json");
}

function context(toolchain: string, envoywasmVersion: string): string {
  const tool = toolchain === "go" ? (goIdentity() ?? "no go") : `${onPath("tinygo") ?? "no tinygo"}`;
  const env = BUILD_ENV_KEYS.map((k) => `${k}=${process.env[k] ?? ""}`).join("\0");
  return `${envoywasmVersion}\0${tool}\0${env}`;
}

/** Sizes and mtimes of files, taken before a build reads them (a file changed during the build then fails the check). */
export async function snapshot(paths: readonly string[]): Promise<FileStat[] | undefined> {
  const files: FileStat[] = [];
  for (const file of paths) {
    const s = await stat(file).catch(() => undefined);
    if (s === undefined) return undefined;
    files.push([file, s.size, s.mtimeMs]);
  }
  return files;
}

export function sameSnapshot(a: readonly FileStat[] | undefined, b: readonly FileStat[] | undefined): boolean {
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.every(([file, size, mtimeMs], i) => b[i]![0] === file && b[i]![1] === size && b[i]![2] === mtimeMs);
}

export interface NoopInputs {
  files: FileStat[] | undefined;
  shape: string[];
  compiles: RecordedCompile[];
}

/** Records a good build: the inputs as they were before it, the outputs as they are after it. */
export async function recordNoop(root: string, inputs: NoopInputs, outputs: string[], plugins: NoopPlugin[], toolchain: string, envoywasmVersion: string): Promise<void> {
  const after = await snapshot(outputs);
  if (inputs.files === undefined || after === undefined) return forgetNoop(root);
  const record: NoopRecord = {
    version: 2,
    toolchain,
    context: context(toolchain, envoywasmVersion),
    files: [...inputs.files, ...after],
    plugins,
    compiles: inputs.compiles,
    shape: inputs.shape,
  };
  await writeFileAtomic(noopRecordFile(root), JSON.stringify(record)).catch(() => {});
}

export async function forgetNoop(root: string): Promise<void> {
  await rm(noopRecordFile(root), { force: true });
}

/** The last good build's record, when it was made by this envoywasm with this toolchain and environment. */
export async function readNoop(cwd: string, envoywasmVersion: string): Promise<NoopRecord | undefined> {
  const root = findProjectRoot(cwd);
  if (root === undefined) return undefined;
  let record: NoopRecord;
  try {
    record = JSON.parse(await readFile(noopRecordFile(root), "utf8")) as NoopRecord;
  } catch {
    return undefined;
  }
  if (record === null || record.version !== 2 || typeof record.toolchain !== "string") return undefined;
  if (![record.files, record.plugins, record.compiles, record.shape].every(Array.isArray) || record.plugins.length === 0) return undefined;
  return record.context === context(record.toolchain, envoywasmVersion) ? record : undefined;
}

/** The recorded files whose size or mtime changed, or that are gone. */
export async function changedFiles(record: NoopRecord): Promise<Set<string>> {
  const seen = await Promise.all(record.files.map(([file]) => stat(file).catch(() => undefined)));
  const changed = new Set<string>();
  record.files.forEach(([file, size, mtimeMs], i) => {
    if (seen[i] === undefined || seen[i]!.size !== size || seen[i]!.mtimeMs !== mtimeMs) changed.add(file);
  });
  return changed;
}
