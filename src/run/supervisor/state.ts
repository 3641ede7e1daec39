import { readFile, rm } from "node:fs/promises";
import { isIdentity, signalIfOurs, stillRunning, type ProcessIdentity } from "../../platform/identity.js";
import { removeStaleLock } from "./lock.js";
import type { ExitInfo, ServiceRecord } from "../runtime/service.js";
import { writeFileAtomic } from "../../platform/files.js";

/**
 * .envoywasm/state.json: who runs this project now. Written by the
 * supervisor (the foreground `up`, or the background one of `up -d`) before
 * it starts anything, updated as services start, removed when it stops them.
 * A file whose supervisor is gone is a leftover of a crash or a kill -9: what
 * it names is stopped, but only what still proves to be the same process (by
 * identity) or container (by its labels).
 *
 * .envoywasm/last-run.json: how the last run ended, for `status`.
 */
export interface RunState {
  version: 2;
  runId: string;
  supervisor: ProcessIdentity;
  mode: "foreground" | "detached";
  runtime: "native" | "docker";
  startedAt: string;
  readyAt?: string;
  envoy: { version: string; path?: string; image?: string };
  admin: number;
  listeners: { name: string; port: number }[];
  services: ServiceRecord[];
  /** The modules serving now, by plugin folder. */
  modules: { plugin: string; wasm: string; sha256: string }[];
  watch: boolean;
  /** The supervisor's control socket. */
  controlSocket: string;
}

export interface LastRun {
  runId: string;
  startedAt: string;
  endedAt: string;
  mode: RunState["mode"];
  runtime: RunState["runtime"];
  /** stopped: asked to (Ctrl-C, down); crashed: a service ended on its own; failed: it never got ready. */
  outcome: "stopped" | "crashed" | "failed";
  service?: string;
  exit?: ExitInfo;
  reason?: string;
  /** The Docker engine that stopped under the run (and took its containers with it). */
  engine?: string;
  lastLines?: string[];
}

/** What a state file holds when it is well formed; anything else counts as no state. */
export function isRunState(value: unknown): value is RunState {
  const v = value as RunState;
  return (
    v !== null &&
    typeof v === "object" &&
    v.version === 2 &&
    typeof v.runId === "string" &&
    isIdentity(v.supervisor) &&
    (v.mode === "foreground" || v.mode === "detached") &&
    (v.runtime === "native" || v.runtime === "docker") &&
    typeof v.startedAt === "string" &&
    typeof v.admin === "number" &&
    Array.isArray(v.listeners) &&
    Array.isArray(v.services) &&
    v.services.every((s) => typeof s?.name === "string" && (s.process === undefined || isIdentity(s.process))) &&
    Array.isArray(v.modules) &&
    typeof v.controlSocket === "string"
  );
}

/**
 * Reads a JSON file written by envoywasm and checks its shape. A missing
 * file is undefined; a bad one too, with a one-line warning through `warn`,
 * and it is removed (it sits in envoywasm's own .envoywasm/ folder), so it
 * is not warned about again.
 */
export async function readChecked<T>(file: string, check: (v: unknown) => v is T, warn?: (message: string) => void): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    if (check(value)) return value;
  } catch {
    // fall through
  }
  warn?.(`ignored ${file}: it is not a file this version of envoywasm wrote (treated as absent, and removed)`);
  await rm(file, { force: true });
  return undefined;
}

export function readState(file: string, warn?: (message: string) => void): Promise<RunState | undefined> {
  return readChecked(file, isRunState, warn);
}

export async function writeState(file: string, state: RunState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeState(file: string): Promise<void> {
  await rm(file, { force: true });
}

function isLastRun(value: unknown): value is LastRun {
  const v = value as LastRun;
  return v !== null && typeof v === "object" && typeof v.runId === "string" && typeof v.endedAt === "string" && ["stopped", "crashed", "failed"].includes(v.outcome);
}

export function readLastRun(file: string, warn?: (message: string) => void): Promise<LastRun | undefined> {
  return readChecked(file, isLastRun, warn);
}

export async function writeLastRun(file: string, lastRun: LastRun): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(lastRun, null, 2)}\n`);
}

export function supervisorAlive(state: RunState): boolean {
  return stillRunning(state.supervisor);
}

export function serviceAlive(service: ServiceRecord): boolean {
  return service.process !== undefined && stillRunning(service.process);
}

/**
 * Stops what a dead supervisor left: processes that still prove to be the
 * same ones, and the project's labelled containers. Returns what it stopped.
 */
export async function reapLeftovers(state: RunState, root: string, graceMs = 3000): Promise<string[]> {
  const stopped: string[] = [];
  const procs = state.services.filter((s) => s.process !== undefined);
  for (const s of procs) {
    if (signalIfOurs(s.process!, "SIGTERM")) stopped.push(`${s.name} (pid ${s.process!.pid})`);
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && procs.some(serviceAlive)) await new Promise((r) => setTimeout(r, 50));
  for (const s of procs) signalIfOurs(s.process!, "SIGKILL");
  if (state.runtime === "docker") {
    // An engine that does not answer throws (connectDocker's error): the caller keeps the state to try again.
    const { removeProjectContainers } = await import("../runtime/docker.js");
    stopped.push(...(await removeProjectContainers(root)));
  }
  // Its control socket (no other run of the project can be using it: this state is the latest).
  await rm(state.controlSocket, { force: true });
  return stopped;
}

/**
 * The project's run as the state file records it: its state when its
 * supervisor still lives; otherwise (a crash, a kill -9) what it left is
 * stopped (processes by identity, containers by label), its state file and
 * stale lock removed, and `leftovers` says what was stopped. Every command
 * that looks at a run goes through here, so nothing lingers after a crash.
 */
export async function liveRun(
  files: { runState: string; lock: string },
  root: string,
  warn?: (message: string) => void,
): Promise<{ state?: RunState; deadRun: boolean; leftovers: string[] }> {
  const state = await readState(files.runState, warn);
  if (state !== undefined && supervisorAlive(state)) return { state, deadRun: false, leftovers: [] };
  let leftovers: string[] = [];
  if (state !== undefined) {
    try {
      leftovers = await reapLeftovers(state, root);
      await removeState(files.runState);
    } catch (error) {
      // The state stays, so a later command removes them.
      warn?.(`${(error as Error).message}: the last run's containers are removed once it answers`);
    }
  }
  await removeStaleLock(files.lock);
  return { deadRun: state !== undefined, leftovers };
}
