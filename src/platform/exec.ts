import { ui } from "../ui/output.js";

/**
 * The one way envoywasm runs an external program for a result: an argument
 * array (never a shell string), no throwing on a non-zero exit (callers decide
 * what a failure means), and under --verbose a copy-pasteable echo of the
 * command. Long-running supervised children do not come through here; see
 * run/runtime/process.ts.
 */

export interface RunOptions {
  cwd?: string;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  /** Give up and kill the program after this many milliseconds. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Stream the program's output to ours instead of capturing it. */
  inherit?: boolean;
  /** With inherit: the program's stdout goes to our stderr (progress, not results). */
  stdoutToStderr?: boolean;
  input?: string;
}

export interface RunResult {
  command: string;
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as the program wrote them. */
  all: string;
  failed: boolean;
  timedOut: boolean;
  /** The program could not be started at all (ENOENT, EACCES). */
  spawnError?: NodeJS.ErrnoException;
}

export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const command = echoCommand(file, args, options.env, options.cwd);
  // execa and its dependencies take ~0.1 s to load: only when a program runs.
  const { execa } = await import("execa");
  const result = await execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: true,
    reject: false,
    all: options.inherit !== true,
    stdio: options.inherit === true ? ["ignore", options.stdoutToStderr === true ? 2 : "inherit", "inherit"] : ["pipe", "pipe", "pipe"],
    input: options.input,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    forceKillAfterDelay: 3000,
    stripFinalNewline: false,
  });
  const spawnError =
    result.exitCode === undefined && result.cause instanceof Error && "code" in result.cause ? (result.cause as NodeJS.ErrnoException) : undefined;
  return {
    command,
    exitCode: result.exitCode,
    stdout: typeof result.stdout === "string" ? result.stdout : "",
    stderr: typeof result.stderr === "string" ? result.stderr : "",
    all: typeof result.all === "string" ? result.all : "",
    failed: result.failed,
    timedOut: result.timedOut,
    spawnError,
  };
}

/** Under --verbose, shows a command as it is about to run (copy-pasteable); returns it. */
export function echoCommand(file: string, args: readonly string[], env?: Record<string, string>, cwd?: string): string {
  const command = formatCommand(file, args, env, cwd);
  ui.debug(`$ ${command}`);
  return command;
}

const SAFE = /^[\w@%+=:,./-]+$/;

/** Quote one word for a POSIX shell, only when it needs it. */
export function shellQuote(word: string): string {
  if (word !== "" && SAFE.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export function formatCommand(file: string, args: readonly string[], env?: Record<string, string>, cwd?: string): string {
  const envPart = Object.entries(env ?? {}).map(([k, v]) => `${k}=${shellQuote(v)}`);
  const line = [...envPart, shellQuote(file), ...args.map(shellQuote)].join(" ");
  return cwd === undefined ? line : `(cd ${shellQuote(cwd)} && ${line})`;
}

/** The last lines of a program's output, for error messages. */
export function tailLines(text: string, count: number): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  return lines.slice(-count).join("\n");
}
