import { paint } from "../ui/ansi.js";

/**
 * The one format for service output, shared by `up` (live) and `logs` (read
 * back from the files): `name | line`, the name padded to the widest one,
 * a stable colour per service, plugin lines highlighted.
 */

export type Service = "envoy" | "backend" | (string & {});

const COLOURS = ["magenta", "cyan", "blue", "green"] as const;

/** Envoy's prefix for a line a plugin logged: `wasm log <plugin> <root_id> <vm_id>: message`. */
export const WASM_LOG = /\bwasm log\b/;

export function isWasmLine(line: string): boolean {
  return WASM_LOG.test(line);
}

export function colourFor(service: string, known: readonly string[]): (typeof COLOURS)[number] {
  const index = known.indexOf(service);
  if (index >= 0) return COLOURS[index % COLOURS.length]!;
  let h = 0;
  for (const c of service) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return COLOURS[h % COLOURS.length]!;
}

export interface FormatOptions {
  colour: boolean;
  prefix: boolean;
  width: number;
  services: readonly string[];
}

export function formatLine(service: string, line: string, o: FormatOptions): string {
  const wasm = isWasmLine(line);
  const body = o.colour && wasm ? paint(["bold", "yellow"], line) : line;
  if (!o.prefix) return body;
  const label = `${service.padEnd(o.width)} |`;
  return `${o.colour ? paint(colourFor(service, o.services), label) : label} ${body}`;
}

/** A line as stored in .envoywasm/logs/<service>.log: ISO time, a space, the line. */
export function stampLine(line: string, at = new Date()): string {
  return `${at.toISOString()} ${line}\n`;
}

export function parseStampedLine(text: string): { at: number; line: string } | undefined {
  const space = text.indexOf(" ");
  if (space !== 24) return undefined;
  const at = Date.parse(text.slice(0, space));
  return Number.isNaN(at) ? undefined : { at, line: text.slice(space + 1) };
}
