import path from "node:path";
import { UserError } from "../errors.js";
import type { CargoPackage } from "../build/cargo.js";
import { escapeTomlString } from "./render-text.js";

/**
 * The Cargo.toml of an adopted Rust plugin, made to build where the copy
 * lands: outside the SDK checkout (the SDK's examples depend on
 * `proxy-wasm = { path = "../../" }`) and outside any workspace it was a
 * member of. The text is edited line by line, so comments and layout stay;
 * cargo's own reading of the original (cargo metadata) supplies what the
 * parent workspace held.
 */

export interface CargoRewriteInput {
  /** The adopted folder (absolute): path dependencies inside it are copied with it. */
  source: string;
  /** How the copy names the file in messages, e.g. plugin/Cargo.toml. */
  display: string;
  /** The crates.io requirement for the SDK, instead of a path ("0.2"). */
  sdkVersion: string;
  /** The original's workspace root, when it is not the folder itself. */
  parentWorkspace?: string;
  /** The original package as cargo read it: [package] fields resolved, and its dependencies. */
  resolved: Pick<CargoPackage, "dependencies"> & Record<string, unknown>;
}

export interface CargoRewrite {
  text: string;
  /** One line per change. */
  changes: string[];
}

const SDK_CRATE = "proxy-wasm";
const KEY = String.raw`(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)`;
const ASSIGNMENT = new RegExp(String.raw`^(\s*)(${KEY}(?:\s*\.\s*${KEY})*)\s*=\s*(.*?)\s*$`);
const HEADER = /^\s*\[(\[?)([^\]]+)\]\]?\s*(?:#.*)?$/;
const DEPENDENCY_TABLES = /^(?:target\.(?:"[^"]*"|'[^']*'|[^.]+)\.)?(dependencies|dev-dependencies|build-dependencies|dev_dependencies|build_dependencies)$/;

/** `a . "b-c"` → ["a", "b-c"]. */
function keyParts(key: string): string[] {
  return [...key.matchAll(new RegExp(KEY, "g"))].map((m) => m[0].replace(/^"(.*)"$|^'(.*)'$/, "$1$2"));
}

/** A string value of a pair inside an inline table, e.g. path in { path = "../..", features = [] }. */
function inlineValue(table: string, key: string): string | undefined {
  const m = new RegExp(String.raw`(?:^\{|,)\s*${key}\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|true|false)`).exec(table);
  return m === null ? undefined : m[1]!.replace(/^"(.*)"$|^'(.*)'$/, "$1$2");
}

function withoutPair(table: string, key: string): string {
  return table
    .replace(new RegExp(String.raw`\s*${key}\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|true|false)\s*(,|(?=\}))`), "")
    .replace(/,\s*\}$/, " }")
    .replace(/^\{\s*,/, "{");
}

function tomlValue(value: unknown): string | undefined {
  if (typeof value === "string") return `"${escapeTomlString(value)}"`;
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return `[${value.map((v) => tomlValue(v)).join(", ")}]`;
  return undefined;
}

export function rewriteCargoToml(text: string, input: CargoRewriteInput): CargoRewrite {
  const lines = text.split("\n");
  const changes: string[] = [];
  const inherited: string[] = [];
  const isOutside = (p: string) => {
    const abs = path.resolve(input.source, p);
    return abs !== input.source && !abs.startsWith(input.source + path.sep);
  };
  /** The requirement cargo read for a dependency the parent workspace declared. */
  const workspaceReq = (key: string): string => {
    const dep = input.resolved.dependencies.find((d) => (d.rename ?? d.name) === key);
    if (dep === undefined || dep.source === null || !dep.source.startsWith("registry+")) {
      throw new UserError(
        `${input.display}: the dependency ${key} comes from the workspace at ${input.parentWorkspace ?? "a parent folder"}, and not as a crates.io version`,
        {
          hint: `in the new project's ${input.display}, write where ${key} comes from (a version from crates.io, or a git URL)`,
        },
      );
    }
    return dep.req;
  };
  const isSdk = (key: string, pkg: string | undefined) => (pkg ?? key) === SDK_CRATE;
  /** Another crate of the original's repository, by path: the copy keeps using it, where it is. */
  const stays = (key: string, p: string) => {
    const abs = path.resolve(input.source, p);
    changes.push(`${input.display}: ${key}'s path ${p} now names ${abs} (the copy still builds with it; it must stay there)`);
    return abs;
  };

  // The single-dependency tables ([dependencies.proxy-wasm]) need their `package =` before their `path =` line.
  const sections: { name: string; start: number }[] = [];
  lines.forEach((line, i) => {
    const h = HEADER.exec(line);
    if (h !== null) sections.push({ name: keyParts(h[2]!).join("."), start: i });
  });
  const sectionAt = (i: number) => [...sections].reverse().find((s) => s.start <= i);
  const drop = new Set<number>();

  lines.forEach((line, i) => {
    const section = sectionAt(i);
    if (section === undefined || section.start === i) return;
    const a = ASSIGNMENT.exec(line);
    if (a === null) return;
    const [, indent, rawKey, value] = a as unknown as [string, string, string, string];
    const key = keyParts(rawKey);
    const parts = keyParts(section.name);
    const comment = value.match(/\s+#.*$/)?.[0] ?? "";
    const bare = value.slice(0, value.length - comment.length);

    if (section.name === "package") {
      const inheritedKey =
        (key.length === 2 && key[1] === "workspace" && bare === "true") || (key.length === 1 && /^\{\s*workspace\s*=\s*true\s*\}$/.test(bare));
      if (key.length === 1 && key[0] === "workspace" && input.parentWorkspace !== undefined) {
        drop.add(i);
        changes.push(`${input.display}: dropped \`workspace = ${bare}\` (it names the parent workspace, which is not copied)`);
      } else if (inheritedKey) {
        const field = key[0]!;
        const resolved = tomlValue(
          field === "publish"
            ? input.resolved.publish === null
              ? true
              : Array.isArray(input.resolved.publish) && input.resolved.publish.length === 0
                ? false
                : input.resolved.publish
            : input.resolved[field.replaceAll("-", "_")],
        );
        if (resolved === undefined) {
          throw new UserError(
            `${input.display}: ${field} comes from the workspace at ${input.parentWorkspace ?? "a parent folder"}, and cargo gave no value for it`,
            {
              hint: `write ${field} in the new project's ${input.display}`,
            },
          );
        }
        lines[i] = `${indent}${field} = ${resolved}${comment}`;
        inherited.push(field);
      }
      return;
    }

    const table = DEPENDENCY_TABLES.test(section.name);
    const oneDependency = parts.length >= 2 && DEPENDENCY_TABLES.test(parts.slice(0, -1).join(".")) ? parts.at(-1)! : undefined;
    if (table) {
      const dep = key[0]!;
      if (key.length === 2 && key[1] === "workspace" && bare === "true") {
        lines[i] = `${indent}${dep} = "${escapeTomlString(workspaceReq(dep))}"${comment}`;
        inherited.push(`dependency ${dep}`);
      } else if (key.length === 1 && bare.startsWith("{")) {
        let next = bare;
        if (inlineValue(bare, "workspace") === "true") {
          next = withoutPair(next, "workspace")
            .replace(/^\{\s*/, `{ version = "${escapeTomlString(workspaceReq(dep))}", `)
            .replace(/,\s*\}$/, " }");
          inherited.push(`dependency ${dep}`);
        }
        const p = inlineValue(next, "path");
        if (p !== undefined && isOutside(p) && !isSdk(dep, inlineValue(next, "package"))) {
          next = withoutPair(next, "path")
            .replace(/^\{\s*/, `{ path = "${escapeTomlString(stays(dep, p))}", `)
            .replace(/,\s*\}$/, " }");
        } else if (p !== undefined && isOutside(p)) {
          next = withoutPair(withoutPair(next, "version"), "path")
            .replace(/^\{\s*/, `{ version = "${input.sdkVersion}", `)
            .replace(/,\s*\}$/, " }");
          if (/^\{\s*version\s*=\s*"[^"]*"\s*\}$/.test(next)) next = `"${input.sdkVersion}"`;
          changes.push(`${input.display}: ${dep} = ${bare} is now ${dep} = ${next}, from crates.io (the path points outside the adopted folder)`);
        }
        if (next !== bare) lines[i] = `${indent}${rawKey} = ${next}${comment}`;
      }
    } else if (oneDependency !== undefined) {
      const end = sections.find((s) => s.start > section.start)?.start ?? lines.length;
      const body = lines.slice(section.start + 1, end);
      const pkg = body.map((l) => /^\s*package\s*=\s*"([^"]*)"/.exec(l)?.[1]).find((x) => x !== undefined);
      if (key[0] === "workspace" && bare === "true") {
        lines[i] = `${indent}version = "${escapeTomlString(workspaceReq(oneDependency))}"${comment}`;
        inherited.push(`dependency ${oneDependency}`);
      } else if (key[0] === "path") {
        const p = bare.replace(/^"(.*)"$|^'(.*)'$/, "$1$2");
        if (isOutside(p) && !isSdk(oneDependency, pkg)) {
          lines[i] = `${indent}path = "${escapeTomlString(stays(oneDependency, p))}"${comment}`;
        } else if (isOutside(p)) {
          lines[i] = `${indent}version = "${input.sdkVersion}"${comment}`;
          body.forEach((l, j) => {
            if (/^\s*version\s*=/.test(l)) drop.add(section.start + 1 + j);
          });
          changes.push(
            `${input.display}: [${section.name}] takes version = "${input.sdkVersion}" from crates.io instead of path = ${bare} (outside the adopted folder)`,
          );
        }
      }
    }
  });

  if (inherited.length > 0)
    changes.push(`${input.display}: ${inherited.join(", ")} came from the workspace at ${input.parentWorkspace}: written in, as cargo read them`);
  let out = lines.filter((_, i) => !drop.has(i)).join("\n");
  if (input.parentWorkspace !== undefined && !sections.some((s) => s.name === "workspace")) {
    out = `${out.replace(/\n*$/, "\n")}\n# Its own workspace: the one it belonged to (${input.parentWorkspace}) is not part of this project.\n[workspace]\n`;
    changes.push(`${input.display}: added [workspace], so the package builds on its own (it was a member of the workspace at ${input.parentWorkspace})`);
  }
  return { text: out, changes };
}
