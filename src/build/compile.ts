import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { onExit } from "../platform/exit-hook.js";
import type { CommandSpec } from "./toolchains.js";

/**
 * A plugin's compile: the compiler writes a temp file beside the module, which
 * the build checks and renames into place. Until the build is done with it, a
 * signal or an exit stops the compiler and removes what it wrote.
 */
export interface Compile {
  /** The command line as run, and what it adds to the environment, for messages. */
  argv: string[];
  env: Record<string, string>;
  /** The output file (absolute), a temp name beside the module. */
  temp: string;
  result: Promise<CompileOutcome>;
  /** Stops the compiler if it is still running, waits for it, and removes its output. Idempotent. */
  discard(): Promise<void>;
}

/** How the compiler ended, shaped as platform/exec.ts's run() reports it. */
export interface CompileOutcome {
  exitCode: number | undefined;
  /** stdout and stderr interleaved as it wrote them. */
  all: string;
  spawnError?: NodeJS.ErrnoException;
}

/** Where a toolchain's build command puts its output file. */
export const COMPILE_OUTPUT = "{output}";

/** Runs `spec` (COMPILE_OUTPUT standing for the output file) in `cwd`, writing `temp`. */
export function startCompile(cwd: string, spec: CommandSpec, temp: string): Compile {
  const output = path.relative(cwd, temp);
  const argv = [spec.file, ...spec.args.map((a) => (a === COMPILE_OUTPUT ? output : a))];
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, ...spec.env }, stdio: ["ignore", "pipe", "pipe"] });
  let all = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (all += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (all += text));
  const result = new Promise<CompileOutcome>((resolve) => {
    child.once("error", (error: NodeJS.ErrnoException) => resolve({ exitCode: undefined, all, spawnError: error }));
    child.once("close", (code) => resolve({ exitCode: code ?? undefined, all }));
  });
  // go stops cleanly on SIGINT (it removes its work folder), as at a terminal's Ctrl-C.
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) child.kill("SIGINT");
    rmSync(temp, { force: true });
  };
  const forget = onExit(async () => {
    stop();
    await result;
    await rm(temp, { force: true });
  });
  let discarded: Promise<void> | undefined;
  const discard = () =>
    (discarded ??= (async () => {
      stop();
      await result;
      await rm(temp, { force: true });
      forget();
    })());
  return { argv, env: spec.env, temp, result, discard };
}
