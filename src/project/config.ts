import { closest } from "../platform/closest.js";
import path from "node:path";
import * as v from "valibot";
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node as YamlNode } from "yaml";
import { UserError } from "../errors.js";
import { readUserFile } from "../platform/files.js";
import { ProjectConfigSchema, type ProjectConfig } from "./config-schema.js";
import { findProjectRoot, PROJECT_FILE } from "./root.js";
import { offsetOf } from "./yaml-position.js";

export { LOG_LEVELS, NAME_PATTERN, NAME_RULE, RUNTIMES, TOOLCHAINS } from "./config-schema.js";
export type { LogLevel, ProjectConfig, Runtime, Toolchain, TryRequest } from "./config-schema.js";

/**
 * envoywasm.yaml, read: its YAML parsed with positions, its settings parsed
 * by ProjectConfigSchema (config-schema.ts), and the first problem told at
 * file:line:column, naming the setting, with a hint.
 */

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
  const display = path.relative(cwd, file) || PROJECT_FILE;
  const { config, legacy } = parseProjectFile(await readUserFile(file, display), display);
  return { root, file, config, legacy };
}

/** What to tell the owner of a 0.1.0 project file: which lines to delete. */
export function legacyWarning(project: Project, display = PROJECT_FILE): string | undefined {
  if (project.legacy.length === 0) return undefined;
  const spans = project.legacy.map((l) => `${l.key} (line${l.lines[0] === l.lines[1] ? ` ${l.lines[0]}` : `s ${l.lines[0]}-${l.lines[1]}`})`);
  const plugins = project.legacy.some((l) => l.key === "plugin") ? `; in place of plugin:, write \`plugins: [${project.config.plugins.join(", ")}]\`` : "";
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
  let input: unknown;
  try {
    input = doc.toJS();
  } catch (error) {
    // The yaml package's resource limits (an alias bomb: "Excessive alias count …"): the user's file, not a crash.
    throw new UserError(`${displayName}: ${(error as Error).message}`, { hint: `${displayName} expands too far (anchors and aliases); write the values out` });
  }
  const result = v.safeParse(ProjectConfigSchema, input, { abortPipeEarly: true });
  if (!result.success) throw new Problems(doc, lineCounter, displayName).tell(result.issues);
  return { config: result.output, legacy: legacySettings(doc, lineCounter, input as Record<string, unknown>) };
}

type Path = readonly (string | number)[];

/**
 * 0.1.0's `ports:`, and its `plugin:` where there is no `plugins:`: still
 * read (plugin.dir), but envoy.yaml holds the rest now, so the warning says
 * which lines to delete.
 */
function legacySettings(doc: Document, lines: LineCounter, input: Record<string, unknown>): LegacySetting[] {
  const keys = [
    input.ports !== undefined && "ports",
    (input.plugins === undefined || input.plugins === null) && input.plugin !== undefined && input.plugin !== null && "plugin",
  ];
  return keys.flatMap((key) => {
    if (key === false) return [];
    const pair = isMap(doc.contents) ? doc.contents.items.find((item) => isScalar(item.key) && item.key.value === key) : undefined;
    const start = (pair?.key as YamlNode | undefined)?.range?.[0];
    const end = (pair?.value as YamlNode | undefined)?.range?.[1];
    if (start === undefined) return [];
    const first = lines.linePos(start).line;
    // range[1] is one past the value; a block value ends at the next line's start.
    const last = end === undefined ? first : Math.max(first, lines.linePos(Math.max(start, end - 1)).line);
    return [{ key, lines: [first, last] as [number, number] }];
  });
}

/** The schema's parts, as far as finding a setting's own schema needs them. */
interface SchemaPart {
  kind?: string;
  entries?: Record<string, SchemaPart>;
  item?: SchemaPart;
  wrapped?: SchemaPart;
  pipe?: readonly SchemaPart[];
}

/** The schema of the setting at p (a mapping's, a list's, or a value's). */
function schemaAt(p: Path): SchemaPart | undefined {
  let part: SchemaPart | undefined = ProjectConfigSchema;
  for (const key of p) {
    const holder: SchemaPart | undefined = part === undefined ? undefined : container(part);
    part = typeof key === "number" ? holder?.item : holder?.entries?.[key];
  }
  return part;
}

/** Through optional and piped wrappers to the schema that holds entries or items. */
function container(part: SchemaPart): SchemaPart {
  for (;;) {
    if (part.wrapped !== undefined) part = part.wrapped;
    else if (part.entries !== undefined || part.item !== undefined) return part;
    else {
      const inner = part.pipe?.slice(1).find((p) => p.kind === "schema");
      if (inner === undefined) return part;
      part = inner;
    }
  }
}

class Problems {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  /** The first problem (a misspelt key before all else: it explains the rest) as one UserError. */
  tell(issues: readonly v.BaseIssue<unknown>[]): UserError {
    const unknown = issues.filter(isUnknownKey).sort((a, b) => (a.path?.length ?? 0) - (b.path?.length ?? 0));
    const issue = unknown[0] ?? issues[0]!;
    const p: Path = issue.path?.map((item) => item.key as string | number) ?? [];
    const atKey = issue.path?.at(-1)?.origin === "key";
    let [message, hint] = issue.message.split("\n") as [string, string | undefined];
    if (isUnknownKey(issue)) {
      const allowed = Object.keys(container(schemaAt(p.slice(0, -1)) ?? {}).entries ?? {});
      const near = closest(String(p.at(-1)), allowed);
      message = `unknown setting${near === undefined ? "" : ` (did you mean "${near}"?)`}`;
      hint = `allowed here: ${allowed.join(", ")}`;
    } else if (issue.type === "strict_object" && atKey) {
      // A required setting that is missing: its own schema says so, and how to write it.
      const own = schemaAt(p);
      [message, hint] = (own === undefined ? "is required" : (v.safeParse(own as v.GenericSchema, undefined).issues?.[0]?.message ?? "is required")).split(
        "\n",
      ) as [string, string | undefined];
    } else if (issue.type === "string" && typeof issue.input === "number") {
      // `version: 1.40` is the number 1.4 to YAML: say to quote what was written.
      const node = this.doc.getIn(p, true);
      hint = `quote it: "${isScalar(node) && typeof node.source === "string" ? node.source : String(issue.input)}"`;
    }
    const key = p.length === 0 ? "" : `${p.join(".")} `;
    return new UserError(`${this.where(p, atKey)}: ${key}${message}`, { hint: hint ?? `edit ${this.file}` });
  }

  /** file:line:column of the value at p (or of its key, or the nearest parent). */
  private where(p: Path, atKey: boolean): string {
    const offset = offsetOf(this.doc, p, atKey);
    return offset === undefined ? this.file : this.at(offset);
  }

  private at(offset: number): string {
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }
}

function isUnknownKey(issue: v.BaseIssue<unknown>): boolean {
  return issue.type === "strict_object" && issue.expected === "never";
}
