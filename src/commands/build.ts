import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, stat } from "node:fs/promises";
import path from "node:path";
import { ChildProcessError, UserError } from "../errors.js";
import { loadBootstrap, type EnvoyBootstrap } from "../envoy/bootstrap.js";
import { buildKey, modulesKey, readStamp, stampMatches, watchedPaths, writeStamp } from "../lib/build-cache.js";
import { COMPILE_OUTPUT, forgetNoop, recordNoop, snapshot, type FileStat } from "./build-noop.js";
import { sameCompile, startCompile, type Compile } from "../lib/compile.js";
import { PACKAGE_VERSION } from "../lib/package-root.js";
import { echoCommand, formatCommand, run, tailLines } from "../lib/exec.js";
import { buildStampFile, projectPaths } from "../lib/paths.js";
import { dispatchClusterWarnings, goroutineWarnings } from "../lib/plugin-lint.js";
import { resolvePlugins, type PluginTarget } from "../lib/plugins.js";
import { loadProject, type Project } from "../lib/project-config.js";
import { BUILD_ENV_KEYS } from "../lib/toolchain-identity.js";
import { toolchainFor, type CommandSpec, type ToolchainAdapter, type ToolchainInfo } from "../lib/toolchains.js";
import { checkModule, inspectModule, WasmCompileError } from "../wasm/check.js";

export interface BuildOptions {
  cwd: string;
  force?: boolean;
  project?: Project;
  bootstrap?: EnvoyBootstrap;
  /** Told each phase as it starts ("fetching modules", "compiling", "checking"). */
  onPhase?: (phase: string) => void;
  /** Told the compiler's output (paths made relative to the project) when it fails. */
  onCompilerOutput?: (text: string) => void;
  /** Check imports against this Envoy version instead of the pinned or newest one. */
  envoyVersion?: string;
  /** Compiles the entry point started from the last build's record (build-fast.ts): adopted when they match, else discarded. */
  early?: readonly Compile[];
}

export interface PluginBuildResult {
  /** The plugin's source folder, as envoywasm.yaml lists it. */
  dir: string;
  wasm: string;
  /** The module's path relative to the project root. */
  wasmRelative: string;
  bytes: number;
  sha256: string;
  ms: number;
  upToDate: boolean;
  checkedAgainst?: string;
  abiVersion?: string;
  warnings: string[];
}

export interface BuildResult {
  plugins: PluginBuildResult[];
  toolchain: string;
  ms: number;
}

/**
 * Builds every plugin folder whose output is stale, each to the module path
 * envoy.yaml loads, checking each module as Envoy will load it.
 */
export async function build(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const project = options.project ?? (await loadProject(options.cwd));
  const paths = projectPaths(project);
  const bootstrap = options.bootstrap ?? (await loadBootstrap(paths.envoyConfig, project.config.envoy.config));
  const layout = resolvePlugins(project, bootstrap);
  for (const plugin of layout.plugins) {
    if (!existsSync(path.join(plugin.absDir, "go.mod"))) {
      throw new UserError(`${plugin.dir}/go.mod not found: plugins in envoywasm.yaml must list the plugins' Go module folders`, {
        hint: `fix plugins: in ${path.relative(options.cwd, project.file) || "envoywasm.yaml"}`,
      });
    }
  }
  // What this build's decision rests on, as it is before the build reads it (for the next build's record: build-noop.ts).
  const watched = await Promise.all(layout.plugins.map(async (p) => snapshot(await watchedPaths(p.absDir))));
  const shape = [project.file, paths.envoyConfig, ...layout.plugins.flatMap((p) => [path.join(p.absDir, "go.mod"), path.join(p.absDir, "go.sum")])];
  const configs = await snapshot([project.file, paths.envoyConfig]);
  const toolchain = toolchainFor(project.config.toolchain);
  const info = await toolchain.detect();
  const clusters = bootstrap.clusters.map((c) => c.name);
  const plugins: PluginBuildResult[] = [];
  try {
    for (const [i, plugin] of layout.plugins.entries()) {
      plugins.push(await buildPlugin(project, plugin, toolchain, info, options, clusters, bootstrap.display, watched[i]));
    }
  } catch (error) {
    await forgetNoop(project.root);
    throw error;
  } finally {
    await Promise.all((options.early ?? []).map((compile) => compile.discard()));
  }
  const complete = project.legacy.length === 0 && configs !== undefined && watched.every((w) => w !== undefined);
  await recordNoop(
    project.root,
    {
      files: complete ? [...configs, ...watched.flatMap((w) => w!)] : undefined,
      shape,
      compiles: layout.plugins.map((p) => ({ cwd: p.absDir, wasm: p.wasmAbs, spec: toolchain.buildCommand(COMPILE_OUTPUT) })),
    },
    layout.plugins.flatMap((p) => [p.wasmAbs, buildStampFile(project, p.dir)]),
    plugins.map((p) => ({ dir: p.dir, wasm: p.wasm, wasmRelative: p.wasmRelative, bytes: p.bytes, sha256: p.sha256 })),
    project.config.toolchain,
    PACKAGE_VERSION,
  );
  return { plugins, toolchain: info.version, ms: Math.round(performance.now() - started) };
}

async function buildPlugin(
  project: Project,
  plugin: PluginTarget,
  toolchain: ToolchainAdapter,
  info: ToolchainInfo,
  options: BuildOptions,
  clusters: string[],
  envoyConfig: string,
  files: FileStat[] | undefined,
): Promise<PluginBuildResult> {
  let started = performance.now();
  const { config } = project;
  const stampFile = buildStampFile(project, plugin.dir);
  const spec = toolchain.buildCommand(path.relative(plugin.absDir, plugin.wasmAbs));
  const env: Record<string, string> = {};
  for (const key of BUILD_ENV_KEYS) if (process.env[key] !== undefined) env[key] = process.env[key]!;
  const key = await buildKey({ pluginDir: plugin.absDir, toolchainVersion: info.version, argv: [spec.file, ...spec.args, ...Object.entries(spec.env).flat()], env });

  const stamp = await readStamp(stampFile);
  if (options.force !== true && stamp?.sha256 !== undefined && (await stampMatches(stamp, key, plugin.wasmAbs))) {
    return {
      dir: plugin.dir,
      wasm: plugin.wasmAbs,
      wasmRelative: plugin.wasmRelative,
      bytes: stamp.bytes,
      sha256: stamp.sha256,
      ms: Math.round(performance.now() - started),
      upToDate: true,
      warnings: [],
    };
  }

  const fetch = toolchain.fetchCommand();
  const modules = await modulesKey(plugin.absDir);
  const fetching = fetch !== undefined && stamp?.modulesKey !== modules;
  if (fetching) {
    options.onPhase?.(`fetching Go modules for ${plugin.dir}/`);
    await runStep(fetch, plugin, project.root, options, "fetching the plugin's Go modules failed");
  }

  // The compile the entry point started, when it ran this very command on these very files after the same
  // modules were fetched; else it is stopped.
  const command = toolchain.buildCommand(COMPILE_OUTPUT);
  const offered = options.early?.find((c) => c.cwd === plugin.absDir);
  const adopted = offered !== undefined && !fetching && sameCompile(offered, plugin.absDir, command, files) ? offered : undefined;
  if (offered !== undefined && adopted === undefined) await offered.discard();

  await mkdir(path.dirname(plugin.wasmAbs), { recursive: true });
  options.onPhase?.(`compiling ${plugin.dir}/ with ${config.toolchain === "go" ? "go" : "tinygo"}`);
  const compile = adopted ?? startCompile(plugin.absDir, command, path.join(path.dirname(plugin.wasmAbs), `.${path.basename(plugin.wasmAbs)}.${randomBytes(4).toString("hex")}.tmp`), files ?? []);
  if (adopted === undefined) echoCommand(compile.argv[0]!, compile.argv.slice(1), command.env, plugin.absDir);
  else started = Math.min(started, adopted.startedAt);
  const temp = compile.temp;
  try {
    // The source checks read only the sources: they run while the compiler does.
    const lint = Promise.all([goroutineWarnings(plugin.absDir, plugin.dir), dispatchClusterWarnings(plugin.absDir, plugin.dir, clusters, envoyConfig)]);
    lint.catch(() => {});
    await runStep(compile, plugin, project.root, options, `${plugin.dir}/ did not compile`);

    options.onPhase?.("checking the module");
    const bytes = await readFile(temp);
    // Node compiles the module on its background threads while this one hashes it.
    const inspected = inspectModule(bytes);
    inspected.catch(() => {});
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    let facts;
    try {
      facts = await inspected;
    } catch (error) {
      if (error instanceof WasmCompileError) {
        throw new UserError(`the compiler's output for ${plugin.dir}/ is not a valid WebAssembly module: ${error.message}`, {
          hint: "check the toolchain installation (`envoywasm doctor`); the previous module was kept",
        });
      }
      throw error;
    }
    const envoyVersion = options.envoyVersion ?? config.envoy.version;
    const check = checkModule(facts, { toolchain: config.toolchain, ...(envoyVersion === undefined ? {} : { envoyVersion }) });
    if (check.errors.length > 0) {
      const list = check.errors.map((e) => `  - ${e}`).join("\n");
      throw new UserError(`the module built from ${plugin.dir}/ would not load in Envoy:\n${list}`, {
        hint: `fix the plugin and build again; nothing was written to ${plugin.wasmRelative}`,
      });
    }
    check.warnings.push(...(await lint).flat());
    await rename(temp, plugin.wasmAbs);
    const s = await stat(plugin.wasmAbs);
    await mkdir(path.dirname(stampFile), { recursive: true });
    await writeStamp(stampFile, { key, wasm: plugin.wasmAbs, bytes: s.size, mtimeMs: s.mtimeMs, modulesKey: modules, sha256 });
    return {
      dir: plugin.dir,
      wasm: plugin.wasmAbs,
      wasmRelative: plugin.wasmRelative,
      bytes: s.size,
      sha256,
      ms: Math.round(performance.now() - started),
      upToDate: false,
      checkedAgainst: check.checkedAgainst,
      ...(facts.abiVersion === undefined ? {} : { abiVersion: facts.abiVersion }),
      warnings: check.warnings,
    };
  } finally {
    // Stops the compiler if the build ends early, and removes its output unless it was renamed into place.
    await compile.discard();
  }
}

/** Runs a step, or waits for a compile, and turns a failure into one the user can act on. */
async function runStep(step: CommandSpec | Compile, plugin: PluginTarget, root: string, options: BuildOptions, failure: string): Promise<void> {
  const [file, ...args] = "result" in step ? step.argv : [step.file, ...step.args];
  const result =
    "result" in step
      ? { ...(await step.result), command: formatCommand(file!, args, step.spec.env, plugin.absDir) }
      : await run(step.file, step.args, { cwd: plugin.absDir, env: step.env });
  if (result.spawnError !== undefined) {
    throw new UserError(`could not run ${file}: ${result.spawnError.message}`, { hint: `make sure ${file} is installed and on PATH (\`envoywasm doctor\` checks)` });
  }
  if (result.exitCode !== 0) {
    const output = relativizePaths(result.all, plugin.absDir, root, plugin.dir);
    options.onCompilerOutput?.(output);
    const missingSum = /missing go\.sum entry|updates to go\.mod needed|no required module provides package/.test(output);
    throw new ChildProcessError(`${failure} (${file} ${args[0]} exited with ${result.exitCode ?? "a signal"})`, {
      command: result.command,
      ...(result.exitCode === undefined ? {} : { childExitCode: result.exitCode }),
      output: tailLines(output, 40),
      hint: missingSum
        ? `the plugin's go.mod/go.sum are out of date: run \`go mod tidy\` in ${plugin.dir}/, then build again`
        : "the compiler's messages are above; fix the code and run `envoywasm build` again",
    });
  }
}

/** Compiler paths are relative to the plugin folder; make them relative to the project. */
export function relativizePaths(output: string, pluginDir: string, root: string, pluginRel: string): string {
  const prefix = pluginRel === "." ? "" : pluginRel.endsWith("/") ? pluginRel : `${pluginRel}/`;
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
