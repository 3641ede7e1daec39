import path from "node:path";
import { ChildProcessError, UserError } from "../errors.js";
import { run, tailLines } from "../platform/exec.js";
import type { Toolchain } from "../project/config.js";
import { pinnedSdk } from "./templates.js";

export interface GoModJson {
  Module: { Path: string };
  Require?: { Path: string; Version: string }[];
  Replace?: { Old: { Path: string; Version?: string }; New: { Path: string; Version?: string } }[];
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
  onPhase?.("go mod tidy");
  const tidy = await run("go", ["mod", "tidy"], { cwd: pluginDir, env: { GOFLAGS: "-mod=mod" }, timeoutMs: 300_000 });
  if (tidy.exitCode !== 0) {
    throw new ChildProcessError(`go mod tidy failed in ${shown}/ of the new project`, {
      command: tidy.command,
      output: tailLines(tidy.all, 20),
      hint: `its output:\n${tailLines(tidy.all, 10)}`,
    });
  }
  changes.push(`${shown}/go.mod, go.sum: tidied (go mod tidy)`);
  return changes;
}

async function goModEdit(dir: string, args: string[]): Promise<void> {
  const r = await run("go", ["mod", "edit", ...args], { cwd: dir });
  if (r.exitCode !== 0) throw new UserError(`go mod edit ${args.join(" ")} failed: ${r.stderr.trim()}`);
}
