import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { projectPaths } from "../project/paths.js";
import type { Project } from "../project/config.js";
import { SHA256_HEX } from "./digest.js";
import { writeFileAtomic } from "../platform/files.js";

/**
 * .envoywasm/ship.json: what `push` last pushed for each plugin folder, so
 * `export` can name the image and its manifest digest without the user
 * copying them. Keyed by plugin folder, as envoywasm.yaml lists it.
 */

export interface ShipRecord {
  image: string;
  /** sha256:… of the manifest the registry stored (what Istio and Envoy Gateway compare). */
  digest: string;
  moduleSha256: string;
  pushedAt: string;
}

export type ShipFile = Record<string, ShipRecord>;

export function shipFile(project: Project): string {
  return path.join(projectPaths(project).state, "ship.json");
}

export async function readShipFile(project: Project): Promise<ShipFile> {
  const file = shipFile(project);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new UserError(`${path.relative(project.root, file)} is not valid JSON`, { hint: "delete it and run `envoywasm push` again" });
  }
  const out: ShipFile = {};
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return out;
  for (const [dir, value] of Object.entries(parsed as Record<string, unknown>)) {
    const r = value as Partial<ShipRecord> | null;
    if (r === null || typeof r !== "object") continue;
    if (typeof r.image !== "string" || typeof r.digest !== "string" || !SHA256_HEX.test(r.digest.replace(/^sha256:/, ""))) continue;
    out[dir] = { image: r.image, digest: r.digest, moduleSha256: typeof r.moduleSha256 === "string" ? r.moduleSha256 : "", pushedAt: typeof r.pushedAt === "string" ? r.pushedAt : "" };
  }
  return out;
}

export async function recordPush(project: Project, pluginDir: string, record: ShipRecord): Promise<string> {
  const file = shipFile(project);
  const all = await readShipFile(project);
  all[pluginDir] = record;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(all, null, 2)}\n`);
  return file;
}
