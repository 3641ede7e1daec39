import { existsSync } from "node:fs";
import path from "node:path";
import { UserError } from "../errors.js";
import { toolchainFor } from "./toolchains.js";
import type { EnvoyBootstrap, WasmFilterInfo } from "../envoy/bootstrap.js";
import type { Project } from "../project/config.js";

/**
 * Which plugin folder builds which module. envoywasm.yaml lists the plugins'
 * source folders; envoy.yaml says where each module is loaded from
 * (vm_config.code.local.filename). They meet here:
 *  - one plugin folder and one module file: that is its module;
 *  - otherwise folder `X` builds the module whose file is named `X.wasm`
 *    (or that lies inside `X/`).
 * Nothing about a plugin is written in both files.
 */

export interface PluginTarget {
  /** The source folder as written in envoywasm.yaml. */
  dir: string;
  absDir: string;
  /**
   * The folder of its manifest (go.mod, Cargo.toml): its own, or for Go the
   * nearest above it in the project, when the plugin is a main package of a
   * module that holds several (the Go SDK's shared_queue). Its sources are
   * all of that folder's.
   */
  moduleDir: string;
  /** The module path as envoy.yaml writes it. */
  wasm: string;
  /** The module path relative to the project root, forward slashes. */
  wasmRelative: string;
  wasmAbs: string;
  /** The envoy.yaml filters that load this module (one plugin may run in several filters). */
  filters: WasmFilterInfo[];
  /** envoywasm.yaml's build.flags: more arguments for its compiler. */
  flags: readonly string[];
}

export interface PluginLayout {
  plugins: PluginTarget[];
  /** Modules envoy.yaml loads that no plugin folder builds (prebuilt ones, or a typo). */
  unbuilt: { wasm: string; filters: WasmFilterInfo[] }[];
}

export function resolvePlugins(project: Project, bootstrap: EnvoyBootstrap): PluginLayout {
  const root = project.root;
  const files = new Map<string, { wasm: string; filters: WasmFilterInfo[] }>();
  for (const filter of bootstrap.wasmFilters) {
    if (filter.filename === undefined) continue;
    const abs = path.resolve(root, filter.filename);
    const entry = files.get(abs) ?? { wasm: filter.filename, filters: [] };
    entry.filters.push(filter);
    files.set(abs, entry);
  }
  const dirs = project.config.plugins;
  const claimed = new Map<string, string>();
  const plugins: PluginTarget[] = dirs.map((dir) => {
    const absDir = path.resolve(root, dir);
    let match: string | undefined;
    if (dirs.length === 1 && files.size === 1) match = [...files.keys()][0];
    else {
      const stem = path.basename(absDir);
      const candidates = [...files.keys()].filter((abs) => path.basename(abs, ".wasm") === stem || abs.startsWith(absDir + path.sep));
      if (candidates.length > 1) {
        throw new UserError(
          `${bootstrap.display} loads ${candidates.length} modules that could be plugin folder ${dir}'s: ${candidates.map((c) => files.get(c)!.wasm).join(", ")}`,
          {
            hint: `with several plugins, name each module after its folder (${stem}.wasm) and no other after it`,
          },
        );
      }
      match = candidates[0];
    }
    if (match === undefined) {
      const none = files.size === 0;
      throw new UserError(
        none
          ? `${bootstrap.display} loads no Wasm module from a local file, so envoywasm does not know where to build plugin folder ${dir}`
          : `${bootstrap.display} loads no module for plugin folder ${dir} (it loads ${[...files.values()].map((f) => f.wasm).join(", ")})`,
        {
          hint: none
            ? `add a Wasm filter whose vm_config.code.local.filename is the module to build, e.g. build/${path.basename(absDir)}.wasm`
            : `with several plugins, each folder X builds the module envoy.yaml loads as …/X.wasm: name ${dir}'s module build/${path.basename(absDir)}.wasm`,
        },
      );
    }
    const other = claimed.get(match);
    if (other !== undefined) {
      throw new UserError(`plugin folders ${other} and ${dir} would both build ${files.get(match)!.wasm}`, {
        hint: "give each plugin its own module in envoy.yaml, named after its folder",
      });
    }
    claimed.set(match, dir);
    const rel = path.relative(root, match);
    if (rel.startsWith("..") || path.isAbsolute(rel)) {
      throw new UserError(`${bootstrap.display} loads ${files.get(match)!.wasm}, which is outside the project; envoywasm builds modules inside it`, {
        hint: "use a path relative to the project root, e.g. build/plugin.wasm",
      });
    }
    const entry = files.get(match)!;
    return {
      dir,
      absDir,
      moduleDir: moduleDirOf(absDir, root, project.config.toolchain),
      wasm: entry.wasm,
      wasmRelative: rel.split(path.sep).join("/"),
      wasmAbs: match,
      filters: entry.filters,
      flags: project.config.build?.flags ?? [],
    };
  });
  const unbuilt = [...files.entries()].filter(([abs]) => !claimed.has(abs)).map(([, v]) => v);
  return { plugins, unbuilt };
}

/** The folder of the plugin's manifest (see PluginTarget.moduleDir); the plugin's own folder when there is none. */
function moduleDirOf(absDir: string, root: string, toolchainName: Project["config"]["toolchain"]): string {
  const toolchain = toolchainFor(toolchainName);
  if (existsSync(path.join(absDir, toolchain.manifest)) || toolchain.packageOfModule !== true) return absDir;
  // The folders above it, up to the project root.
  for (let dir = absDir; dir.startsWith(root + path.sep);) {
    dir = path.dirname(dir);
    if (existsSync(path.join(dir, toolchain.manifest))) return dir;
  }
  return absDir;
}
