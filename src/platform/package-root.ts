import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder of envoywasm's own package.json (templates/, assets/, bin/ are
 * beside it), found by walking up from this file: the same from src/ (tests),
 * from the bundled dist/ and from an installed package; and its version.
 */
function findPackage(): { root: string; version: string } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "envoywasm") return { root: dir, version: pkg.version ?? "0.0.0" };
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("envoywasm's package.json was not found above its code");
    dir = parent;
  }
}

const found = findPackage();

export const PACKAGE_ROOT = found.root;
export const PACKAGE_VERSION = found.version;
