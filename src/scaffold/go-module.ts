import { existsSync, statSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { ChildProcessError, UserError } from "../errors.js";
import { run, tailLines } from "../platform/exec.js";
import { goTooOld } from "../build/failure-hints.js";
import type { Toolchain } from "../project/config.js";
import { pinnedSdk, SDK_MODULES } from "./templates.js";
import { fileSays, listed, pluginsBelow, pluginsHint } from "./plugins-below.js";

export interface GoModJson {
  Module: { Path: string };
  Require?: { Path: string; Version: string }[];
  Replace?: { Old: { Path: string; Version?: string }; New: { Path: string; Version?: string } }[];
}

/** A proxy-wasm Go SDK, the maintained one, the archived one or a fork (e.g. Higress's): the module path names it. */
const GO_SDK = /(?:^|\/)proxy-wasm-go-sdk$/;

/**
 * Refuses a Go folder that is not a proxy-wasm plugin (a repository's root,
 * the SDK itself), naming the folders below it that hold one, before
 * anything is written: its build would only fail later, blaming the code.
 */
export async function assertGoPlugin(source: string, shown: string, gomod: GoModJson, hasMainPackage: boolean): Promise<void> {
  const isSdk = GO_SDK.test(gomod.Module.Path);
  const usesSdk = gomod.Require?.some((r) => GO_SDK.test(r.Path)) === true;
  if (!isSdk && usesSdk && hasMainPackage) return;
  const why = isSdk
    ? `is the proxy-wasm Go SDK itself (module ${gomod.Module.Path})`
    : usesSdk
      ? "has no main package (package main) to build a module from"
      : `is not a proxy-wasm plugin: its go.mod (module ${gomod.Module.Path}) does not require a proxy-wasm Go SDK`;
  const plugins = await pluginModulesBelow(source);
  throw new UserError(`${shown} ${why}`, {
    hint:
      pluginsHint(shown, plugins) ??
      "point --from at the folder of a plugin: its go.mod requires github.com/proxy-wasm/proxy-wasm-go-sdk and it has a package main",
  });
}

/**
 * A Go plugin builds from a main package at its folder's root, unless its
 * Envoy config loads a module from each of several (`pluginFolders`, the Go
 * SDK's shared_queue); refused otherwise, naming where the main packages are.
 */
export function assertRootMainPackage(shown: string, mainPackages: readonly string[], pluginFolders: readonly string[]): void {
  if (mainPackages.includes("") || pluginFolders.length > 0) return;
  throw new UserError(`${shown} has no main package at its root to build a module from; its main packages are in ${listed(mainPackages)}`, {
    hint: "adopt a folder with its own go.mod and a package main at its root (`go mod init` there), or give an Envoy config that loads a module built from each folder (--envoy-config)",
  });
}

/**
 * The module path loose Go files (no go.mod) assume: `main` when they import
 * `main/internal/x` and internal/x is one of their folders; else example.com/<folder>.
 */
export function looseModulePath(source: string, texts: readonly string[]): string {
  const blocks = texts.flatMap((t) => [...t.matchAll(/^import\s*\(([\s\S]*?)^\)|^import\s+(?:\w+\s+)?("[^"]+")/gm)].map((m) => m[1] ?? m[2]!));
  for (const [, imported] of blocks.join("\n").matchAll(/"([^"\s]+)"/g)) {
    const parts = imported!.split("/");
    for (let i = 1; i < parts.length; i++) {
      if (statSync(path.join(source, ...parts.slice(i)), { throwIfNoEntry: false })?.isDirectory() === true) return parts.slice(0, i).join("/");
    }
  }
  return `example.com/${path.basename(source).replace(/[^\w.-]/g, "-")}`;
}

/** The folders below `source` with a go.mod of their own that requires a proxy-wasm Go SDK (not the SDK's own). */
export function pluginModulesBelow(source: string): Promise<string[]> {
  return pluginsBelow(
    source,
    fileSays("go.mod", (gomod) => {
      const module = /^module\s+(\S+)/m.exec(gomod)?.[1];
      const required = [...gomod.matchAll(/^\s*(?:require\s+)?(\S+)\s+v\S+/gm)].map((m) => m[1]!);
      return module !== undefined && !GO_SDK.test(module) && required.some((r) => GO_SDK.test(r));
    }),
  );
}

/** Whether Go source uses the maintained proxy-wasm Go SDK (the one `go get` can add to loose files). */
export function importsGoSdk(text: string): boolean {
  return text.includes(SDK_MODULES.go);
}

/** Whether Go source imports the proxywasm package of any proxy-wasm Go SDK (the maintained one, the archived one, a fork). */
export function importsAnyGoSdk(text: string): boolean {
  return /"[^"\s]*proxy-wasm-go-sdk\/proxywasm"/.test(text);
}

/** The folders below `source` of Go files on the maintained Go SDK with no go.mod of their own (service-extensions' samples). */
export function loosePluginsBelow(source: string): Promise<string[]> {
  return pluginsBelow(source, async (dir) => {
    if (existsSync(path.join(dir, "go.mod"))) return false;
    const goFiles = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".go"));
    for (const f of goFiles) if (importsGoSdk(await readFile(path.join(dir, f), "utf8"))) return true;
    return false;
  });
}

export async function goModJson(dir: string): Promise<GoModJson> {
  const result = await run("go", ["mod", "edit", "-json"], { cwd: dir, timeoutMs: 30_000 });
  if (result.spawnError !== undefined) throw new UserError("the go toolchain was not found on PATH", { hint: "install Go 1.24 or newer (https://go.dev/dl/)" });
  if (result.exitCode !== 0) {
    throw new UserError(`cannot read ${path.join(dir, "go.mod")}: ${result.stderr.trim().split("\n")[0] ?? ""}`, {
      hint: "fix the go.mod of the folder to adopt",
    });
  }
  return JSON.parse(result.stdout) as GoModJson;
}

/**
 * In the copy: drop `replace` directives that point outside the adopted
 * folder (the SDK examples' `=> ../..`), require the SDK version the
 * templates pin where the folder relied on such a replace, then `go mod tidy`.
 */
export async function repairGoMod(
  pluginDir: string,
  shown: string,
  source: string,
  gomod: GoModJson,
  toolchain: Toolchain,
  onPhase?: (t: string) => void,
): Promise<string[]> {
  const changes: string[] = [];
  const sdk = await pinnedSdk(toolchain);
  for (const r of gomod.Replace ?? []) {
    const target = r.New.Path;
    if (r.New.Version !== undefined || !(target.startsWith(".") || target.startsWith("/"))) continue;
    const resolved = path.resolve(source, target);
    if (resolved === source || resolved.startsWith(source + path.sep)) continue;
    const old = `${r.Old.Path}${r.Old.Version === undefined ? "" : `@${r.Old.Version}`}`;
    if (r.Old.Path === sdk.module) {
      await goModEdit(pluginDir, [`-dropreplace=${old}`, `-require=${sdk.module}@${sdk.version}`]);
      changes.push(`${shown}/go.mod: dropped \`replace ${r.Old.Path} => ${target}\` (it points outside the adopted folder)`);
      changes.push(`${shown}/go.mod: requires ${sdk.module}@${sdk.version}, the version envoywasm's templates pin`);
    } else {
      // Another module of the original's repository: the copy keeps using it, where it is.
      await goModEdit(pluginDir, [`-replace=${old}=${resolved}`]);
      changes.push(`${shown}/go.mod: \`replace ${r.Old.Path} => ${target}\` now names ${resolved} (the copy still builds with it; it must stay there)`);
    }
  }
  const sdkRequired = gomod.Require?.find((q) => q.Path === sdk.module);
  if (sdkRequired !== undefined && sdkRequired.Version.startsWith("v0.0.0-00010101000000") && !changes.some((c) => c.includes(sdk.version))) {
    await goModEdit(pluginDir, [`-require=${sdk.module}@${sdk.version}`]);
    changes.push(`${shown}/go.mod: requires ${sdk.module}@${sdk.version}, the version envoywasm's templates pin`);
  }
  const modFiles = async () => (await Promise.all(["go.mod", "go.sum"].map((f) => readFile(path.join(pluginDir, f), "utf8").catch(() => "")))).join("\0");
  const untidy = await modFiles();
  onPhase?.("go mod tidy");
  const tidy = await run("go", ["mod", "tidy"], { cwd: pluginDir, env: { GOFLAGS: "-mod=mod" }, timeoutMs: 300_000 });
  const tooOld = goTooOld(tidy.all, `${shown}/go.mod`);
  if (tidy.exitCode !== 0 && tooOld !== undefined) throw new UserError(tooOld.message, { hint: tooOld.hint });
  if (tidy.exitCode !== 0) {
    throw new ChildProcessError(`go mod tidy failed in ${shown}/ of the new project`, {
      command: tidy.command,
      output: tailLines(tidy.all, 20),
      hint: `its output:\n${tailLines(tidy.all, 10)}`,
    });
  }
  if ((await modFiles()) !== untidy) changes.push(`${shown}/go.mod, go.sum: tidied (go mod tidy)`);
  return changes;
}

async function goModEdit(dir: string, args: string[]): Promise<void> {
  const r = await run("go", ["mod", "edit", ...args], { cwd: dir });
  if (r.exitCode !== 0) throw new UserError(`go mod edit ${args.join(" ")} failed: ${r.stderr.trim()}`);
}
