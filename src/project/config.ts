import { readFile } from "node:fs/promises";
import path from "node:path";
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document, type Node as YamlNode } from "yaml";
import { UserError } from "../errors.js";
import { findProjectRoot, PROJECT_FILE } from "./root.js";

/** The project file that marks a project's root, found the way git finds .git. */

export const TOOLCHAINS = ["go", "tinygo", "rust"] as const;
export type Toolchain = (typeof TOOLCHAINS)[number];
export const RUNTIMES = ["native", "docker"] as const;
export type Runtime = (typeof RUNTIMES)[number];
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "warn", "error", "critical", "off"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const NAME_RULE = "lowercase letters, digits and single dashes, starting with a letter (e.g. my-plugin)";

/**
 * envoywasm.yaml holds only what envoy.yaml cannot say: the toolchain, the
 * plugins' source folders, the backend, the runtime and an Envoy pin. Ports,
 * the plugin configuration, root_id/vm_id and where each .wasm goes are read
 * from envoy.yaml, the one place they are written.
 */
export interface ProjectConfig {
  name: string;
  toolchain: Toolchain;
  runtime: Runtime;
  /** The plugins' Go module folders, relative to the project root; each builds a module envoy.yaml loads. */
  plugins: string[];
  /** The backend Envoy forwards to; absent when the project has none. */
  backend?: {
    /** Folder of the backend's Go module, relative to the project root. */
    dir: string;
    /** The envoy.yaml cluster it serves (default: "backend", or the only loopback one). */
    cluster?: string;
  };
  /** Requests `up` suggests after start (printed as curl lines against the plugin's listener). */
  try?: TryRequest[];
  envoy: {
    /** Envoy's bootstrap config, relative to the project root. */
    config: string;
    /** An Envoy version to use (e.g. "1.40.0"); otherwise whatever is found. */
    version?: string;
    /** An Envoy binary to use; beats `version`. */
    bin?: string;
    /** The image for runtime: docker (default: the official image of the Envoy version). */
    image?: string;
    logLevel: LogLevel;
  };
}

export interface TryRequest {
  path: string;
  method?: string;
  headers?: Record<string, string>;
}

/** A setting of envoywasm 0.1.0 that envoy.yaml holds now; still accepted, with a warning. */
export interface LegacySetting {
  key: string;
  /** Lines it spans, 1-based. */
  lines: [number, number];
}

export interface Project {
  root: string;
  file: string;
  config: ProjectConfig;
  /** Settings of envoywasm 0.1.0 still in the file (see legacyWarning). */
  legacy: LegacySetting[];
}

/** Walk up from `start` to the first folder holding envoywasm.yaml. */
export async function loadProject(cwd: string): Promise<Project> {
  const root = findProjectRoot(cwd);
  if (root === undefined) {
    throw new UserError(`no ${PROJECT_FILE} found in ${path.resolve(cwd)} or any folder above it`, {
      hint: "run `envoywasm init` to create a project, or pass -C <dir> to point at one",
    });
  }
  const file = path.join(root, PROJECT_FILE);
  const text = await readFile(file, "utf8");
  const { config, legacy } = parseProjectFile(text, path.relative(cwd, file) || PROJECT_FILE);
  return { root, file, config, legacy };
}

/** What to tell the owner of a 0.1.0 project file: which lines to delete. */
export function legacyWarning(project: Project, display = PROJECT_FILE): string | undefined {
  if (project.legacy.length === 0) return undefined;
  const spans = project.legacy.map((l) => `${l.key} (line${l.lines[0] === l.lines[1] ? ` ${l.lines[0]}` : `s ${l.lines[0]}-${l.lines[1]}`})`);
  const plugins = project.legacy.some((l) => l.key === "plugin")
    ? `; in place of plugin:, write \`plugins: [${project.config.plugins.join(", ")}]\``
    : "";
  return (
    `${display} is from envoywasm 0.1.0: envoy.yaml now holds the ports and the plugin's settings, and these are no longer read: ` +
    `${spans.join(", ")}. Delete them${plugins}.`
  );
}

/** Parse and validate the text of envoywasm.yaml; errors point at file:line:column. */
export function parseProjectConfig(text: string, displayName = PROJECT_FILE): ProjectConfig {
  return parseProjectFile(text, displayName).config;
}

export function parseProjectFile(text: string, displayName = PROJECT_FILE): { config: ProjectConfig; legacy: LegacySetting[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const pos = lineCounter.linePos(syntax.pos[0]);
    const where = `${displayName}:${pos.line}:${pos.col}`;
    const firstLine = syntax.message.split("\n")[0] ?? syntax.message;
    throw new UserError(`${where}: invalid YAML: ${firstLine}`, {
      hint: `fix the syntax of ${displayName} (it must be a YAML mapping)`,
    });
  }
  const validator = new Validator(doc, lineCounter, displayName);
  const config = validator.validate();
  return { config, legacy: validator.legacy };
}

type Path = readonly (string | number)[];

class Validator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  readonly legacy: LegacySetting[] = [];

  validate(): ProjectConfig {
    const root: unknown = this.doc.toJS();
    if (root === null || typeof root !== "object" || Array.isArray(root)) {
      throw this.fail([], "must be a YAML mapping of settings", "see `envoywasm init --help` for a fresh one");
    }
    this.rejectUnknown([], root, ["name", "toolchain", "runtime", "plugins", "backend", "try", "envoy", "plugin", "ports"]);
    const name = this.string(["name"], { pattern: NAME_PATTERN, rule: NAME_RULE });
    const envoy = this.section(["envoy"], ["config", "version", "bin", "image", "logLevel"]);
    const config: ProjectConfig = {
      name,
      toolchain: this.oneOf(["toolchain"], TOOLCHAINS, "go"),
      runtime: this.oneOf(["runtime"], RUNTIMES, "native"),
      plugins: this.plugins(),
      envoy: {
        config: this.relativePath(["envoy", "config"], "envoy.yaml"),
        logLevel: this.oneOf(["envoy", "logLevel"], LOG_LEVELS, "info"),
      },
    };
    const backend = this.value(["backend"]);
    if (backend !== undefined && backend !== null) {
      this.section(["backend"], ["dir", "cluster"]);
      config.backend = { dir: this.relativePath(["backend", "dir"], "backend") };
      const cluster = this.value(["backend", "cluster"]);
      if (cluster !== undefined && cluster !== null) config.backend.cluster = this.string(["backend", "cluster"]);
    }
    if (envoy.version !== undefined && envoy.version !== null) {
      config.envoy.version = this.string(["envoy", "version"], {
        pattern: /^\d+\.\d+(\.\d+)?$/,
        rule: 'an Envoy version such as "1.40.0" or "1.40"',
      });
    }
    if (envoy.bin !== undefined && envoy.bin !== null) config.envoy.bin = this.string(["envoy", "bin"]);
    const tries = this.value(["try"]);
    if (tries !== undefined && tries !== null) {
      if (!Array.isArray(tries)) throw this.fail(["try"], "must be a list of requests, e.g. [{ path: /hello }]");
      config.try = tries.map((_, i) => {
        this.section(["try", i], ["path", "method", "headers"]);
        const request: TryRequest = { path: this.string(["try", i, "path"], { pattern: /^\/\S*$/, rule: "a path starting with /" }) };
        const method = this.value(["try", i, "method"]);
        if (method !== undefined && method !== null) request.method = this.string(["try", i, "method"], { pattern: /^[A-Z]+$/, rule: "an HTTP method such as GET or POST" });
        const headers = this.section(["try", i, "headers"]);
        const names = Object.keys(headers);
        if (names.length > 0) {
          request.headers = Object.fromEntries(names.map((n) => [n, this.string(["try", i, "headers", n])]));
        }
        return request;
      });
    }
    if (envoy.image !== undefined && envoy.image !== null) config.envoy.image = this.string(["envoy", "image"]);
    return config;
  }

  /**
   * `plugins: [dir, …]`. A 0.1.0 file says `plugin: {dir, wasm, rootId, vmId,
   * config}` and `ports:`; its plugin.dir still counts, the rest is noted as
   * legacy (envoy.yaml holds those now).
   */
  private plugins(): string[] {
    const legacyPlugin = this.value(["plugin"]);
    const list = this.value(["plugins"]);
    if (this.value(["ports"]) !== undefined) this.noteLegacy("ports");
    if (list !== undefined && list !== null) {
      if (legacyPlugin !== undefined) throw this.fail(["plugin"], "is the 0.1.0 form of plugins:, which this file has too", "delete plugin: and its settings", true);
      if (!Array.isArray(list) || list.length === 0) throw this.fail(["plugins"], "must be a list of plugin folders, e.g. [plugin]");
      const dirs = list.map((_, i) => this.relativePath(["plugins", i], ""));
      const seen = new Set<string>();
      dirs.forEach((d, i) => {
        const key = path.posix.normalize(d).replace(/\/+$/, "");
        if (seen.has(key)) throw this.fail(["plugins", i], `lists ${JSON.stringify(d)} twice`);
        seen.add(key);
      });
      return dirs;
    }
    if (legacyPlugin !== undefined && legacyPlugin !== null) {
      this.section(["plugin"], ["dir", "wasm", "rootId", "vmId", "config"]);
      this.noteLegacy("plugin");
      return [this.relativePath(["plugin", "dir"], "plugin")];
    }
    return ["plugin"];
  }

  private noteLegacy(key: string): void {
    const pair = isMap(this.doc.contents) ? this.doc.contents.items.find((item) => isScalar(item.key) && item.key.value === key) : undefined;
    const start = (pair?.key as YamlNode | undefined)?.range?.[0];
    const end = (pair?.value as YamlNode | undefined)?.range?.[1];
    if (start === undefined) return;
    const first = this.lines.linePos(start).line;
    // range[1] is one past the value; a block value ends at the next line's start.
    const last = end === undefined ? first : Math.max(first, this.lines.linePos(Math.max(start, end - 1)).line);
    this.legacy.push({ key, lines: [first, last] });
  }

  private value(p: Path): unknown {
    const v: unknown = this.doc.getIn(p, true);
    if (isScalar(v)) return v.value;
    return isNode(v) ? (v.toJSON() as unknown) : v;
  }

  /** A mapping at p; with `allowed`, only those keys. */
  private section(p: Path, allowed?: readonly string[]): Record<string, unknown> {
    const v = this.value(p);
    if (v === undefined || v === null) return {};
    if (typeof v !== "object" || Array.isArray(v)) throw this.fail(p, "must be a mapping");
    if (allowed !== undefined) this.rejectUnknown(p, v as Record<string, unknown>, allowed);
    return v as Record<string, unknown>;
  }

  private rejectUnknown(p: Path, value: object, allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        const near = closest(key, allowed);
        throw this.fail(
          [...p, key],
          `unknown setting${near === undefined ? "" : ` (did you mean "${near}"?)`}`,
          `allowed here: ${allowed.join(", ")}`,
          true,
        );
      }
    }
  }

  private string(p: Path, o: { fallback?: string; pattern?: RegExp; rule?: string } = {}): string {
    const v = this.value(p);
    if (v === undefined || v === null) {
      if (o.fallback !== undefined) return o.fallback;
      throw this.fail(p, "is required", o.rule === undefined ? undefined : `use ${o.rule}`);
    }
    if (typeof v !== "string" || v === "") {
      // `version: 1.40` is the number 1.4 to YAML: say to quote what was written.
      const node = this.doc.getIn(p, true);
      const written = isScalar(node) && typeof node.source === "string" ? node.source : String(v);
      const hint = typeof v === "number" ? `quote it: "${written}"` : undefined;
      throw this.fail(p, `must be a non-empty string (got ${show(v)})`, hint);
    }
    if (o.pattern !== undefined && !o.pattern.test(v)) {
      throw this.fail(p, `is not valid (got ${show(v)})`, `use ${o.rule ?? o.pattern.source}`);
    }
    return v;
  }

  private relativePath(p: Path, fallback: string): string {
    const v = this.string(p, fallback === "" ? {} : { fallback });
    if (path.isAbsolute(v) || v.split(/[\\/]/).includes("..")) {
      throw this.fail(p, `must be a path inside the project (got ${show(v)})`, "use a path relative to the project root, without ..");
    }
    return v;
  }

  private oneOf<T extends string>(p: Path, allowed: readonly T[], fallback: T): T {
    const v = this.value(p);
    if (v === undefined || v === null) return fallback;
    if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
    throw this.fail(p, `must be one of ${allowed.join(", ")} (got ${show(v)})`);
  }

  private fail(p: Path, message: string, hint?: string, atKey = false): UserError {
    const key = p.length === 0 ? "" : `${p.join(".")} `;
    return new UserError(`${this.where(p, atKey)}: ${key}${message}`, {
      hint: hint ?? `edit ${this.file}`,
    });
  }

  /** file:line:column of the value at p (or of its key, or the nearest parent). */
  private where(p: Path, atKey = false): string {
    for (let depth = atKey ? p.length - 1 : p.length; depth >= 0; depth--) {
      const parentPath = p.slice(0, depth);
      const node: unknown = depth === 0 ? this.doc.contents : this.doc.getIn(parentPath, true);
      if (depth < p.length) {
        // The key itself may exist with an odd value, or not at all.
        const parent = node;
        if (isMap(parent)) {
          const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === p[depth]);
          const keyNode = pair?.key as YamlNode | undefined;
          if (keyNode?.range) return this.at(keyNode.range[0]);
        }
      }
      const range = (node as YamlNode | undefined)?.range;
      if (range) return this.at(range[0]);
    }
    return this.file;
  }

  private at(offset: number): string {
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** The allowed word nearest to a typo, if it is near enough to be a guess. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
