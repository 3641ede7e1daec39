import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { shellQuote } from "../platform/exec.js";

const SKIP = new Set(["vendor", "node_modules", "testdata", "target"]);

/**
 * The folders below `source` (three deep at most, not below a match) that
 * `isPlugin` takes for a plugin's: where to point a user who adopted the
 * folder above them.
 */
export async function pluginsBelow(source: string, isPlugin: (dir: string) => Promise<boolean>, rel = "", depth = 0): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(path.join(source, rel), { withFileTypes: true }).catch(() => []);
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!entry.isDirectory() || entry.name.startsWith(".") || SKIP.has(entry.name)) continue;
    const sub = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (await isPlugin(path.join(source, sub))) found.push(sub);
    else if (depth < 2) found.push(...(await pluginsBelow(source, isPlugin, sub, depth + 1)));
  }
  return found;
}

/** A folder's test by the text of one of its files (go.mod, Cargo.toml); a folder without the file fails it. */
export function fileSays(file: string, test: (text: string) => boolean): (dir: string) => Promise<boolean> {
  return async (dir) => test(await readFile(path.join(dir, file), "utf8").catch(() => ""));
}

/** Up to three folders, and how many in all when there are more. */
export function listed(folders: readonly string[]): string {
  return folders.slice(0, 3).join(", ") + (folders.length > 3 ? `, … (${folders.length} in all)` : "");
}

/** The hint that points a user at the plugin folders below the one they adopted; undefined when there are none. */
export function pluginsHint(shown: string, found: readonly string[], kind = "folders"): string | undefined {
  return found.length === 0
    ? undefined
    : `the plugins are in ${kind} of their own: ${listed(found)}; e.g. envoywasm init --from ${shellQuote(path.join(shown, found[0]!))}`;
}
