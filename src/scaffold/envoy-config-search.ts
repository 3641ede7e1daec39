import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.js";

/**
 * Which Envoy config an adopted plugin's folder runs with. Real repositories
 * keep it at the root, or in test/, test/fixtures/, example(s)/, deploy/,
 * config/, under any name: every YAML file (three folders deep at most) that
 * holds `static_resources` or `bootstrap_extensions` is a candidate, and the
 * best is one that loads a Wasm module from a local file, nearest the root,
 * named envoy.yaml.
 */
export interface FoundConfig {
  file: string;
  /** The other candidates, for the one line that says which was taken. */
  others: string[];
}

const SKIP = new Set([".git", ".envoywasm", "build", "target", "node_modules", "vendor"]);
const PREFERRED = ["", "test", "tests", "test/fixtures", "testdata", "example", "examples", "deploy", "config", "e2e"];

export async function findEnvoyConfig(source: string, explicit?: string, cwd = process.cwd()): Promise<FoundConfig | undefined> {
  // A fresh config, whatever the folder holds (one that loads the module from elsewhere, one for another setup).
  if (explicit === "none") return undefined;
  if (explicit !== undefined) {
    // Relative to where the command runs, or else to the adopted folder (`--envoy-config example/envoy.yaml`).
    let file = path.resolve(cwd, explicit);
    let text = await readFile(file, "utf8").catch(() => undefined);
    if (text === undefined && !path.isAbsolute(explicit)) {
      file = path.resolve(source, explicit);
      text = await readFile(file, "utf8").catch(() => undefined);
    }
    if (text === undefined) throw new UsageError(`--envoy-config ${explicit}: no such file, here or in ${path.relative(cwd, source) || "."}`);
    if (!isEnvoyConfig(text)) throw new UsageError(`--envoy-config ${explicit}: not an Envoy config (no static_resources or bootstrap_extensions)`);
    return { file, others: [] };
  }
  const found: { file: string; score: number }[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    const entries = await readdir(path.join(source, rel), { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory() && depth < 3 && !SKIP.has(entry.name) && !entry.name.startsWith(".")) await walk(r, depth + 1);
      else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) {
        const text = await readFile(path.join(source, r), "utf8").catch(() => "");
        if (!isEnvoyConfig(text)) continue;
        const wasm = /envoy\.extensions\.(?:filters\.(?:http|network)\.wasm\.v3\.Wasm|wasm\.v3\.WasmService)/.test(text) && /\bfilename:/.test(text) ? 0 : 100;
        const folder = PREFERRED.indexOf(path.posix.dirname(r) === "." ? "" : path.posix.dirname(r));
        const named = /^envoy\.ya?ml$/.test(entry.name) ? 0 : 1;
        found.push({ file: path.join(source, r), score: wasm + (folder < 0 ? 50 : folder * 2) + depth * 5 + named });
      }
    }
  };
  await walk("", 0);
  found.sort((a, b) => a.score - b.score);
  const [best, ...rest] = found;
  return best === undefined ? undefined : { file: best.file, others: rest.map((f) => f.file) };
}

function isEnvoyConfig(text: string): boolean {
  return /^(?:static_resources|bootstrap_extensions):/m.test(text);
}
