/**
 * ANSI colours. Callers decide whether colour is wanted (see output.ts);
 * this only paints. (node:util's styleText checks a stream on its own,
 * differently across Node 20 minors, so it is not used.)
 */
const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
} as const;

export type Style = keyof typeof CODES;

export function paint(style: Style | readonly Style[], text: string): string {
  const styles = typeof style === "string" ? [style] : style;
  let out = text;
  for (const s of styles) {
    const [open, close] = CODES[s];
    out = `\u001b[${open}m${out}\u001b[${close}m`;
  }
  return out;
}
