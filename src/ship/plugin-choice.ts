import path from "node:path";
import { UsageError } from "../errors.js";

/** The one plugin a ship command works on: the only one, or the one --plugin names. */
export function choosePlugin<T extends { dir: string }>(plugins: readonly T[], wanted: string | undefined, command: string): T {
  const key = (dir: string) => path.posix.normalize(dir.replaceAll("\\", "/")).replace(/\/+$/, "");
  const list = plugins.map((p) => p.dir).join(", ");
  if (wanted !== undefined) {
    const found = plugins.find((p) => key(p.dir) === key(wanted));
    if (found === undefined) throw new UsageError(`--plugin ${wanted}: the project has no such plugin folder (it has ${list})`);
    return found;
  }
  if (plugins.length === 1) return plugins[0]!;
  throw new UsageError(`the project has ${plugins.length} plugins (${list}); say which one to ${command} with --plugin <dir>`, {
    hint: `e.g. envoywasm ${command} --plugin ${plugins[0]?.dir ?? "plugin"}`,
  });
}
