import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { COMPILE_OUTPUT, sameSnapshot, snapshot, type FileStat, type RecordedCompile } from "../commands/build-noop.js";
import type { CommandSpec } from "./toolchains.js";
import { watchedPaths } from "./build-cache.js";

/**
 * A plugin's compile: the compiler writing a temp file beside the module,
 * which the build checks and renames into place (build.ts). The entry point
 * may start one before the CLI loads (build-fast.ts), from the command the
 * last good build ran; the build adopts it when it would run the same command
 * on the same files and discards it otherwise. Until a compile is discarded,
 * Ctrl-C, SIGTERM or SIGHUP stop the compiler and remove what it wrote (and
 * end envoywasm, unless a command handles the signal itself), and an exit
 * without discarding (a crash) stops it too.
 */
export interface Compile {
  /** The plugin's folder (absolute), where the compiler runs. */
  cwd: string;
  /** The command as recorded, with COMPILE_OUTPUT for the output file. */
  spec: CommandSpec;
  /** The output file (absolute), a temp name beside the module. */
  temp: string;
  /** Sizes and mtimes of the plugin folder's files and folders just before the compiler started. */
  files: FileStat[];
  /** When it started, in performance.now() time. */
  startedAt: number;
  /** The command line as run, for messages. */
  argv: string[];
  result: Promise<CompileOutcome>;
  /** Stops the compiler if it is still running, waits for it, and removes its output. Idempotent. */
  discard(): Promise<void>;
}

/** What the entry point (bin/envoywasm.js) hands the CLI: compiles already running. */
export interface Handoff {
  early: Compile[];
}

/** How the compiler ended, shaped as lib/exec.ts's run() reports it. */
export interface CompileOutcome {
  exitCode: number | undefined;
  /** stdout and stderr interleaved as it wrote them. */
  all: string;
  spawnError?: NodeJS.ErrnoException;
}

/** The compiles not yet discarded, each with how to stop its compiler. */
const live = new Map<Compile, () => void>();
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

function onSignal(signal: keyof typeof EXIT_CODES): void {
  // A command with a handler of its own (up) decides how to end; else this is Node's default, made clean.
  const alone = process.listenerCount(signal) === 1;
  void Promise.all([...live.keys()].map((c) => c.discard())).finally(() => {
    if (alone) process.exit(EXIT_CODES[signal]);
  });
}

function onExit(): void {
  for (const [compile, kill] of live) {
    kill();
    rmSync(compile.temp, { force: true });
  }
}

function guard(compile: Compile, kill: () => void): void {
  if (live.size === 0) {
    for (const s of Object.keys(EXIT_CODES) as (keyof typeof EXIT_CODES)[]) process.on(s, onSignal);
    process.on("exit", onExit);
  }
  live.set(compile, kill);
}

function unguard(compile: Compile): void {
  live.delete(compile);
  if (live.size > 0) return;
  for (const s of Object.keys(EXIT_CODES) as (keyof typeof EXIT_CODES)[]) process.off(s, onSignal);
  process.off("exit", onExit);
}

/** Starts the recorded compile of one plugin; undefined when its folder cannot be read. */
export async function startEarlyCompile(recorded: RecordedCompile): Promise<Compile | undefined> {
  const files = await watchedPaths(recorded.cwd)
    .then(snapshot)
    .catch(() => undefined);
  if (files === undefined) return undefined;
  const temp = path.join(path.dirname(recorded.wasm), `.${path.basename(recorded.wasm)}.${process.pid}.early.tmp`);
  const ok = await mkdir(path.dirname(temp), { recursive: true }).then(
    () => true,
    () => false,
  );
  return ok ? startCompile(recorded.cwd, recorded.spec, temp, files) : undefined;
}

/** Runs `spec` (with COMPILE_OUTPUT for the output file) in `cwd`, writing `temp`; `files` are the sources as they were just before. */
export function startCompile(cwd: string, spec: CommandSpec, temp: string, files: FileStat[]): Compile {
  const output = path.relative(cwd, temp);
  const argv = [spec.file, ...spec.args.map((a) => (a === COMPILE_OUTPUT ? output : a))];
  const startedAt = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd,
    env: { ...process.env, ...spec.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let all = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (all += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (all += text));
  const result = new Promise<CompileOutcome>((resolve) => {
    child.once("error", (error: NodeJS.ErrnoException) => resolve({ exitCode: undefined, all, spawnError: error }));
    child.once("close", (code) => resolve({ exitCode: code ?? undefined, all }));
  });
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  // go stops cleanly on SIGINT (it removes its work folder), as at a terminal's Ctrl-C.
  const kill = () => {
    if (running()) child.kill("SIGINT");
  };
  let discarded: Promise<void> | undefined;
  const compile: Compile = {
    cwd,
    spec,
    temp,
    files,
    startedAt,
    argv,
    result,
    discard: () =>
      (discarded ??= (async () => {
        kill();
        await result;
        await rm(temp, { force: true });
        unguard(compile);
      })()),
  };
  guard(compile, kill);
  return compile;
}

/** Whether a build that would run `spec` in `cwd` on these files can take this compile instead. */
export function sameCompile(compile: Compile, cwd: string, spec: CommandSpec, files: readonly FileStat[] | undefined): boolean {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const env = (e: Record<string, string>) => Object.entries(e).sort().flat();
  if (compile.cwd !== cwd || compile.spec.file !== spec.file || !same(compile.spec.args, spec.args) || !same(env(compile.spec.env), env(spec.env))) return false;
  return sameSnapshot(compile.files, files);
}
