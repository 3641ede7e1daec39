import { readFile } from "node:fs/promises";
import path from "node:path";
import { sourceFiles } from "./stamp.js";

/**
 * Cheap source checks that catch, at build time, what would otherwise show
 * up as a hung or failing request in Envoy.
 */

/** Go source without comments and with string contents blanked, line by line. */
function codeLines(text: string): string[] {
  return text.split("\n").map((line) => line.replace(/\/\/.*$/, "").replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, '""'));
}

/**
 * A `go` statement in a plugin: the host calls the plugin and waits, and a
 * goroutine still running when the callback returns blocks the VM (possibly
 * for good).
 */
export async function goroutineWarnings(pluginDir: string, pluginRel: string): Promise<string[]> {
  const warnings: string[] = [];
  for (const rel of await sourceFiles(pluginDir)) {
    if (!rel.endsWith(".go")) continue;
    codeLines(await readFile(path.join(pluginDir, rel), "utf8")).forEach((code, index) => {
      if (/(^|[;{\s])go\s+(func\b|[\w.]+\()/.test(code)) {
        warnings.push(
          `${pluginRel}/${rel}:${index + 1}: a goroutine in a plugin must finish before the callback returns, or the VM blocks; use OnTick or DispatchHttpCall for work that waits`,
        );
      }
    });
  }
  return warnings;
}

/**
 * `proxywasm.DispatchHttpCall("name", …)` (Go) or `self.dispatch_http_call("name", …)`
 * (Rust) to a cluster envoy.yaml does not define fails at run time with a bare
 * "bad argument". Only literal names are checked; a name held in a variable
 * or the configuration is not.
 */
export async function dispatchClusterWarnings(pluginDir: string, pluginRel: string, clusters: readonly string[], envoyConfig: string): Promise<string[]> {
  const warnings: string[] = [];
  for (const rel of await sourceFiles(pluginDir)) {
    const call = rel.endsWith(".go") ? "DispatchHttpCall" : rel.endsWith(".rs") ? "dispatch_http_call" : undefined;
    if (call === undefined) continue;
    // Comments out, lines kept: rustfmt puts a long call's arguments on lines of their own.
    const code = (await readFile(path.join(pluginDir, rel), "utf8"))
      .split("\n")
      .map((line) => line.replace(/\/\/.*$/, ""))
      .join("\n");
    for (const m of code.matchAll(new RegExp(`\\b${call}\\(\\s*"((?:[^"\\\\]|\\\\.)*)"`, "g"))) {
      const name = m[1]!;
      if (clusters.includes(name)) continue;
      const line = code.slice(0, m.index).split("\n").length;
      warnings.push(
        `${pluginRel}/${rel}:${line}: ${call} to cluster "${name}", which ${envoyConfig} does not define (it has: ${clusters.join(", ") || "none"}); the call will fail with BadArgument`,
      );
    }
  }
  return warnings;
}

const REGISTRATION = /\b(?:proxywasm\.)?(Set(?:VM|Http|Plugin|Tcp)Context)\s*\(/;

/**
 * Contexts registered in main(): a c-shared Go module runs its init functions
 * and never main(), so Envoy would find no VM context and the plugin would
 * fail at its start with a nil-pointer panic (upstream Go only; a TinyGo
 * module runs main()).
 */
export async function registrationWarnings(pluginDir: string, pluginRel: string): Promise<string[]> {
  const warnings: string[] = [];
  for (const rel of await sourceFiles(pluginDir)) {
    if (!rel.endsWith(".go")) continue;
    const code = codeLines(await readFile(path.join(pluginDir, rel), "utf8"));
    let depth = 0;
    let inMain = false;
    code.forEach((line, index) => {
      if (depth === 0 && /^func\s+main\s*\(\s*\)/.test(line)) inMain = true;
      const call = REGISTRATION.exec(line);
      if (inMain && call !== null) {
        warnings.push(
          `${pluginRel}/${rel}:${index + 1}: ${call[1]} is called in main(), which a c-shared Go module never runs: move it into func init() (else the plugin fails at its start)`,
        );
      }
      for (const ch of line) {
        if (ch === "{") depth++;
        else if (ch === "}") depth--;
      }
      if (depth === 0) inMain = false;
    });
  }
  return warnings;
}
