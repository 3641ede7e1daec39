import { lstat, mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import type { PlannedFile } from "./templates.js";
import { writeFileAtomic } from "../platform/files.js";

/** Entries that do not make a folder "not empty" for init. */
const HARMLESS = new Set([".git", ".DS_Store", ".idea", ".vscode", "Thumbs.db"]);

export interface WriteReport {
  created: string[];
  /** Already there with exactly the planned contents. */
  unchanged: string[];
  /** Already there with other contents: left as they are, never overwritten. */
  kept: string[];
}

/**
 * Write a rendered plan into `dir`. A folder with anything in it is refused
 * unless `force`; with `force`, only planned paths that do not exist yet are
 * written: a file that is already there is never overwritten (it is listed
 * as kept when it differs from the plan), so nothing is lost.
 */
export async function writePlan(dir: string, files: readonly PlannedFile[], force: boolean): Promise<WriteReport> {
  const existing = await listExisting(dir);
  if (existing.length > 0 && !force) {
    const shown = existing.slice(0, 4).join(", ") + (existing.length > 4 ? `, … (${existing.length} entries)` : "");
    throw new UserError(`${dir} is not empty (it has ${shown})`, {
      hint: "pick an empty or new folder, or pass --force to add the template's missing files there (existing files are kept as they are)",
    });
  }
  const report: WriteReport = { created: [], unchanged: [], kept: [] };
  // Check every target before writing any, so a conflict leaves nothing half-done.
  const kinds = new Map<string, "new" | "file">();
  for (const file of files) {
    const target = path.join(dir, file.path);
    await requireFolders(dir, path.dirname(file.path));
    const stat = await lstat(target).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (stat === undefined) kinds.set(file.path, "new");
    else if (stat.isFile()) kinds.set(file.path, "file");
    else throw new UserError(`${target} exists and is not a regular file`, { hint: "move it out of the way and run init again" });
  }
  for (const file of files) {
    const target = path.join(dir, file.path);
    if (kinds.get(file.path) === "file") {
      const current = await readFile(target);
      (current.equals(Buffer.from(file.contents)) ? report.unchanged : report.kept).push(file.path);
      continue;
    }
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, file.contents, file.mode);
    report.created.push(file.path);
  }
  return report;
}

/** Each existing folder on the way to a planned file must be a folder. */
async function requireFolders(dir: string, relDir: string): Promise<void> {
  let current = dir;
  for (const part of relDir.split("/").filter((p) => p !== "" && p !== ".")) {
    current = path.join(current, part);
    const stat = await lstat(current).catch(() => undefined);
    if (stat === undefined) return;
    if (!stat.isDirectory()) {
      throw new UserError(`${current} exists and is not a folder, but the template puts files in it`, {
        hint: "move it out of the way and run init again",
      });
    }
  }
}

async function listExisting(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir);
    return entries.filter((e) => !HARMLESS.has(e)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") {
      throw new UserError(`${dir} exists and is not a folder`, { hint: "pick another path for the project" });
    }
    throw error;
  }
}
