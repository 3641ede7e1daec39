import { link, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import { UserError } from "../../errors.js";
import { identify, ProcessIdentitySchema, stillRunning } from "../../platform/identity.js";
import { writeFileAtomic } from "../../platform/files.js";
import { readRecord } from "../../platform/records.js";

/**
 * One run per project: `.envoywasm/run.lock`, created with exclusive create
 * and holding its owner's identity, from the start of `up` to the end of its
 * run. A second `up` is refused before it touches logs, state or ports. A lock
 * whose owner is gone (a kill -9, a crash) is stale and taken over.
 */

export const LockOwnerSchema = v.object({
  owner: ProcessIdentitySchema,
  runId: v.string(),
  since: v.string(),
});
export type LockOwner = v.InferOutput<typeof LockOwnerSchema>;

export class RunningError extends UserError {}

/** The lock's owner; undefined when there is no lock, or it holds no owner (damaged by a crash: stale). */
export async function readLock(file: string): Promise<LockOwner | undefined> {
  const read = await readRecord(file, LockOwnerSchema);
  return read?.ok === true ? read.value : undefined;
}

/** Takes the project's lock for this process, or explains who holds it. Returns a release function. */
export async function takeLock(file: string, runId: string): Promise<{ release: () => Promise<void>; staleOwner?: LockOwner }> {
  await mkdir(path.dirname(file), { recursive: true });
  const me = identify(process.pid) ?? { pid: process.pid, startTime: "", command: "" };
  const record: LockOwner = { owner: me, runId, since: new Date().toISOString() };
  let staleOwner: LockOwner | undefined;
  // The lock appears with its content whole (written aside, then linked in): created empty and then
  // written, a second `up` started at the same instant read it empty, took it for a crash's leftover and
  // took it over, and both runs failed.
  const text = `${JSON.stringify(record)}\n`;
  const aside = `${file}.${process.pid}-${process.hrtime.bigint()}.tmp`;
  await writeFile(aside, text, { flag: "wx" });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await create(aside, file, text)) {
        return { release: () => releaseLock(file, runId), staleOwner };
      }
      const holder = await readLock(file);
      if (holder !== undefined && stillRunning(holder.owner)) {
        throw new RunningError(`this project is already running (pid ${holder.owner.pid}, since ${holder.since})`, {
          hint: "see it with `envoywasm status` and `envoywasm logs -f`; stop it with `envoywasm down`",
        });
      }
      // The owner is gone (or the file is unreadable, e.g. damaged by a crash): stale.
      staleOwner = holder ?? staleOwner;
      await rm(file, { force: true });
    }
  } finally {
    await rm(aside, { force: true });
  }
  throw new UserError(`could not take ${file}: another run keeps taking it`, { hint: "run `envoywasm status`, then try again" });
}

/** Creates the lock from the file written aside; false when there is one. Where hard links are not allowed, creates it and writes it. */
async function create(aside: string, file: string, text: string): Promise<boolean> {
  try {
    await link(aside, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EXDEV") throw error;
  }
  try {
    await writeFile(file, text, { flag: "wx" });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/** Hands the lock to another process of the same run (the background supervisor of `up -d`). */
export async function handOverLock(file: string, runId: string): Promise<void> {
  const holder = await readLock(file);
  if (holder === undefined || holder.runId !== runId) throw new UserError("the project's lock is not this run's any more");
  const me = identify(process.pid) ?? { pid: process.pid, startTime: "", command: "" };
  await writeFileAtomic(file, `${JSON.stringify({ ...holder, owner: me })}\n`);
}

/** Removes the lock if it is still this run's. */
export async function releaseLock(file: string, runId: string): Promise<void> {
  const holder = await readLock(file);
  if (holder === undefined || holder.runId === runId) await rm(file, { force: true });
}

/** Removes a lock whose owner is gone (a kill -9, a crash); returns whether it did. */
export async function removeStaleLock(file: string): Promise<boolean> {
  const holder = await readLock(file);
  if (holder === undefined || stillRunning(holder.owner)) return false;
  await rm(file, { force: true });
  return true;
}
