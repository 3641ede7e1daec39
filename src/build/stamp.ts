import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import { writeFileAtomic } from "../platform/files.js";

/**
 * Decides whether a build can be skipped: a hash over everything that affects
 * the output (the plugin's files, the toolchain's version, the command and the
 * environment that steers it), stored next to the run state after a good build.
 */

export const BuildStampSchema = v.object({
  key: v.string(),
  wasm: v.string(),
  bytes: v.number(),
  mtimeMs: v.number(),
  /** go.mod and go.sum as they were when their modules were last fetched. */
  modulesKey: v.optional(v.string()),
  /** The module's sha256 (hex). */
  sha256: v.optional(v.string()),
});
export type BuildStamp = v.InferOutput<typeof BuildStampSchema>;

/** A hash of go.mod and go.sum: when it is unchanged, the modules are already fetched. */
export async function modulesKey(moduleDir: string): Promise<string> {
  const hash = createHash("sha256");
  for (const f of ["go.mod", "go.sum"]) hash.update(await readFile(path.join(moduleDir, f)).catch(() => Buffer.from(`no ${f}`)));
  return hash.digest("hex");
}

const SKIP_DIRS = new Set([".git", "node_modules", ".envoywasm", "build", "testdata", "target"]);

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

/** The stamp in `file`; none when there is no stamp or a broken one (then it builds). */
export async function readStamp(file: string): Promise<BuildStamp | undefined> {
  return readQuietly(file, BuildStampSchema);
}

/**
 * A record whose problems are never told (a broken one means "build"), so
 * parsed here rather than through platform/records.ts: a no-op build loads
 * one module less.
 */
async function readQuietly<S extends v.GenericSchema>(file: string, schema: S): Promise<v.InferOutput<S> | undefined> {
  try {
    const parsed = v.safeParse(schema, JSON.parse(await readFile(file, "utf8")));
    return parsed.success ? parsed.output : undefined;
  } catch {
    return undefined;
  }
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

/**
 * Which plugin folder builds which module, as the last good build found it
 * from envoywasm.yaml and envoy.yaml, with those files' hashes: while they are
 * unchanged a build needs neither file parsed to tell it has nothing to do.
 */
export const LayoutRecordSchema = v.object({
  version: v.literal(1),
  envoywasm: v.string(),
  /** envoywasm.yaml's toolchain; a name no adapter has (toolchainNamed) means a full build. */
  toolchain: v.string(),
  /** [file, sha256] of envoywasm.yaml and envoy.yaml as the build read them. */
  configs: v.array(v.tuple([v.string(), v.string()])),
  plugins: v.array(
    v.object({
      dir: v.string(),
      absDir: v.string(),
      moduleDir: v.string(),
      wasm: v.string(),
      wasmRelative: v.string(),
      wasmAbs: v.string(),
      flags: v.array(v.string()),
    }),
  ),
});
export type LayoutRecord = v.InferOutput<typeof LayoutRecordSchema>;

export function layoutRecordFile(root: string): string {
  return path.join(root, ".envoywasm", "build", "layout.json");
}

export async function fileHash(file: string): Promise<string | undefined> {
  const bytes = await readFile(file).catch(() => undefined);
  return bytes === undefined ? undefined : createHash("sha256").update(bytes).digest("hex");
}

/** The last good build's layout, when it was made by this envoywasm from the files as they are now. */
export async function readLayout(root: string, envoywasm: string): Promise<LayoutRecord | undefined> {
  const record = await readQuietly(layoutRecordFile(root), LayoutRecordSchema);
  if (record === undefined || record.envoywasm !== envoywasm) return undefined;
  const now = await Promise.all(record.configs.map(([file]) => fileHash(file)));
  return record.configs.every(([, sha], i) => now[i] === sha) ? record : undefined;
}

export async function writeLayout(root: string, record: LayoutRecord): Promise<void> {
  await mkdir(path.dirname(layoutRecordFile(root)), { recursive: true });
  await writeFileAtomic(layoutRecordFile(root), JSON.stringify(record));
}
