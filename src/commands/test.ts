import { execa } from "execa";
import { copyFile, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { sourceFiles } from "../build/stamp.js";
import { formatCommand } from "../platform/exec.js";
import { resolvePlugins, type PluginTarget } from "../build/plugins.js";
import { loadProject, type Project } from "../project/config.js";
import { ui } from "../ui/output.js";
import { runBuild } from "./build.js";
import { readEnvoyConfig } from "../project/load.js";

export interface TestOptions {
  cwd: string;
  project?: Project;
  run?: string;
  /** Print every test's output, not only the failures'. */
  verbose?: boolean;
  /** Told each line of test output worth showing. */
  onOutput?: (text: string) => void;
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
  /** go test's exit code, the worst over the plugins. */
  exitCode: number;
  /** Modules put where a plugin's tests read them (e.g. ./main.wasm), for the run only. */
  placed: string[];
}

interface GoTestEvent {
  Action: string;
  Package?: string;
  Test?: string;
  Output?: string;
}

/**
 * Runs each plugin's Go tests with `go test -json`, natively and, through
 * ENVOYWASM_WASM, against the built module, and counts what passed, failed
 * and was skipped (with the reason each skip gave). A test that reads the
 * module from a fixed path of its own (the SDK's examples read ./main.wasm)
 * gets the built module there for the run.
 */
export async function testPlugins(options: TestOptions): Promise<TestResult> {
  const project = options.project ?? (await loadProject(options.cwd));
  const layout = resolvePlugins(project, await readEnvoyConfig(project));
  const result: TestResult = { passed: 0, failed: [], skipped: [], exitCode: 0, placed: [] };
  for (const plugin of layout.plugins) {
    const restore = await placeModule(plugin, result);
    try {
      await testOne(plugin, options, result);
    } finally {
      await restore();
    }
  }
  return result;
}

async function testOne(plugin: PluginTarget, options: TestOptions, result: TestResult): Promise<void> {
  const args = ["test", "-json", "-count=1"];
  if (options.run !== undefined) args.push("-run", options.run);
  args.push("./...");
  const env = { ENVOYWASM_WASM: plugin.wasmAbs };
  ui.debug(`$ ${formatCommand("go", args, env, plugin.absDir)}`);
  const child = execa("go", args, { cwd: plugin.absDir, env, reject: false, buffer: false, stdin: "ignore" });
  const outputs = new Map<string, string[]>();
  const seen = new Map<string, string>();
  let pending = "";
  const onEvent = (event: GoTestEvent) => {
    const key = `${event.Package ?? ""}\0${event.Test ?? ""}`;
    if (event.Action === "output" || event.Action === "build-output") {
      const text = event.Output ?? "";
      if (event.Test !== undefined) outputs.set(key, [...(outputs.get(key) ?? []), text]);
      if (options.verbose === true) options.onOutput?.(text);
      else if (event.Test === undefined && !/^(ok|PASS|FAIL|\?|=== |--- )/.test(text.trim())) options.onOutput?.(text);
      return;
    }
    if (event.Test !== undefined && ["pass", "fail", "skip"].includes(event.Action)) seen.set(key, event.Action);
  };
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      try {
        onEvent(JSON.parse(line) as GoTestEvent);
      } catch {
        options.onOutput?.(`${line}\n`);
      }
    }
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => (stderr += chunk));
  const done = await child;
  if (done.exitCode === undefined && done.cause !== undefined) {
    throw new UserError("the go toolchain was not found on PATH", { hint: "install Go 1.24 or newer (https://go.dev/dl/)" });
  }
  if (stderr.trim() !== "") options.onOutput?.(stderr.endsWith("\n") ? stderr : `${stderr}\n`);

  const names = [...seen.keys()];
  for (const [key, action] of seen) {
    // Count leaves only: a test with subtests passes or fails with them.
    if (names.some((other) => other.startsWith(`${key}/`))) continue;
    const [pkg, name] = key.split("\0") as [string, string];
    const test = { plugin: plugin.dir, package: pkg, name };
    if (action === "pass") result.passed++;
    else if (action === "fail") {
      result.failed.push(test);
      if (options.verbose !== true) for (const line of outputs.get(key) ?? []) options.onOutput?.(line);
    } else result.skipped.push({ ...test, reason: skipReason(outputs.get(key) ?? []) });
  }
  result.exitCode = Math.max(result.exitCode, done.exitCode ?? 1);
}

/** What t.Skip said: the output line between "=== RUN" and "--- SKIP", without its file:line. */
export function skipReason(lines: readonly string[]): string {
  const said = lines
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^(=== (RUN|PAUSE|CONT|NAME)|--- SKIP)/.test(l))
    .map((l) => l.replace(/^\S+\.go:\d+: /, ""));
  return said.join(" ") || "no reason given";
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

export async function runTest(opts: { run?: string; goVerbose?: boolean }, globals: { cwd: string }): Promise<void> {
  await runBuild({ quiet: true }, globals);
  const result = await testPlugins({
    cwd: globals.cwd,
    run: opts.run,
    verbose: opts.goVerbose === true,
    onOutput: (text) => process.stdout.write(text),
  });
  for (const placed of result.placed) ui.debug(`put the built module at ${placed} for the tests that read it there`);
  const counts = `${result.passed} passed, ${result.failed.length} failed, ${result.skipped.length} skipped`;
  for (const s of result.skipped) ui.warn(`skipped ${s.name} (${s.plugin}/): ${s.reason}`);
  if (result.failed.length > 0 || result.exitCode !== 0) {
    const names = result.failed.map((t) => t.name).join(", ");
    throw new UserError(`plugin tests failed: ${counts}${names === "" ? "" : ` (${names})`}`, {
      hint: result.failed.length === 0 ? "go test failed before running the tests; its output is above" : "the failing tests' output is above",
    });
  }
  if (result.passed + result.skipped.length === 0) {
    throw new UserError("no plugin tests ran", { hint: opts.run === undefined ? "add tests (*_test.go) next to the plugin" : `no test matches --run ${opts.run}` });
  }
  if (result.skipped.length > 0) ui.warn(`plugin tests: ${counts}; the skipped ones did not run`);
  else ui.success(`plugin tests: ${counts}`);
}
