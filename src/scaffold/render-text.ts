import path from "node:path";
import { parseAllDocuments } from "yaml";

/**
 * A template's text with its \`{{name}}\` placeholders filled. Escaping is
 * decided by where a placeholder lands: in .go, .rs, .toml, .yaml and .json a
 * string value must sit inside a double-quoted literal and is escaped for that
 * language (a number or an object may sit bare, an object as JSON, which is
 * also valid YAML flow syntax); in go.mod only a module path, checked against
 * Go's rules; anything else (Markdown, .gitignore) takes the value as it is.
 */
/**
 * Text that fills a YAML block scalar (`value: |` and the placeholder on the
 * next line, alone): every line is indented as the placeholder is.
 */
export class BlockText {
  constructor(readonly text: string) {}
}

export type TemplateValue = string | number | Record<string, unknown> | BlockText;

export type TemplateValues = Record<string, TemplateValue>;

export type Language = "go" | "gomod" | "rust" | "toml" | "yaml" | "json" | "text";

export function languageOf(file: string): Language {
  const base = path.posix.basename(file);
  if (base === "go.mod") return "gomod";
  if (base.endsWith(".go")) return "go";
  if (base.endsWith(".rs")) return "rust";
  if (base.endsWith(".toml") || base === "Cargo.lock") return "toml";
  if (base.endsWith(".yaml") || base.endsWith(".yml")) return "yaml";
  if (base.endsWith(".json")) return "json";
  return "text";
}

const PLACEHOLDER = /\{\{([A-Za-z][A-Za-z0-9]*)\}\}/g;

/** Go's rules for a module path, simplified: no spaces, quotes or odd characters. */
export const MODULE_PATH = /^[A-Za-z0-9][A-Za-z0-9._~-]*(\/[A-Za-z0-9._~-]+)*$/;

export class TemplateError extends Error {}

export function renderText(text: string, values: TemplateValues, language: Language, file = "<template>"): string {
  const out = text.replace(PLACEHOLDER, (match: string, name: string, offset: number) => {
    const value = values[name];
    if (value === undefined) throw new TemplateError(`${file}: unknown placeholder ${match}`);
    const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
    if (value instanceof BlockText) {
      const indent = text.slice(lineStart, offset);
      if (language !== "yaml" || !/^ *$/.test(indent) || indent === "") {
        throw new TemplateError(`${file}: ${match} must stand alone, indented, on a line of a YAML block scalar`);
      }
      return value.text.replace(/\n+$/, "").split("\n").join(`\n${indent}`);
    }
    const context = contextOf(text.slice(lineStart, offset), language);
    if (context === "comment") {
      // A comment is inert, but no language takes a control character in it (TOML and YAML refuse one).
      return (typeof value === "object" ? JSON.stringify(value) : String(value)).replace(/\s+/g, " ").replace(/\p{Cc}/gu, "\ufffd");
    }
    return escapeFor(language, value, context === "quoted", `${file}: ${match}`);
  });
  if (language === "yaml") {
    for (const doc of parseAllDocuments(out)) {
      if ("errors" in doc && doc.errors.length > 0) {
        throw new TemplateError(`${file}: rendered YAML is invalid: ${doc.errors[0]?.message ?? ""}`);
      }
    }
  }
  return out;
}

/**
 * Where on its line a placeholder sits: inside a double-quoted literal, in a
 * comment (`//` in Go, `#` in YAML; its text is inert), or bare.
 */
function contextOf(linePrefix: string, language: Language): "quoted" | "comment" | "bare" {
  let inside = false;
  for (let i = 0; i < linePrefix.length; i++) {
    const c = linePrefix[i];
    if (inside) {
      if (c === "\\") i++;
      else if (c === '"') inside = false;
    } else if (c === '"') inside = true;
    else if ((language === "yaml" || language === "toml") && c === "#" && (i === 0 || /\s/.test(linePrefix[i - 1]!))) return "comment";
    else if ((language === "go" || language === "rust") && c === "/" && linePrefix[i + 1] === "/") return "comment";
  }
  return inside ? "quoted" : "bare";
}

function escapeFor(language: Language, value: Exclude<TemplateValue, BlockText>, quoted: boolean, where: string): string {
  switch (language) {
    case "text":
      return typeof value === "object" ? JSON.stringify(value) : String(value);
    case "gomod":
      if (typeof value !== "string" || !MODULE_PATH.test(value)) {
        throw new TemplateError(`${where}: not a Go module path: ${JSON.stringify(value)}`);
      }
      return value;
    case "go":
    case "rust":
    case "toml":
    case "yaml":
    case "json":
      if (quoted) {
        const s = typeof value === "object" ? JSON.stringify(value) : String(value);
        return ESCAPE[language](s);
      }
      if (typeof value === "number") return String(value);
      if (typeof value === "object" && language !== "go") return JSON.stringify(value);
      throw new TemplateError(`${where}: a ${typeof value} value must sit inside a "double-quoted" literal in a ${language} file`);
  }
}

const ESCAPE = {
  go: escapeGoString,
  rust: escapeRustString,
  toml: escapeTomlString,
  yaml: escapeYamlDoubleQuoted,
  json: escapeJsonString,
} as const;

/**
 * The inside of a double-quoted literal: backslash, quote, \n, \t and \r as
 * every language here writes them; any other character as `other` says
 * (its escape), or as it is.
 */
function escapeQuoted(s: string, other: (code: number) => string | undefined): string {
  let out = "";
  for (const ch of s) {
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else out += other(ch.codePointAt(0)!) ?? ch;
  }
  return out;
}

/** A lone surrogate is not valid UTF-8: written as U+FFFD. */
const isSurrogate = (code: number) => code >= 0xd800 && code <= 0xdfff;
const isControl = (code: number) => code < 0x20 || code === 0x7f;
const hex2 = (code: number) => code.toString(16).padStart(2, "0");

/** The inside of a Rust string literal ("…"). */
export function escapeRustString(s: string): string {
  return escapeQuoted(s, (code) => {
    if (isControl(code) || code === 0xfeff || (code >= 0x80 && code < 0xa0)) return `\\u{${code.toString(16)}}`;
    return isSurrogate(code) ? "\\u{fffd}" : undefined;
  });
}

/** The inside of a TOML basic string ("…"): JSON's escapes, and DEL, which TOML forbids raw. */
export function escapeTomlString(s: string): string {
  return escapeJsonString(s).replaceAll("\x7f", "\\u007F");
}

/** The inside of a Go interpreted string literal. */
export function escapeGoString(s: string): string {
  return escapeQuoted(s, (code) => {
    if (isControl(code)) return `\\x${hex2(code)}`;
    if (isSurrogate(code)) return "\\uFFFD";
    return code === 0xfeff ? "\\uFEFF" : undefined; // Go refuses a raw BOM inside a file
  });
}

/** The inside of a YAML double-quoted scalar. */
export function escapeYamlDoubleQuoted(s: string): string {
  return escapeQuoted(s, (code) => {
    if (isControl(code) || (code >= 0x80 && code < 0xa0)) return `\\x${hex2(code)}`;
    if (code === 0x2028 || code === 0x2029 || code === 0xfeff) return `\\u${code.toString(16)}`;
    return isSurrogate(code) ? "\\ufffd" : undefined;
  });
}

/** The inside of a JSON string. */
export function escapeJsonString(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}
