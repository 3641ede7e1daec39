/**
 * The errors envoywasm raises on purpose. Each carries its message, an optional
 * hint and its exit code, so the top level can render it as text or JSON and
 * tests can assert on it. Anything else that escapes is a bug (exit 70).
 */

export abstract class EnvoywasmError extends Error {
  abstract readonly exitCode: number;
  readonly hint?: string;

  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.hint !== undefined) this.hint = options.hint;
  }
}

/** The command line itself is wrong: a bad flag value, a missing argument. */
export class UsageError extends EnvoywasmError {
  readonly exitCode = 2;
}

/** The user's project or machine is not as it must be; the hint says what to do. */
export class UserError extends EnvoywasmError {
  readonly exitCode = 1;
}

/** An external program failed; keeps what it ran and the tail of what it said. */
export class ChildProcessError extends EnvoywasmError {
  readonly exitCode: number;
  readonly command: string;
  readonly childExitCode: number | undefined;
  readonly output: string;

  constructor(message: string, details: { command: string; childExitCode?: number; output?: string; hint?: string; exitCode?: number }) {
    super(message, details.hint === undefined ? undefined : { hint: details.hint });
    this.command = details.command;
    this.childExitCode = details.childExitCode;
    this.output = details.output ?? "";
    this.exitCode = details.exitCode ?? 1;
  }
}

/** The user stopped us (Ctrl-C, SIGTERM). */
export class CancelledError extends EnvoywasmError {
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.exitCode = signal === "SIGINT" ? 130 : 143;
  }
}

export function isEnvoywasmError(error: unknown): error is EnvoywasmError {
  return error instanceof EnvoywasmError;
}
