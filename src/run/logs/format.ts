import { paint } from "../../ui/ansi.js";
import { pluginLineParts, type PluginLine } from "../../envoy/log-records.js";

export { pluginLineParts, type PluginLine };

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
  /** Show a plugin's line as time, plugin and message, without Envoy's source-file prefix. */
  readable?: boolean;
}

/** `13:00:00.123 [my-plugin] message`, with the level when it is not info. */
export function readablePluginLine(parts: PluginLine): string {
  const tag = [parts.plugin || "plugin", ...(parts.level === "info" ? [] : [parts.level])].join(" ");
  return `${parts.time} [${tag}] ${parts.message}`;
}

export function formatLine(service: string, line: string, o: FormatOptions): string {
  const parts = o.readable === true ? pluginLineParts(line) : undefined;
  const wasm = parts !== undefined || isWasmLine(line);
  const text = parts === undefined ? line : readablePluginLine(parts);
  const level = parts?.level;
  return prefixed(service, text, { ...o, highlight: !wasm ? undefined : level === "error" || level === "critical" ? "error" : "plugin" });
}

/** `text` behind the service's prefix, highlighted as a plugin's line (red for its errors) when asked. */
export function prefixed(service: string, text: string, o: FormatOptions & { highlight?: "plugin" | "error" }): string {
  const body = !o.colour || o.highlight === undefined ? text : paint(o.highlight === "error" ? ["bold", "red"] : ["bold", "yellow"], text);
  if (!o.prefix) return body;
  const label = `${service.padEnd(o.width)} |`;
  return `${o.colour ? paint(colourFor(service, o.services), label) : label} ${body}`;
}

/** A line as stored in .envoywasm/logs/<service>.log: ISO time, a space, the line (`at`: a Date, or its ISO text). */
export function stampLine(line: string, at: Date | string = new Date()): string {
  return `${typeof at === "string" ? at : at.toISOString()} ${line}\n`;
}

export function parseStampedLine(text: string): { at: number; line: string } | undefined {
  const space = text.indexOf(" ");
  if (space !== 24) return undefined;
  const at = Date.parse(text.slice(0, space));
  return Number.isNaN(at) ? undefined : { at, line: text.slice(space + 1) };
}
