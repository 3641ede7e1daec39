import { createHash } from "node:crypto";
import { copyFile, readFile, rename } from "node:fs/promises";
import { deriveConfig } from "../envoy/derive.js";
import type { EnvoyBootstrap } from "../envoy/bootstrap.js";
import type { PluginLayout } from "../build/plugins.js";
import type { BuildResult } from "../build/result.js";
import type { Project } from "../project/config.js";
import { CONTAINER_PROJECT } from "../platform/docker.js";
import type { EcdsPlan } from "./plan.js";
import { mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";
import type { EcdsResource } from "../envoy/derive.js";
import type { ProjectPaths } from "../project/paths.js";
import { writeFileAtomic, openToContainer } from "../platform/files.js";

/**
 * The files Envoy runs from, under .envoywasm/run: written by `up` and by a
 * reload in the supervisor, which loads nothing else of the build for it.
 */

/** Removes the module copies no filter uses any more. */
export async function pruneModules(paths: Pick<ProjectPaths, "modules">, keep: ReadonlySet<string>): Promise<void> {
  for (const f of await readdir(paths.modules).catch(() => [] as string[])) {
    const full = path.join(paths.modules, f);
    if (!keep.has(full)) await rm(full, { force: true });
  }
}

/** Writes the derived bootstrap and each filter's ECDS file (renamed into place, as Envoy's watch wants). */
export async function writeDerived(
  paths: Pick<ProjectPaths, "run">,
  derived: { text: string; resources: readonly Pick<EcdsResource, "file" | "dir" | "text">[] },
  forContainer: boolean,
): Promise<void> {
  await mkdir(paths.run, { recursive: true });
  const bootstrapFile = path.join(paths.run, "envoy.yaml");
  await writeFileAtomic(bootstrapFile, derived.text);
  if (forContainer) await openToContainer(bootstrapFile);
  for (const r of derived.resources) {
    await mkdir(r.dir, { recursive: true });
    await writeFileAtomic(r.file, r.text);
    if (forContainer) await openToContainer(r.file);
  }
}

/**
 * The config Envoy runs for a project as it is on disk now (see derive.ts),
 * with a hash-named copy of each built module, and which filter serves which
 * plugin. Used by `up` and by every reload.
 */
export async function deriveRun(project: Project, paths: ProjectPaths, bootstrap: EnvoyBootstrap, layout: PluginLayout, built: BuildResult, docker: boolean) {
  const toEnvoy = (host: string) => (docker ? `${CONTAINER_PROJECT}/${path.relative(project.root, host).split(path.sep).join("/")}` : host);
  const copies = new Map<string, string>();
  for (const p of layout.plugins) copies.set(p.wasmAbs, await moduleCopy(paths, p.dir, p.wasmAbs, built.plugins.find((b) => b.dir === p.dir)!.sha256, docker));
  const derived = deriveConfig(bootstrap, {
    nodeId: project.config.name,
    ecdsDir: path.join(paths.run, "ecds"),
    moduleFor: (filter) => (filter.filename === undefined ? undefined : copies.get(path.resolve(project.root, filter.filename))),
    envoyPath: toEnvoy,
    openBinds: docker,
  });
  const ecds: EcdsPlan[] = derived.resources.map((r) => {
    const plugin = layout.plugins.find((p) => p.filters.includes(r.filter));
    const sha = plugin === undefined ? undefined : built.plugins.find((b) => b.dir === plugin.dir)?.sha256;
    return { name: r.name, file: r.file, version: r.version, plugin: plugin?.dir, sha256: sha };
  });
  return { derived, ecds, modules: new Set(copies.values()), toEnvoy };
}

/** A copy of a module named by its hash, the file Envoy loads, so a rebuild never changes what serves. */
export async function moduleCopy(paths: ProjectPaths, pluginDir: string, wasm: string, sha256: string, forContainer: boolean): Promise<string> {
  await mkdir(paths.modules, { recursive: true });
  const slug = path.posix.normalize(pluginDir).replace(/[^A-Za-z0-9._-]+/g, "_");
  const file = path.join(paths.modules, `${slug}-${sha256.slice(0, 12)}.wasm`);
  const current = await readFile(file).catch(() => undefined);
  if (current === undefined || createHash("sha256").update(current).digest("hex") !== sha256) {
    const temp = `${file}.${process.pid}.tmp`;
    await copyFile(wasm, temp);
    await rename(temp, file);
  }
  if (forContainer) await openToContainer(file);
  return file;
}
