import { chmod, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

let tempSeq = 0;

/**
 * Write to a temporary sibling, then rename: readers never see half a file.
 * The sibling's name is this process's (pid and a counter) and made with
 * O_EXCL, so two writers never share one.
 */
export async function writeFileAtomic(target: string, contents: string | Uint8Array, mode?: number): Promise<void> {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}-${++tempSeq}.tmp`);
  try {
    await writeFile(temp, contents, { flag: "wx", mode });
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Makes a file readable (and, for programs, runnable) by a container's non-root user. */
export async function openToContainer(file: string, executable = false): Promise<void> {
  const s = await stat(file);
  const want = s.mode | 0o444 | (executable ? 0o111 : 0);
  if ((s.mode & 0o777) !== (want & 0o777)) await chmod(file, want & 0o777);
}
