import { mkdir } from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import { UserError } from "../errors.js";
import { projectPaths } from "../project/paths.js";
import type { Project } from "../project/config.js";
import { SHA256_HEX } from "./digest.js";
import { writeFileAtomic } from "../platform/files.js";
import { badRecord, readRecord } from "../platform/records.js";

/**
 * .envoywasm/ship.json: what `push` last pushed for each plugin folder, so
 * `export` can name the image and its manifest digest without the user
 * copying them. Keyed by plugin folder, as envoywasm.yaml lists it.
 */

export const ShipRecordSchema = v.object({
  image: v.string(),
  /** sha256:… of the manifest the registry stored (what Istio and Envoy Gateway compare). */
  digest: v.pipe(
    v.string(),
    v.check((d) => SHA256_HEX.test(d.replace(/^sha256:/, "")), "a sha256:… digest"),
  ),
  moduleSha256: v.optional(v.string(), ""),
  pushedAt: v.optional(v.string(), ""),
});
export type ShipRecord = v.InferOutput<typeof ShipRecordSchema>;

export const ShipFileSchema = v.record(v.string(), ShipRecordSchema);
export type ShipFile = v.InferOutput<typeof ShipFileSchema>;

export function shipFile(project: Project): string {
  return path.join(projectPaths(project).state, "ship.json");
}

export async function readShipFile(project: Project): Promise<ShipFile> {
  const file = shipFile(project);
  const read = await readRecord(file, ShipFileSchema);
  if (read === undefined) return {};
  if (!read.ok) throw new UserError(badRecord(path.relative(project.root, file), read.problem), { hint: "delete it and run `envoywasm push` again" });
  return read.value;
}

export async function recordPush(project: Project, pluginDir: string, record: ShipRecord): Promise<string> {
  const file = shipFile(project);
  const all = await readShipFile(project);
  all[pluginDir] = record;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(all, null, 2)}\n`);
  return file;
}
