import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

const SKIP = new Set(["vendor", "node_modules", "testdata", "target"]);

/**
 * The folders below `source` (three deep at most, not below a match) whose
 * `manifest` (go.mod, Cargo.toml) says it is a plugin: where to point a user
 * who adopted the folder above them.
 */
export async function pluginsBelow(source: string, manifest: string, isPlugin: (text: string) => boolean, rel = "", depth = 0): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(path.join(source, rel), { withFileTypes: true }).catch(() => []);
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!entry.isDirectory() || entry.name.startsWith(".") || SKIP.has(entry.name)) continue;
    const sub = rel === "" ? entry.name : `${rel}/${entry.name}`;
    const text = await readFile(path.join(source, sub, manifest), "utf8").catch(() => "");
    if (isPlugin(text)) found.push(sub);
    else if (depth < 2) found.push(...(await pluginsBelow(source, manifest, isPlugin, sub, depth + 1)));
  }
  return found;
}
