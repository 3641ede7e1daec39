// Running programs for the benchmark: timed runs that must succeed, and
// long-running ones (a hand-started Envoy or backend) in process groups of
// their own, remembered so that every one is stopped, whatever happens.
import { spawn } from "node:child_process";

/** A measurement that could not be made (a command failed): the suite exits 1. */
export class MeasureError extends Error {}

const KEEP = 16 * 1024;

/**
 * Runs a program to its end and times it, from just before the spawn to its
 * exit. Rejects with a MeasureError (naming the command and the tail of its
 * stderr) when it fails, unless `allowFail`.
 */
export function timed(file, args, { cwd, env, allowFail = false, label } = {}) {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let endedAt;
    const started = performance.now();
    const child = spawn(file, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.setEncoding("utf8").on("data", (c) => (stdout = (stdout + c).slice(-KEEP)));
    child.stderr.setEncoding("utf8").on("data", (c) => (stderr = (stderr + c).slice(-KEEP)));
    child.once("exit", () => (endedAt = performance.now()));
    child.once("error", (error) => reject(new MeasureError(`${label ?? file}: ${error.message}`)));
    child.once("close", (code, signal) => {
      const ms = (endedAt ?? performance.now()) - started;
      if ((code !== 0 || signal !== null) && !allowFail) {
        reject(
          new MeasureError(
            `\`${label ?? [file, ...args].join(" ")}\` (in ${cwd ?? process.cwd()}) ${signal === null ? `exited with ${code}` : `was killed by ${signal}`}:\n${tail(stderr || stdout)}`,
          ),
        );
        return;
      }
      resolve({ ms, code, signal, stdout, stderr, endedAt: endedAt ?? performance.now() });
    });
  });
}

/** The first lines (where a stack trace says what) and the last ones (where a tool says why). */
function tail(text) {
  const lines = text.trimEnd().split("\n");
  const shown = lines.length <= 14 ? lines : [...lines.slice(0, 4), "…", ...lines.slice(-8)];
  return shown.map((l) => `  ${l}`).join("\n");
}

const running = new Set();

/**
 * Starts a long-running program in a process group of its own (so a stop
 * reaches whatever it starts). `stdio` as for spawn, e.g. an open file's fd.
 */
export function startGroup(file, args, { cwd, env, stdio = ["ignore", "ignore", "ignore"] } = {}) {
  const child = spawn(file, args, { cwd, env, stdio, detached: true });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.once("error", () => {});
  const handle = { child, exited, pid: child.pid, done: false };
  exited.then(() => {
    handle.done = true;
    running.delete(handle);
  });
  running.add(handle);
  return handle;
}

/** SIGTERM to the group, SIGKILL after graceMs; resolves once the leader exited. */
export async function stopGroup(handle, graceMs = 5000) {
  if (handle.done) return;
  signalGroup(handle.pid, "SIGTERM");
  const timer = setTimeout(() => signalGroup(handle.pid, "SIGKILL"), graceMs);
  await handle.exited;
  clearTimeout(timer);
  // Anything the leader started must not outlive it (the group id is still ours while a member lives).
  signalGroup(handle.pid, "SIGKILL");
}

/** Stops everything startGroup started and is still running (on failure or interrupt). */
export async function stopAllGroups() {
  await Promise.all([...running].map((h) => stopGroup(h, 2000)));
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
