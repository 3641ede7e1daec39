import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { ChildProcessError, UserError } from "../errors.js";
import { buildKey, modulesKey, readStamp, sourceFiles, stampMatches, writeStamp } from "../lib/build-cache.js";
import { run, tailLines } from "../lib/exec.js";
import { projectPaths } from "../lib/paths.js";
import { loadProject, type Project } from "../lib/project-config.js";
import { BUILD_ENV_KEYS, toolchainFor, type CommandSpec } from "../lib/toolchains.js";
import { checkModule, inspectModule, WasmCompileError } from "../wasm/check.js";

export interface BuildOptions {
  cwd: string;
  force?: boolean;
  project?: Project;
  /** Told each phase as it starts ("fetching modules", "compiling", "checking"). */
  onPhase?: (phase: string) => void;
  /** Told the compiler's output (paths made relative to the project) when it fails. */
  onCompilerOutput?: (text: string) => void;
  /** Check imports against this Envoy version instead of the pinned or newest one. */
  envoyVersion?: string;
  signal?: AbortSignal;
}

export interface BuildResult {
  wasm: string;
  /** The module's path relative to the project root. */
  wasmRelative: string;
  bytes: number;
  ms: number;
  upToDate: boolean;
  toolchain: string;
  checkedAgainst?: string;
  abiVersion?: string;
  warnings: string[];
}

export async function build(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const project = options.project ?? (await loadProject(options.cwd));
  const paths = projectPaths(project);
  const { config } = project;
  if (!existsSync(path.join(paths.pluginDir, "go.mod"))) {
    throw new UserError(`${config.plugin.dir}/go.mod not found: plugin.dir in envoywasm.yaml must name the plugin's Go module`, {
      hint: `fix plugin.dir in ${path.relative(options.cwd, project.file) || "envoywasm.yaml"}`,
    });
  }

  const toolchain = toolchainFor(config.toolchain);
  const info = await toolchain.detect();
  const relWasm = config.plugin.wasm;
  const spec = toolchain.buildCommand(path.join(path.relative(paths.pluginDir, project.root), relWasm));
  const env: Record<string, string> = {};
  for (const key of BUILD_ENV_KEYS) if (process.env[key] !== undefined) env[key] = process.env[key]!;
  const key = await buildKey({ pluginDir: paths.pluginDir, toolchainVersion: info.version, argv: [spec.file, ...spec.args, ...Object.entries(spec.env).flat()], env });

  const stamp = await readStamp(paths.buildStamp);
  if (options.force !== true && (await stampMatches(stamp, key, paths.wasm))) {
    return {
      wasm: paths.wasm,
      wasmRelative: relWasm,
      bytes: stamp!.bytes,
      ms: Math.round(performance.now() - started),
      upToDate: true,
      toolchain: info.version,
      warnings: [],
    };
  }

  const fetch = toolchain.fetchCommand();
  const modules = await modulesKey(paths.pluginDir);
  if (fetch !== undefined && stamp?.modulesKey !== modules) {
    options.onPhase?.("fetching Go modules");
    await runStep(fetch, paths.pluginDir, project.root, config.plugin.dir, options, "fetching the plugin's Go modules failed");
  }

  await mkdir(path.dirname(paths.wasm), { recursive: true });
  const temp = path.join(path.dirname(paths.wasm), `.${path.basename(paths.wasm)}.${randomBytes(4).toString("hex")}.tmp`);
  const tempSpec = toolchain.buildCommand(path.relative(paths.pluginDir, temp));
  try {
    options.onPhase?.(`compiling ${config.plugin.dir}/ with ${config.toolchain === "go" ? "go" : "tinygo"}`);
    await runStep(tempSpec, paths.pluginDir, project.root, config.plugin.dir, options, "the plugin did not compile");

    options.onPhase?.("checking the module");
    const bytes = await readFile(temp);
    let facts;
    try {
      facts = await inspectModule(bytes);
    } catch (error) {
      if (error instanceof WasmCompileError) {
        throw new UserError(`the compiler's output is not a valid WebAssembly module: ${error.message}`, {
          hint: "rebuild with --force; if it persists, check the toolchain installation",
        });
      }
      throw error;
    }
    const envoyVersion = options.envoyVersion ?? config.envoy.version;
    const check = checkModule(facts, { toolchain: config.toolchain, ...(envoyVersion === undefined ? {} : { envoyVersion }) });
    if (check.errors.length > 0) {
      const list = check.errors.map((e) => `  - ${e}`).join("\n");
      throw new UserError(`the built module would not load in Envoy:\n${list}`, {
        hint: "fix the plugin and build again; nothing was written to " + relWasm,
      });
    }
    check.warnings.push(...(await goroutineWarnings(paths.pluginDir, config.plugin.dir)));
    await rename(temp, paths.wasm);
    const s = await stat(paths.wasm);
    await mkdir(paths.state, { recursive: true });
    await writeStamp(paths.buildStamp, { key, wasm: paths.wasm, bytes: s.size, mtimeMs: s.mtimeMs, modulesKey: modules });
    return {
      wasm: paths.wasm,
      wasmRelative: relWasm,
      bytes: s.size,
      ms: Math.round(performance.now() - started),
      upToDate: false,
      toolchain: info.version,
      checkedAgainst: check.checkedAgainst,
      ...(facts.abiVersion === undefined ? {} : { abiVersion: facts.abiVersion }),
      warnings: check.warnings,
    };
  } finally {
    await rm(temp, { force: true });
  }
}

async function runStep(
  spec: CommandSpec,
  pluginDir: string,
  root: string,
  pluginRel: string,
  options: BuildOptions,
  failure: string,
): Promise<void> {
  const result = await run(spec.file, spec.args, {
    cwd: pluginDir,
    env: spec.env,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  if (result.spawnError !== undefined) {
    throw new UserError(`could not run ${spec.file}: ${result.spawnError.message}`, { hint: `make sure ${spec.file} is installed and on PATH` });
  }
  if (result.exitCode !== 0) {
    const output = relativizePaths(result.all, pluginDir, root, pluginRel);
    options.onCompilerOutput?.(output);
    const missingSum = /missing go\.sum entry|updates to go\.mod needed|no required module provides package/.test(output);
    throw new ChildProcessError(`${failure} (${spec.file} ${spec.args[0]} exited with ${result.exitCode ?? "a signal"})`, {
      command: result.command,
      ...(result.exitCode === undefined ? {} : { childExitCode: result.exitCode }),
      output: tailLines(output, 40),
      hint: missingSum
        ? `the plugin's go.mod/go.sum are out of date: run \`go mod tidy\` in ${pluginRel}/, then build again`
        : "the compiler's messages are above; fix the code and run `envoywasm build` again",
    });
  }
}

/**
 * A `go` statement in a plugin: the host calls the plugin and waits, and
 * a goroutine still running when the callback returns blocks the VM
 * (possibly for good). Worth a word at build time rather than a hung request.
 */
export async function goroutineWarnings(pluginDir: string, pluginRel: string): Promise<string[]> {
  const warnings: string[] = [];
  for (const rel of await sourceFiles(pluginDir)) {
    if (!rel.endsWith(".go")) continue;
    const lines = (await readFile(path.join(pluginDir, rel), "utf8")).split("\n");
    lines.forEach((line, index) => {
      const code = line.replace(/\/\/.*$/, "").replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, '""');
      if (/(^|[;{\s])go\s+(func\b|[\w.]+\()/.test(code)) {
        warnings.push(
          `${pluginRel}/${rel}:${index + 1}: a goroutine in a plugin must finish before the callback returns, or the VM blocks; use OnTick or DispatchHttpCall for work that waits`,
        );
      }
    });
  }
  return warnings;
}

/** Compiler paths are relative to the plugin folder; make them relative to the project. */
export function relativizePaths(output: string, pluginDir: string, root: string, pluginRel: string): string {
  const prefix = pluginRel.endsWith("/") ? pluginRel : `${pluginRel}/`;
  return output
    .split("\n")
    .map((line) => {
      let out = line.replace(/^(\s*)\.\//, `$1${prefix}`);
      out = out.split(pluginDir + path.sep).join(prefix);
      out = out.split(root + path.sep).join("");
      // go build shows files in the current package without ./ in some messages
      return out.replace(/^([\w.-]+\.go:\d+)/, `${prefix}$1`);
    })
    .join("\n");
}
