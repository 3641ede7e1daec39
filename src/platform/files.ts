import { chmod, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { shellQuote } from "./exec.js";

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

/**
 * The text of a file the user keeps (envoywasm.yaml, envoy.yaml, an e2e case
 * file). A missing one, a folder in its place or one that cannot be read is a
 * UserError naming `display`; `missingHint` says what to do when it is missing.
 */
export async function readUserFile(file: string, display: string, missingHint?: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`${display} not found`, missingHint === undefined ? undefined : { hint: missingHint });
    if (code === "EISDIR") throw new UserError(`${display} is a folder; it must be a file`, { hint: `move the folder ${display} away` });
    if (code === "EACCES" || code === "EPERM")
      throw new UserError(`${display} cannot be read (permission denied)`, { hint: `chmod u+r ${shellQuote(display)}` });
    throw error;
  }
}
