import { execa } from "execa";
import { copyFile, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { UsageError, UserError } from "../errors.js";
import { readdir } from "node:fs/promises";
import { findProjectRoot } from "../project/root.js";
import { sourceFiles } from "../build/stamp.js";
import { formatCommand } from "../platform/exec.js";
import { resolvePlugins, type PluginTarget } from "../build/plugins.js";
import { toolchainFor, type ToolchainAdapter } from "../build/toolchains.js";
import { testOutputParser, type TestProgress } from "../build/test-output.js";
import { loadProject, type Project } from "../project/config.js";
import { ui } from "../ui/output.js";
import { runBuild } from "./build.js";
import { readEnvoyConfig } from "../project/load.js";
import type { E2eFlags } from "./e2e-run.js";

export interface TestOptions {
  cwd: string;
  project?: Project;
  run?: string;
  /** Print every test's output, not only the failures'. */
  verbose?: boolean;
  /** Told each line of test output worth showing. */
  onOutput?: (text: string) => void;
  /** Told each test, and each package, as it ends. */
  onProgress?: TestProgress;
  /** Told as each plugin's tests start. */
  onStart?: (plugin: string, command: string) => void;
}

export interface TestCase {
  plugin: string;
  package: string;
  name: string;
}

export interface TestResult {
  passed: number;
  failed: TestCase[];
  skipped: (TestCase & { reason: string })[];
  /** The test command's exit code, the worst over the plugins. */
  exitCode: number;
  /** Modules put where a plugin's tests read them (e.g. ./main.wasm), for the run only. */
  placed: string[];
  /** The program that ran the tests (go, cargo). */
  command: string;
  /** Why a test command failed before running its tests, when its output said. */
  cause?: string;
}

/**
 * Runs each plugin's tests with its toolchain's test command (`go test -json`,
 * natively and, through ENVOYWASM_WASM, against the built module; or `cargo
 * test`), and counts what passed, failed and was skipped (with the reason
 * each skip gave). A Go test that reads the module from a fixed path of its
 * own (the SDK's examples read ./main.wasm) gets the built module there for
 * the run.
 */
export async function testPlugins(options: TestOptions): Promise<TestResult> {
  const project = options.project ?? (await loadProject(options.cwd));
  const layout = resolvePlugins(project, await readEnvoyConfig(project));
  const toolchain = toolchainFor(project.config.toolchain);
  const result: TestResult = { passed: 0, failed: [], skipped: [], exitCode: 0, placed: [], command: toolchain.testCommand({ wasm: "" }).file };
  // The machine's own target, which the tests run on (the same for every plugin; the build checked the toolchain).
  const { host } = await toolchain.detect(layout.plugins[0]?.absDir);
  for (const plugin of layout.plugins) {
    const restore = await placeModule(plugin, result);
    try {
      const alone = layout.plugins.filter((p) => p.moduleDir === plugin.moduleDir).length === 1;
      await testOne(plugin, toolchain, { ...options, host, alone }, result);
    } finally {
      await restore();
    }
  }
  return result;
}

async function testOne(
  plugin: PluginTarget,
  toolchain: ToolchainAdapter,
  options: TestOptions & { host?: string; alone: boolean },
  result: TestResult,
): Promise<void> {
  const command = toolchain.testCommand({ run: options.run, verbose: options.verbose, wasm: plugin.wasmAbs, host: options.host, flags: plugin.flags });
  // A main package (cmd/<name>/) alone in its Go module: its module's packages are its own, and their tests too.
  const cwd = options.alone ? plugin.moduleDir : plugin.absDir;
  ui.debug(`$ ${formatCommand(command.file, command.args, command.env, cwd)}`);
  const child = execa(command.file, command.args, { cwd, env: command.env, reject: false, buffer: false, stdin: "ignore" });
  options.onStart?.(path.join(plugin.dir, path.relative(plugin.absDir, cwd)), [command.file, ...command.args].join(" "));
  const parser = testOutputParser(command.format, options.onProgress);
  const verbose = options.verbose === true;
  const lines = (stream: NodeJS.ReadableStream, each: (line: string) => void) => {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) each(line);
    });
    stream.on("end", () => {
      if (pending !== "") each(pending);
    });
  };
  const show = (text: string | undefined) => {
    if (text !== undefined) options.onOutput?.(text);
  };
  lines(child.stdout!, (line) => show(parser.stdout(line, verbose)));
  lines(child.stderr!, (line) => show(parser.stderr(line, verbose)));
  const done = await child;
  if (done.exitCode === undefined && done.cause !== undefined) {
    // Not there: the toolchain's own check says what to install.
    await toolchain.detect(plugin.absDir);
    throw new UserError(`could not run ${command.file}: ${done.cause instanceof Error ? done.cause.message : String(done.cause)}`);
  }
  for (const t of parser.outcomes()) {
    const test = { plugin: plugin.dir, package: t.package, name: t.name };
    if (t.outcome === "pass") result.passed++;
    else if (t.outcome === "fail") {
      result.failed.push(test);
      if (!verbose) for (const line of t.output) options.onOutput?.(line);
    } else result.skipped.push({ ...test, reason: t.reason ?? "no reason given" });
  }
  result.exitCode = Math.max(result.exitCode, done.exitCode ?? 1);
  if (done.exitCode !== 0) result.cause ??= parser.cause();
}

/**
 * The SDK's examples test the compiled plugin by reading a module at a fixed
 * path (`"main.wasm"`). Put the built module there for the run, and put back
 * whatever was there before.
 */
async function placeModule(plugin: PluginTarget, result: TestResult): Promise<() => Promise<void>> {
  const wanted = new Set<string>();
  for (const rel of await sourceFiles(plugin.absDir, "", true)) {
    if (!rel.endsWith("_test.go")) continue;
    const text = await readFile(path.join(plugin.absDir, rel), "utf8");
    for (const m of text.matchAll(/"((?:\.\/)?[\w.-]+\.wasm)"/g)) wanted.add(path.join(plugin.absDir, path.dirname(rel), m[1]!));
  }
  const restores: (() => Promise<void>)[] = [];
  const built = await stat(plugin.wasmAbs).catch(() => undefined);
  for (const target of wanted) {
    if (target === plugin.wasmAbs || built === undefined) continue;
    const before = await readFile(target).catch(() => undefined);
    await copyFile(plugin.wasmAbs, target);
    result.placed.push(path.relative(path.dirname(plugin.absDir), target));
    restores.push(async () => {
      if (before === undefined) await rm(target, { force: true });
      else await writeFile(target, before);
    });
  }
  return async () => {
    for (const r of restores) await r();
  };
}

export interface TestFlags extends E2eFlags {
  run?: string;
  goVerbose?: boolean;
  /** Only the plugin's unit tests, or only the e2e cases. */
  unit?: boolean;
  e2e?: boolean;
}

/** `envoywasm test`: the plugin's unit tests, then the e2e/*.yaml cases against a real Envoy (when the project has any). */
export async function runTest(opts: TestFlags, globals: { cwd: string }): Promise<void> {
  if (opts.unit === true && opts.e2e === true) throw new UsageError("--unit and --e2e each leave the other out: give one, or neither for both");
  const unitOnly = opts.unit === true || opts.run !== undefined || opts.goVerbose === true;
  const e2eOnly = opts.e2e === true || opts.case !== undefined || opts.junit !== undefined || opts.json === true;
  if (unitOnly && e2eOnly) throw new UsageError("--run and -v are for unit tests, --case, --junit and --json for e2e cases: use them apart");
  if (!e2eOnly) await runUnitTests(opts, globals);
  if (opts.unit === true || unitOnly) return;
  const root = findProjectRoot(globals.cwd);
  const cases = root === undefined ? [] : (await readdir(path.join(root, "e2e")).catch(() => [] as string[])).filter((f) => /\.ya?ml$/.test(f));
  if (cases.length === 0) {
    if (opts.e2e === true)
      throw new UserError("no e2e cases: e2e/ holds no .yaml file", {
        hint: "write cases in e2e/<name>.yaml (docs/e2e.md); `envoywasm init` writes a starter for each template",
      });
    ui.info(ui.paint("gray", "• no e2e cases (e2e/*.yaml): only the unit tests ran"));
    return;
  }
  const { runE2eCommand } = await import("./e2e-run.js");
  await runE2eCommand(
    { case: opts.case, junit: opts.junit, json: opts.json, envoy: opts.envoy, docker: opts.docker, envoyImage: opts.envoyImage, pull: opts.pull },
    globals,
  );
}

async function runUnitTests(opts: TestFlags, globals: { cwd: string }): Promise<void> {
  await runBuild({ quiet: true }, globals);
  const result = await testPlugins({
    cwd: globals.cwd,
    run: opts.run,
    verbose: opts.goVerbose === true,
    onOutput: (text) => process.stdout.write(text),
    onStart: (plugin, command) => ui.info(ui.paint("gray", `• ${plugin}/: ${command}`)),
    // On a terminal a line per test as it ends; elsewhere (CI logs) a line per package.
    onProgress: ({ package: pkg, test, outcome }) => {
      const mark = outcome === "pass" ? ui.paint("green", "✔") : outcome === "fail" ? ui.paint("red", "✖") : ui.paint("gray", "-");
      if (test !== undefined && process.stderr.isTTY === true) ui.info(`  ${mark} ${test}`);
      else if (test === undefined && process.stderr.isTTY !== true)
        ui.info(`  ${mark} ${pkg || "tests"} ${outcome === "pass" ? "ok" : outcome === "fail" ? "FAILED" : "skipped"}`);
    },
  });
  for (const placed of result.placed) ui.debug(`put the built module at ${placed} for the tests that read it there`);
  const counts = `${result.passed} passed, ${result.failed.length} failed, ${result.skipped.length} skipped`;
  for (const s of result.skipped) ui.warn(`skipped ${s.name} (${s.plugin}/): ${s.reason}`);
  if (result.failed.length > 0 || result.exitCode !== 0) {
    const names = result.failed.map((t) => t.name).join(", ");
    // None failed, yet the command did: some (or all) did not build or start, which the hint names.
    const what = result.failed.length > 0 ? "failed" : result.passed + result.skipped.length > 0 ? "did not all run" : "did not run";
    throw new UserError(`plugin tests ${what}: ${counts}${names === "" ? "" : ` (${names})`}`, {
      hint:
        result.failed.length > 0
          ? "the failing tests' output is above"
          : (result.cause ?? `${result.command} test failed before running the tests; its output is above`),
    });
  }
  if (result.passed + result.skipped.length === 0) {
    // Asked for tests that are not there: an error. A plugin with no unit tests at all: said, not failed.
    if (opts.run !== undefined) throw new UserError("no plugin tests ran", { hint: `no test matches --run ${opts.run}` });
    ui.warn(`the plugin has no unit tests: ${result.command === "cargo" ? "add #[test] functions (src/lib.rs)" : "add tests (*_test.go) next to it"}`);
    return;
  }
  if (result.skipped.length > 0) ui.warn(`plugin tests: ${counts}; the skipped ones did not run`);
  else ui.success(`plugin tests: ${counts}`);
  ui.result(`unit: ${result.passed} passed, ${result.failed.length} failed`);
}
