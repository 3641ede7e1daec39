import { realpathSync } from "node:fs";
import path from "node:path";
import { ChildProcessError, UserError } from "../errors.js";
import { run, tailLines } from "../platform/exec.js";
import { cargoMetadata, RUST_TARGET, type CargoPackage } from "../build/cargo.js";
import { SDK_MODULES } from "./templates.js";
import { fileSays, pluginsBelow, pluginsHint } from "./plugins-below.js";

/**
 * The adopted folder's package as cargo reads it, when it is a proxy-wasm
 * plugin. A virtual workspace, or a library crate with the plugins in crates
 * below it (Higress's wasm-rust), is refused, naming those crates.
 */
export async function cargoPackage(source: string, shown: string): Promise<{ pkg: CargoPackage; parentWorkspace?: string }> {
  const { meta, pkg } = await cargoMetadata(source);
  const real = realpathSync(source);
  const below = async () => {
    const members = meta.packages.filter(isPlugin).map((p) => path.relative(real, path.dirname(p.manifest_path)));
    const found = [...new Set([...members, ...(await pluginCratesBelow(source))])].filter((rel) => rel !== "" && !rel.startsWith(".."));
    return pluginsHint(shown, found, "crates");
  };
  if (pkg === undefined) {
    throw new UserError(`cargo found no package in ${path.join(source, "Cargo.toml")} (a virtual workspace)`, {
      hint: (await below()) ?? "--from takes the folder of one plugin's Cargo package",
    });
  }
  if (!pkg.dependencies.some((d) => d.name === SDK_MODULES.rust && d.kind === null)) {
    throw new UserError(`${path.join(source, "Cargo.toml")} does not depend on the ${SDK_MODULES.rust} crate: --from takes a proxy-wasm plugin`, {
      hint: (await below()) ?? "point --from at the folder of a plugin built on the proxy-wasm crate",
    });
  }
  const hint = isPlugin(pkg) ? undefined : await below();
  // A crate that builds no cdylib with none below is a plugin missing its crate-type, which `build` says how to add.
  if (hint !== undefined) throw new UserError(`${path.join(source, "Cargo.toml")} builds a library (no cdylib), not a plugin module`, { hint });
  const root = path.resolve(meta.workspace_root);
  return { pkg, parentWorkspace: root === real ? undefined : root };
}

function isPlugin(pkg: CargoPackage): boolean {
  return pkg.targets.some((t) => t.crate_types.includes("cdylib")) && pkg.dependencies.some((d) => d.name === SDK_MODULES.rust);
}

/** The folders below `source` whose Cargo.toml builds a cdylib on the proxy-wasm crate (a `proxy-wasm =` line or a `[dependencies.proxy-wasm]` table). */
export function pluginCratesBelow(source: string): Promise<string[]> {
  return pluginsBelow(
    source,
    fileSays("Cargo.toml", (toml) => /\bcdylib\b/.test(toml) && /^\s*(?:proxy-wasm\s*=|\[dependencies\.proxy-wasm\])/m.test(toml)),
  );
}

/** In the copy: cargo resolves the crates (a Cargo.lock written, or updated for a dependency rewritten) and downloads them. */
export async function fetchCrates(pluginDir: string, shown: string, hadLock: boolean, onPhase?: (t: string) => void): Promise<string> {
  onPhase?.("cargo fetch");
  // For the target envoywasm builds, whatever the folder's .cargo/config.toml names (an old wasm32-wasi, say).
  const fetch = await run("cargo", ["fetch", "--target", RUST_TARGET], { cwd: pluginDir, timeoutMs: 300_000 });
  const git = gitDependencyFailure(fetch.all);
  if (fetch.exitCode !== 0 && git !== undefined) {
    throw new UserError(`${shown}/ needs ${git.crate} from git (${git.url}), which cargo could not fetch from here`, {
      hint: "a git dependency needs that repository reachable: give cargo the network, vendor the crates where it is (`cargo vendor`), or use a crates.io version",
    });
  }
  if (fetch.exitCode !== 0) {
    throw new ChildProcessError(`cargo fetch failed in ${shown}/ of the new project`, {
      command: fetch.command,
      output: tailLines(fetch.all, 20),
      hint: `its output:\n${tailLines(fetch.all, 10)}`,
    });
  }
  return `${shown}/Cargo.lock: ${hadLock ? "brought up to date" : "written"} by cargo fetch, which resolved and downloaded the crates`;
}

/** The crate and repository of a git dependency cargo could not fetch, from its error's chain of causes. */
export function gitDependencyFailure(output: string): { crate: string; url: string } | undefined {
  const m = /failed to load source for dependency `([^`]+)`\s*\n\s*Caused by:\s*\n\s*unable to update ((?:https?|ssh|git):\/\/[^\s?#]+)/i.exec(output);
  return m === null ? undefined : { crate: m[1]!, url: m[2]! };
}
