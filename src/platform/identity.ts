import { readFileSync } from "node:fs";
import * as v from "valibot";

/**
 * A process's identity: a pid alone is not one (pids are reused), so envoywasm
 * records the pid with the process's start time (field 22 of
 * /proc/<pid>/stat, in clock ticks since boot) and its command line, and
 * signals a recorded process only when all three still match.
 */
export const ProcessIdentitySchema = v.object({
  pid: v.pipe(v.number(), v.integer("a whole number above 0"), v.minValue(1, "a whole number above 0")),
  /** Field 22 of /proc/<pid>/stat; "" where /proc is not there. */
  startTime: v.string(),
  /** The command line, words joined by spaces. */
  command: v.string(),
});
export type ProcessIdentity = v.InferOutput<typeof ProcessIdentitySchema>;

export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (rest[0] === "Z" || rest[0] === "X") return undefined; // a zombie is already dead
    return rest[19];
  } catch {
    return undefined;
  }
}

export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return undefined;
  }
}

/** The identity of a live process, or undefined when there is none. */
export function identify(pid: number): ProcessIdentity | undefined {
  const startTime = startTimeOf(pid);
  if (startTime === undefined) {
    if (process.platform === "linux") return undefined;
    return pidAlive(pid) ? { pid, startTime: "", command: "" } : undefined;
  }
  return { pid, startTime, command: commandLine(pid) ?? "" };
}

/**
 * Whether the process recorded as `id` is still that process: the same start
 * time (a reused pid has another), and the same command line when both are
 * known (a process may show none for an instant around its exec).
 */
export function stillRunning(id: ProcessIdentity): boolean {
  const now = identify(id.pid);
  if (now === undefined) return false;
  if (id.startTime !== "" && now.startTime !== "" && now.startTime !== id.startTime) return false;
  if (id.startTime === "" || now.startTime === "") return now.command === id.command || id.command === "";
  return id.command === "" || now.command === "" || now.command === id.command;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Signals the process recorded as `id` (and its process group, which it
 * leads) only if it is still that process. Returns whether it signalled.
 */
export function signalIfOurs(id: ProcessIdentity, signal: NodeJS.Signals, group = true): boolean {
  if (!stillRunning(id)) return false;
  try {
    process.kill(group ? -id.pid : id.pid, signal);
    return true;
  } catch {
    try {
      process.kill(id.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}
