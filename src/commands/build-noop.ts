import { readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../lib/write-plan.js";
import type { PluginBuildResult } from "./build.js";
import { findProjectRoot } from "../lib/project-root.js";
import { BUILD_ENV_KEYS, goIdentity } from "../lib/toolchain-identity.js";
import { onPath } from "../lib/which.js";

/**
 * The no-op fast path of `envoywasm build`. After every good build, the
 * build records the size and mtime of everything its decision rested on
 * (envoywasm.yaml, envoy.yaml, each plugin folder's files and folders, each
 * module and its build stamp) and what decides the toolchain. A later
 * `envoywasm build` that finds all of them unchanged answers from this record
 * without loading the CLI, reading YAML or hashing sources; anything else
 * (a changed file, a file added, another Go, another environment, another
 * envoywasm) takes the full path, which decides by content.
 */

export type NoopPlugin = Pick<PluginBuildResult, "dir" | "wasm" | "wasmRelative" | "bytes" | "sha256">;

interface NoopRecord {
  version: 1;
  toolchain: string;
  /** envoywasm's version and the toolchain/environment fingerprint. */
  context: string;
  files: [file: string, size: number, mtimeMs: number][];
  plugins: NoopPlugin[];
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
export async function snapshot(paths: string[]): Promise<NoopRecord["files"] | undefined> {
  const files: NoopRecord["files"] = [];
  for (const file of paths) {
    const s = await stat(file).catch(() => undefined);
    if (s === undefined) return undefined;
    files.push([file, s.size, s.mtimeMs]);
  }
  return files;
}

/** Records a good build: the inputs as they were before it, the outputs as they are after it. */
export async function recordNoop(root: string, inputs: NoopRecord["files"] | undefined, outputs: string[], plugins: NoopPlugin[], toolchain: string, envoywasmVersion: string): Promise<void> {
  const after = await snapshot(outputs);
  if (inputs === undefined || after === undefined) return forgetNoop(root);
  const record: NoopRecord = { version: 1, toolchain, context: context(toolchain, envoywasmVersion), files: [...inputs, ...after], plugins };
  await writeFileAtomic(noopRecordFile(root), JSON.stringify(record)).catch(() => {});
}

export async function forgetNoop(root: string): Promise<void> {
  await rm(noopRecordFile(root), { force: true });
}

/** The plugins, when nothing the last good build rested on has changed; else undefined (build the full way). */
export async function checkNoop(cwd: string, envoywasmVersion: string): Promise<NoopPlugin[] | undefined> {
  const root = findProjectRoot(cwd);
  if (root === undefined) return undefined;
  let record: NoopRecord;
  try {
    record = JSON.parse(await readFile(noopRecordFile(root), "utf8")) as NoopRecord;
  } catch {
    return undefined;
  }
  if (record === null || record.version !== 1 || typeof record.toolchain !== "string" || !Array.isArray(record.files) || !Array.isArray(record.plugins) || record.plugins.length === 0) return undefined;
  if (record.context !== context(record.toolchain, envoywasmVersion)) return undefined;
  const seen = await Promise.all(record.files.map(([file]) => stat(file).catch(() => undefined)));
  for (let i = 0; i < seen.length; i++) {
    const [, size, mtimeMs] = record.files[i]!;
    if (seen[i] === undefined || seen[i]!.size !== size || seen[i]!.mtimeMs !== mtimeMs) return undefined;
  }
  return record.plugins;
}
