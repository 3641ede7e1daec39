import type { BuildOptions, BuildResult, PluginBuildResult } from "./result.js";
import { currentModule, upToDateResult } from "./up-to-date.js";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, rename, stat } from "node:fs/promises";
import path from "node:path";
import { ChildProcessError, UserError } from "../errors.js";
import { fileHash, modulesKey, readLayout, writeLayout, writeStamp } from "./stamp.js";
import { COMPILE_OUTPUT, startCompile, type Compile } from "./compile.js";
import { echoCommand, formatCommand, run, tailLines } from "../platform/exec.js";
import { projectPaths } from "../project/paths.js";
import { dispatchClusterWarnings, goroutineWarnings, registrationWarnings } from "./source-checks.js";
import { resolvePlugins, type PluginTarget } from "./plugins.js";
import { legacyWarning, loadProject, type Project } from "../project/config.js";
import { PROJECT_FILE } from "../project/root.js";
import { PACKAGE_VERSION } from "../platform/package-root.js";
import { toolchainFor, type CommandSpec, type ToolchainAdapter, type ToolchainInfo } from "./toolchains.js";
import { checkModule, inspectModule, WasmCompileError } from "../wasm/check.js";
import { failureHint } from "./failure-hints.js";
import { readEnvoyConfig } from "../project/load.js";

/** The build of a project whose layout must be read from envoywasm.yaml and envoy.yaml. */
export async function buildAll(options: BuildOptions, started: number): Promise<BuildResult> {
  const project = options.project ?? (await loadProject(options.cwd));
  if (options.project === undefined) {
    const warning = legacyWarning(project, path.relative(options.cwd, project.file) || PROJECT_FILE);
    if (warning !== undefined) options.onLegacy?.(warning);
  }
  const paths = projectPaths(project);
  const bootstrap = options.bootstrap ?? (await readEnvoyConfig(project));
  const layout = resolvePlugins(project, bootstrap);
  const toolchain = toolchainFor(project.config.toolchain);
  for (const plugin of layout.plugins) {
    if (!existsSync(path.join(plugin.moduleDir, toolchain.manifest))) {
      throw new UserError(
        `${plugin.dir}/${toolchain.manifest} not found: plugins in envoywasm.yaml must list the plugins' folders, and a ${toolchain.name} plugin's folder holds its ${toolchain.manifest}${toolchain.packageOfModule === true ? " (or is a package of the module of a folder above it)" : ""}`,
        {
          hint: `fix plugins: (or toolchain:) in ${path.relative(options.cwd, project.file) || "envoywasm.yaml"}`,
        },
      );
    }
  }
  const info = await toolchain.detect(layout.plugins[0]?.absDir);
  const clusters = bootstrap.clusters.map((c) => c.name);
  const plugins: PluginBuildResult[] = [];
  for (const plugin of layout.plugins) plugins.push(await buildPlugin(project, plugin, toolchain, info, options, clusters, bootstrap.display));
  const configs = await Promise.all([project.file, paths.envoyConfig].map(async (f) => [f, await fileHash(f)] as const));
  if (
    project.legacy.length === 0 &&
    configs.every((c): c is [string, string] => c[1] !== undefined) &&
    (await readLayout(project.root, PACKAGE_VERSION)) === undefined
  ) {
    const kept = layout.plugins.map(({ dir, absDir, moduleDir, wasm, wasmRelative, wasmAbs, flags }) => ({
      dir,
      absDir,
      moduleDir,
      wasm,
      wasmRelative,
      wasmAbs,
      flags: [...flags],
    }));
    await writeLayout(project.root, { version: 1, envoywasm: PACKAGE_VERSION, toolchain: project.config.toolchain, configs, plugins: kept }).catch(() => {});
  }
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
): Promise<PluginBuildResult> {
  const started = performance.now();
  const { root, config } = project;
  const { key, stampFile, stamp, modulesKey: fetchedFor } = await currentModule(root, plugin, toolchain, info);
  if (options.force !== true && stamp !== undefined) return upToDateResult(plugin, stamp, started);

  const fetch = toolchain.fetchCommand();
  const modules = await modulesKey(plugin.moduleDir);
  const fetching = fetch !== undefined && (stamp?.modulesKey ?? fetchedFor) !== modules;
  if (fetching) {
    options.onPhase?.(`fetching Go modules for ${plugin.dir}/`);
    await runStep(fetch, plugin, toolchain, root, options, "fetching the plugin's Go modules failed");
  }

  const command = toolchain.buildCommand(COMPILE_OUTPUT, plugin.absDir, plugin.flags);
  await mkdir(path.dirname(plugin.wasmAbs), { recursive: true });
  options.onPhase?.(`compiling ${plugin.dir}/ with ${config.toolchain}`);
  const compile = startCompile(
    plugin.absDir,
    command,
    path.join(path.dirname(plugin.wasmAbs), `.${path.basename(plugin.wasmAbs)}.${randomBytes(4).toString("hex")}.tmp`),
  );
  echoCommand(compile.argv[0]!, compile.argv.slice(1), command.env, plugin.absDir);
  const temp = compile.temp;
  try {
    // The source checks read only the sources: they run while the compiler does.
    const lint = Promise.all([
      goroutineWarnings(plugin.absDir, plugin.dir),
      dispatchClusterWarnings(plugin.absDir, plugin.dir, clusters, envoyConfig),
      config.toolchain === "go" ? registrationWarnings(plugin.absDir, plugin.dir) : [],
    ]);
    lint.catch(() => {});
    await runStep(compile, plugin, toolchain, root, options, `${plugin.dir}/ did not compile`);
    // cargo writes to a path of its own: the module is copied to the temp file, and checked and renamed from there.
    if (toolchain.builtModule !== undefined) await copyBuiltModule(await toolchain.builtModule(plugin.absDir), temp, plugin.dir);

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
    const check = checkModule(facts, { toolchain: config.toolchain, envoyVersion });
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
      abiVersion: facts.abiVersion,
      warnings: check.warnings,
    };
  } finally {
    // Stops the compiler if the build ends early, and removes its output unless it was renamed into place.
    await compile.discard();
  }
}

async function copyBuiltModule(from: string, temp: string, pluginRel: string): Promise<void> {
  try {
    await copyFile(from, temp);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    throw new UserError(`the compiler reported success, but ${from} (the module it builds for ${pluginRel}/) is not there`, {
      hint: "check that the crate builds a cdylib for wasm32-wasip1; `envoywasm build --verbose` shows the command",
    });
  }
}

/** Runs a step, or waits for a compile, and turns a failure into one the user can act on. */
async function runStep(
  step: CommandSpec | Compile,
  plugin: PluginTarget,
  toolchain: ToolchainAdapter,
  root: string,
  options: BuildOptions,
  failure: string,
): Promise<void> {
  const [file, ...args] = "result" in step ? step.argv : [step.file, ...step.args];
  const result =
    "result" in step
      ? { ...(await step.result), command: formatCommand(file!, args, step.env, plugin.absDir) }
      : await run(step.file, step.args, { cwd: plugin.absDir, env: step.env });
  if (result.spawnError !== undefined) {
    throw new UserError(`could not run ${file}: ${result.spawnError.message}`, {
      hint: `make sure ${file} is installed and on PATH (\`envoywasm doctor\` checks)`,
    });
  }
  if (result.exitCode !== 0) {
    const said =
      toolchain.progress === undefined
        ? result.all
        : result.all
            .split("\n")
            .filter((l) => !toolchain.progress!.test(l))
            .join("\n");
    const output = relativizePaths(said, plugin.absDir, root, plugin.dir);
    await options.onCompilerOutput?.(output);
    throw new ChildProcessError(`${failure} (${file} ${args[0]} exited with ${result.exitCode ?? "a signal"})`, {
      command: result.command,
      childExitCode: result.exitCode,
      output: tailLines(output, 40),
      // The whole output: cargo's progress lines tell a dependency from the plugin's own crate.
      hint: failureHint(result.all, plugin.dir, toolchain.name),
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
      // go build shows files in the current package without ./ in some messages; rustc after "-->".
      return out.replace(/^([\w.-]+\.go:\d+)/, `${prefix}$1`).replace(/^(\s*--> )(?![/.])(\S+\.rs:\d+)/, `$1${prefix}$2`);
    })
    .join("\n");
}
