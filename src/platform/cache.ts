import os from "node:os";
import path from "node:path";

/** envoywasm's own cache: $ENVOYWASM_HOME, else $XDG_CACHE_HOME/envoywasm, else ~/.cache/envoywasm. */
export function cacheHome(): string {
  const explicit = process.env.ENVOYWASM_HOME;
  if (explicit !== undefined && explicit !== "") return path.resolve(explicit);
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg !== undefined && xdg !== "" ? xdg : path.join(os.homedir(), ".cache"), "envoywasm");
}

export function envoyCacheDir(): string {
  return path.join(cacheHome(), "envoy");
}
