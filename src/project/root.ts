import { existsSync } from "node:fs";
import path from "node:path";

export const PROJECT_FILE = "envoywasm.yaml";

/** The nearest folder at or above start that holds envoywasm.yaml. */
export function findProjectRoot(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (existsSync(path.join(dir, PROJECT_FILE))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
