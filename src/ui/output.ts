import { paint, type Style } from "./ansi.js";

/**
 * Where envoywasm talks to people. Results go to stdout; progress, warnings
 * and errors go to stderr. Colour only when the stream is a TTY and NO_COLOR
 * is unset (https://no-color.org), or when FORCE_COLOR asks for it.
 */

export interface UiOptions {
  verbose: boolean;
  json: boolean;
}

function colourWanted(stream: NodeJS.WriteStream): boolean {
  const env = process.env;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0";
  return stream.isTTY === true && env.TERM !== "dumb";
}

class Ui {
  verbose = false;
  json = false;
  readonly stdoutColour = colourWanted(process.stdout);
  readonly stderrColour = colourWanted(process.stderr);

  configure(options: Partial<UiOptions>): void {
    if (options.verbose !== undefined) this.verbose = options.verbose;
    if (options.json !== undefined) this.json = options.json;
  }

  /** Paint text for stderr. */
  paint(style: Style | readonly Style[], text: string): string {
    return this.stderrColour ? paint(style, text) : text;
  }

  /** Paint text for stdout. */
  paintOut(style: Style | readonly Style[], text: string): string {
    return this.stdoutColour ? paint(style, text) : text;
  }

  /** A line of progress on stderr. */
  info(message: string): void {
    process.stderr.write(`${message}\n`);
  }

  success(message: string): void {
    process.stderr.write(`${this.paint("green", "✔")} ${message}\n`);
  }

  warn(message: string): void {
    process.stderr.write(`${this.paint("yellow", "warning:")} ${message}\n`);
  }

  /** Only under --verbose: the exact commands we run and other internals. */
  debug(message: string): void {
    if (this.verbose) process.stderr.write(`${this.paint("gray", message)}\n`);
  }

  /** A result on stdout (the only thing on stdout under --json). */
  result(text: string): void {
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  resultJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  get interactive(): boolean {
    return process.stdin.isTTY === true && process.stdout.isTTY === true;
  }
}

export const ui = new Ui();
