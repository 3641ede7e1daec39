import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder of envoywasm's own package.json (templates/, assets/, bin/ are
 * beside it), found by walking up from this file: the same from src/ (tests),
 * from the bundled dist/ and from an installed package.
 */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "envoywasm") return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("envoywasm's package.json was not found above its code");
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot();

export const PACKAGE_VERSION = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
