import { readdir } from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import { LineCounter, parseDocument, type Document } from "yaml";
import { UsageError, UserError } from "../../errors.js";
import { get, pluginListener, type EnvoyBootstrap } from "../../envoy/bootstrap.js";
import { CASES_DIR } from "../../project/paths.js";
import { closest } from "../../platform/closest.js";
import { readUserFile } from "../../platform/files.js";
import { offsetOf } from "../../project/yaml-position.js";

/**
 * The cases of `envoywasm test` against a real Envoy: files e2e/*.yaml of
 * the project, each a list of requests and what must come back. A bad file
 * is told in one line at file:line:col before anything starts, as
 * envoywasm.yaml is (project/config.ts).
 */

const isMapping = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === "object" && !Array.isArray(x);
const mapping = <const E extends v.ObjectEntries>(entries: E, what: string) =>
  v.pipe(v.custom<Record<string, unknown>>(isMapping, `must be a mapping (${what})`), v.strictObject(entries));
const text = (what: string) => v.pipe(v.string(`must be a string (${what})`), v.nonEmpty(`must not be empty (${what})`));
/** YAML reads `value: 42` as a number; a header's value is its text. */
const scalarText = v.pipe(v.union([v.string(), v.number(), v.boolean()], "must be a string"), v.transform(String));

const RequestSchema = mapping(
  {
    method: v.optional(v.pipe(text("an HTTP method such as GET"), v.regex(/^[A-Z]+$/, "must be an HTTP method in capitals, such as GET or POST")), "GET"),
    path: v.pipe(v.string("is required: a path starting with /, e.g. path: /hello"), v.regex(/^\/\S*$/, "must be a path starting with /, without spaces")),
    headers: v.optional(v.pipe(v.custom<Record<string, unknown>>(isMapping, "must be a mapping of header: value"), v.record(v.string(), scalarText)), {}),
    body: v.optional(v.string("must be a string")),
    listener: v.optional(text("a listener of envoy.yaml, by name")),
  },
  "method, path, headers, body, listener",
);

const BodyExpectSchema = v.union(
  [v.string(), v.strictObject({ contains: v.string() }), v.strictObject({ matches: v.string() }), v.strictObject({ json: v.unknown() })],
  'must be the exact body, or one of { contains: "…" }, { matches: "^…" }, { json: {…} }',
);

const ExpectSchema = mapping(
  {
    status: v.optional(
      v.pipe(
        v.number("must be an HTTP status such as 200"),
        v.integer("must be an HTTP status such as 200"),
        v.minValue(100, "must be an HTTP status"),
        v.maxValue(599, "must be an HTTP status"),
      ),
    ),
    headers: v.optional(
      v.pipe(v.custom<Record<string, unknown>>(isMapping, "must be a mapping of header: value"), v.record(v.string(), v.nullable(scalarText))),
    ),
    body: v.optional(BodyExpectSchema),
    logs: v.optional(v.array(v.string(), "must be a list of texts or /regexes/")),
    noLogs: v.optional(v.array(v.string(), "must be a list of texts or /regexes/")),
  },
  "status, headers, body, logs, noLogs",
);

const CaseSchema = mapping({ name: text("the case's name"), request: RequestSchema, expect: v.optional(ExpectSchema, {}) }, "name, request, expect");
const CaseFileSchema = mapping({ cases: v.array(CaseSchema, "must be a list of cases, each with name, request and expect") }, "cases");

type RawCase = v.InferOutput<typeof CaseSchema>;
export type BodyExpectation =
  { kind: "exact"; text: string } | { kind: "contains"; text: string } | { kind: "matches"; re: RegExp } | { kind: "json"; value: unknown };
/** A log expectation: a substring, or a /regex/. */
export type TextPattern = { source: string; test: (text: string) => boolean };

export interface E2eCase {
  /** The file as shown (relative to the project root), and the case's line in it. */
  file: string;
  line: number;
  name: string;
  listener: string;
  request: { method: string; path: string; headers: Record<string, string>; body?: string };
  expect: {
    status?: number;
    /** Lower-case names: a value, a /regex/ (as a pattern), or null for absent. */
    headers: { name: string; value: string | null; pattern?: RegExp }[];
    body?: BodyExpectation;
    logs: TextPattern[];
    noLogs: TextPattern[];
  };
}

/** What a case file may name in envoy.yaml: its listeners, the default one, and each one's plugin configuration. */
export interface CaseContext {
  listeners: string[];
  defaultListener: string | undefined;
  configOf: (listener: string) => Record<string, unknown> | undefined;
  /** Whether a Wasm filter runs in the listener. */
  hasPlugin: (listener: string) => boolean;
  display: string;
}

export function caseContext(bootstrap: EnvoyBootstrap): CaseContext {
  const withWasm = pluginListener(bootstrap);
  return {
    listeners: bootstrap.listeners.map((l) => l.name),
    defaultListener: withWasm?.name,
    display: bootstrap.display,
    hasPlugin: (listener) => bootstrap.wasmFilters.some((f) => f.listener === listener),
    configOf: (listener) => {
      const configuration = bootstrap.wasmFilters.find((f) => f.listener === listener)?.configuration;
      try {
        const parsed: unknown = JSON.parse(configuration ?? "");
        return isMapping(parsed) ? parsed : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * The cases of every e2e/*.yaml under root, in file order (files by name),
 * those `filter` selects: a case's name or its file's (a `*` glob, else a
 * part of the name). Throws a UsageError for a bad file.
 */
export async function loadCases(root: string, context: CaseContext, filter?: string): Promise<E2eCase[]> {
  const dir = path.join(root, CASES_DIR);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  // Files only: a folder whose name ends in .yaml holds no cases.
  const names = entries
    .filter((e) => /\.ya?ml$/.test(e.name) && !e.isDirectory())
    .map((e) => e.name)
    .sort();
  if (names.length === 0) {
    throw new UserError(`no cases: ${CASES_DIR}/ holds no .yaml file`, {
      hint: `write ${CASES_DIR}/<name>.yaml with cases: [{ name, request: { path: / }, expect: { status: 200 } }]`,
    });
  }
  const all: E2eCase[] = [];
  for (const name of names) {
    const display = `${CASES_DIR}/${name}`;
    all.push(...parseCaseFile(await readUserFile(path.join(dir, name), display), display, context));
  }
  if (filter === undefined) return all;
  const selected = all.filter((c) => selects(filter, c));
  if (selected.length === 0) throw new UsageError(`no case matches ${JSON.stringify(filter)} (cases: ${all.map((c) => c.name).join(", ")})`);
  return selected;
}

function selects(filter: string, c: E2eCase): boolean {
  const base = path.basename(c.file).replace(/\.ya?ml$/, "");
  if (!filter.includes("*")) return c.name.includes(filter) || base === filter || c.file === filter;
  const re = new RegExp(
    `^${filter
      .split("*")
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return [c.name, base, c.file, path.basename(c.file)].some((s) => re.test(s));
}

type Path = readonly (string | number)[];

/** Parses one case file's text; errors are UsageErrors at display:line:col. */
export function parseCaseFile(source: string, display: string, context: CaseContext): E2eCase[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = new Locator(doc, lineCounter, display);
  const syntax = doc.errors[0];
  if (syntax !== undefined) throw new UsageError(`${at.offset(syntax.pos[0])}: invalid YAML: ${syntax.message.split("\n")[0]}`);
  const result = v.safeParse(CaseFileSchema, doc.toJS(), { abortPipeEarly: true });
  if (!result.success) throw at.issue(result.issues);
  const seen = new Map<string, number>();
  return result.output.cases.map((raw, i) => {
    const earlier = seen.get(raw.name);
    if (earlier !== undefined)
      throw at.error(
        ["cases", i, "name"],
        `cases[${i}].name: ${JSON.stringify(raw.name)} is the name of case ${earlier + 1} too; names must be unique in a file`,
      );
    seen.set(raw.name, i);
    return resolveCase(raw, i, at, context);
  });
}

function resolveCase(raw: RawCase, i: number, at: Locator, context: CaseContext): E2eCase {
  const base: Path = ["cases", i];
  const listener = raw.request.listener ?? context.defaultListener;
  if (listener === undefined) throw at.error([...base, "request"], `${context.display} has no listener to send the request to`);
  if (!context.listeners.includes(listener)) {
    const near = closest(listener, context.listeners);
    throw at.error(
      [...base, "request", "listener"],
      `${show([...base, "request", "listener"])}: ${context.display} has no listener ${JSON.stringify(listener)}${near === undefined ? "" : ` (did you mean "${near}"?)`}; its listeners: ${context.listeners.join(", ")}`,
    );
  }
  const config = context.configOf(listener);
  const resolve = (value: string, p: Path) =>
    value.replace(/\{config\.([\w.-]+)\}/g, (reference: string, key: string) => {
      const found = get(config, key.split("."));
      if (typeof found === "string" || typeof found === "number" || typeof found === "boolean") return String(found);
      const why = !context.hasPlugin(listener)
        ? `${reference}: listener ${listener} of ${context.display} runs no Wasm filter, so there is no plugin configuration to take it from`
        : config === undefined
          ? `${reference}: the plugin configuration of listener ${listener} in ${context.display} is not a JSON object`
          : `${reference} is not in the plugin configuration of listener ${listener} in ${context.display} (its keys: ${Object.keys(config).join(", ")})`;
      throw at.error([...base, ...p], `${show([...base, ...p])}: ${why}`);
    });
  const pattern = (value: string, p: Path): RegExp | undefined => {
    const m = /^\/(.+)\/([dgimsuy]*)$/s.exec(value);
    if (m === null) return undefined;
    return regex(m[1]!, m[2]!.replace("g", ""), p);
  };
  const regex = (source: string, flags: string, p: Path): RegExp => {
    try {
      return new RegExp(source, flags);
    } catch (error) {
      throw at.error([...base, ...p], `${show([...base, ...p])}: not a valid regex: ${(error as Error).message.replace(/^Invalid regular expression: /, "")}`);
    }
  };
  const textPattern = (value: string, p: Path): TextPattern => {
    const re = pattern(value, p);
    const resolved = re === undefined ? resolve(value, p) : undefined;
    return { source: value, test: re === undefined ? (t) => t.includes(resolved!) : (t) => re.test(t) };
  };
  const e = raw.expect;
  let body: BodyExpectation | undefined;
  if (typeof e.body === "string") body = { kind: "exact", text: resolve(e.body, ["expect", "body"]) };
  else if (e.body !== undefined && "contains" in e.body) body = { kind: "contains", text: resolve(e.body.contains, ["expect", "body", "contains"]) };
  else if (e.body !== undefined && "matches" in e.body) body = { kind: "matches", re: regex(e.body.matches, "", ["expect", "body", "matches"]) };
  else if (e.body !== undefined && "json" in e.body) body = { kind: "json", value: e.body.json };
  return {
    file: at.file,
    line: at.line([...base, "name"]),
    name: raw.name,
    listener,
    request: {
      method: raw.request.method,
      path: resolve(raw.request.path, ["request", "path"]),
      headers: Object.fromEntries(
        Object.entries(raw.request.headers).map(([k, val]) => [resolve(k, ["request", "headers", k]), resolve(val, ["request", "headers", k])]),
      ),
      ...(raw.request.body === undefined ? {} : { body: resolve(raw.request.body, ["request", "body"]) }),
    },
    expect: {
      status: e.status,
      headers: Object.entries(e.headers ?? {}).map(([k, val]) => {
        const name = resolve(k, ["expect", "headers", k]).toLowerCase();
        if (val === null) return { name, value: null };
        const re = pattern(val, ["expect", "headers", k]);
        return re === undefined ? { name, value: resolve(val, ["expect", "headers", k]) } : { name, value: val, pattern: re };
      }),
      body,
      logs: (e.logs ?? []).map((l, j) => textPattern(l, ["expect", "logs", j])),
      noLogs: (e.noLogs ?? []).map((l, j) => textPattern(l, ["expect", "noLogs", j])),
    },
  };
}

/** Where a path of the document is, for messages. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    readonly file: string,
  ) {}

  offset(offset: number): string {
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }

  error(p: Path, message: string, key = false): UsageError {
    return new UsageError(`${this.where(p, key)}: ${message}`, { hint: `edit ${this.file}` });
  }

  line(p: Path): number {
    return Number(/:(\d+):\d+$/.exec(this.where(p, true))?.[1] ?? 0);
  }

  /** The first problem, a misspelt key before all else (it explains the rest), as one UsageError. */
  issue(issues: readonly v.BaseIssue<unknown>[]): UsageError {
    const unknown = issues.find((i) => i.type === "strict_object" && i.expected === "never");
    const issue = unknown ?? issues[0]!;
    const p: Path = issue.path?.map((item) => item.key as string | number) ?? [];
    const shown = p.length === 0 ? "" : `${show(p)}: `;
    if (unknown !== undefined) {
      const allowed = allowedKeys(p.slice(0, -1));
      const near = closest(String(p.at(-1)), allowed);
      return this.error(p, `${shown}unknown key${near === undefined ? "" : ` (did you mean "${near}"?)`}; allowed here: ${allowed.join(", ")}`, true);
    }
    // A required key that is missing: said at its mapping.
    const missing = issue.input === undefined && issue.path?.at(-1)?.origin === "key";
    const message = issue.input === undefined && issue.message.startsWith("is required") ? issue.message : missing ? `is required` : issue.message;
    return this.error(p, `${shown}${message}`, missing);
  }

  private where(p: Path, atKey: boolean): string {
    const offset = offsetOf(this.doc, p, atKey);
    return offset === undefined ? `${this.file}:1:1` : this.offset(offset);
  }
}

/** A path as a reader writes it: cases[0].request.path. */
function show(p: Path): string {
  return p.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
}

/** The keys allowed in the mapping at p (its kind told by where it is). */
function allowedKeys(p: Path): string[] {
  const names = p.filter((k): k is string => typeof k === "string");
  const last = names.at(-1);
  if (last === undefined) return ["cases"];
  if (last === "cases") return ["name", "request", "expect"];
  if (last === "request") return ["method", "path", "headers", "body", "listener"];
  if (last === "expect") return ["status", "headers", "body", "logs", "noLogs"];
  if (last === "body") return ["contains", "matches", "json"];
  return [];
}
