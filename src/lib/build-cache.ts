import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "./write-plan.js";

/**
 * Decides whether a build can be skipped: a hash over everything that affects
 * the output (the plugin's files, the toolchain's version, the command and the
 * environment that steers it), stored next to the run state after a good build.
 */

export interface BuildStamp {
  key: string;
  wasm: string;
  bytes: number;
  mtimeMs: number;
  /** go.mod and go.sum as they were when their modules were last fetched. */
  modulesKey?: string;
  /** The module's sha256 (hex). */
  sha256?: string;
}

/** A hash of go.mod and go.sum: when it is unchanged, the modules are already fetched. */
export async function modulesKey(moduleDir: string): Promise<string> {
  const hash = createHash("sha256");
  for (const f of ["go.mod", "go.sum"]) hash.update(await readFile(path.join(moduleDir, f)).catch(() => Buffer.from(`no ${f}`)));
  return hash.digest("hex");
}

const SKIP_DIRS = new Set([".git", "node_modules", ".envoywasm", "build", "testdata"]);

/** Files under the plugin folder that go into the build (tests and outputs aside, unless withTests). */
export async function sourceFiles(dir: string, prefix = "", withTests = false): Promise<string[]> {
  const entries = await readdir(path.join(dir, prefix), { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith(".")) out.push(...(await sourceFiles(dir, rel, withTests)));
    } else if (entry.isFile() && !entry.name.endsWith(".wasm") && (withTests || !entry.name.endsWith("_test.go")) && !entry.name.startsWith(".")) {
      out.push(rel);
    }
  }
  return out;
}

/**
 * Every folder and file the source walk above looks at (tests included): a
 * change to any of them, or a file added to or removed from a folder (its
 * mtime), may change the build. For the no-op fast path, which stats them.
 */
export async function watchedPaths(dir: string, prefix = ""): Promise<string[]> {
  const here = path.join(dir, prefix);
  const out = [here];
  for (const entry of await readdir(here, { withFileTypes: true })) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith(".")) out.push(...(await watchedPaths(dir, rel)));
    } else if (entry.isFile() && !entry.name.endsWith(".wasm") && !entry.name.startsWith(".")) out.push(path.join(dir, rel));
  }
  return out;
}

export async function buildKey(parts: { pluginDir: string; toolchainVersion: string; argv: readonly string[]; env: Record<string, string> }): Promise<string> {
  const hash = createHash("sha256");
  hash.update(`toolchain\0${parts.toolchainVersion}\0argv\0${parts.argv.join("\0")}\0`);
  for (const [k, v] of Object.entries(parts.env).sort()) hash.update(`env\0${k}=${v}\0`);
  for (const rel of await sourceFiles(parts.pluginDir)) {
    const contents = await readFile(path.join(parts.pluginDir, rel));
    hash.update(`file\0${rel}\0${contents.length}\0`);
    hash.update(contents);
  }
  return hash.digest("hex");
}

export async function readStamp(file: string): Promise<BuildStamp | undefined> {
  try {
    const value = JSON.parse(await readFile(file, "utf8")) as Partial<BuildStamp> | null;
    if (value !== null && typeof value.key === "string" && typeof value.wasm === "string" && typeof value.bytes === "number" && typeof value.mtimeMs === "number") {
      return value as BuildStamp;
    }
  } catch {
    // No stamp, or a broken one: build.
  }
  return undefined;
}

/** The stamp still describes the module on disk (nobody replaced or removed it). */
export async function stampMatches(stamp: BuildStamp | undefined, key: string, wasm: string): Promise<boolean> {
  if (stamp === undefined || stamp.key !== key || stamp.wasm !== wasm) return false;
  const s = await stat(wasm).catch(() => undefined);
  return s !== undefined && s.size === stamp.bytes && s.mtimeMs === stamp.mtimeMs;
}

export async function writeStamp(file: string, stamp: BuildStamp): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(stamp, null, 2)}\n`);
}
