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
export async function writeDerived(paths: Pick<ProjectPaths, "run">, derived: { text: string; resources: readonly Pick<EcdsResource, "file" | "dir" | "text">[] }, forContainer: boolean): Promise<void> {
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
