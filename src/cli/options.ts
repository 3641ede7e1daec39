import { type Command, InvalidArgumentError } from "commander";

/** What every command gets from the global options. */
export interface GlobalOptions {
  cwd: string;
  verbose: boolean;
  json?: boolean;
}

export function globals(command: Command): GlobalOptions {
  const o = command.optsWithGlobals<{ cwd?: string; verbose?: boolean; json?: boolean; color?: boolean }>();
  return { cwd: o.cwd ?? process.cwd(), verbose: o.verbose === true, json: o.json };
}

/** A whole number from min to max, parsed by commander (a bad one is a usage error, exit 2). */
export function integer(min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`);
    }
    return Number(value);
  };
}

export const port = integer(1, 65535);

export function example(text: string): string {
  return `\nExamples:\n${text
    .trim()
    .split("\n")
    .map((l) => `  ${l.trim()}`)
    .join("\n")}\n`;
}
