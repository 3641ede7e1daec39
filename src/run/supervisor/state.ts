import { rm } from "node:fs/promises";
import * as v from "valibot";
import { ProcessIdentitySchema, signalIfOurs, stillRunning } from "../../platform/identity.js";
import { removeStaleLock } from "./lock.js";
import type { ExitInfo, ServiceRecord } from "../runtime/service.js";
import { writeFileAtomic } from "../../platform/files.js";
import { badRecord, readRecord, schemaOf } from "../../platform/records.js";
import { EnvoySchema, ListenerSchema, ModuleSchema } from "../plan.js";

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

/** run/runtime/service.ts declares these; the schemas must match them exactly. */
const ServiceRecordSchema = schemaOf<ServiceRecord>()(
  v.object({
    name: v.string(),
    ports: v.array(v.number()),
    process: v.optional(ProcessIdentitySchema),
    container: v.optional(v.object({ id: v.string(), name: v.string() })),
  }),
);
const SignalSchema = v.custom<NodeJS.Signals>((s) => typeof s === "string" && /^SIG[A-Z0-9]+$/.test(s), "a signal name such as SIGTERM");
const ExitInfoSchema = schemaOf<ExitInfo>()(v.object({ code: v.nullable(v.number()), signal: v.nullable(SignalSchema) }));

const ModeSchema = v.picklist(["foreground", "detached"]);
const RuntimeKindSchema = v.picklist(["native", "docker"]);

export const RunStateSchema = v.object({
  version: v.literal(2),
  runId: v.string(),
  supervisor: ProcessIdentitySchema,
  mode: ModeSchema,
  runtime: RuntimeKindSchema,
  startedAt: v.string(),
  readyAt: v.optional(v.string()),
  envoy: EnvoySchema,
  admin: v.number(),
  listeners: v.array(ListenerSchema),
  services: v.array(ServiceRecordSchema),
  /** The modules serving now, by plugin folder. */
  modules: v.array(ModuleSchema),
  watch: v.boolean(),
  /** The supervisor's control socket. */
  controlSocket: v.string(),
});
export type RunState = v.InferOutput<typeof RunStateSchema>;

export const LastRunSchema = v.object({
  runId: v.string(),
  startedAt: v.string(),
  endedAt: v.string(),
  mode: ModeSchema,
  runtime: RuntimeKindSchema,
  /** stopped: asked to (Ctrl-C, down); crashed: a service ended on its own; failed: it never got ready. */
  outcome: v.picklist(["stopped", "crashed", "failed"]),
  service: v.optional(v.string()),
  exit: v.optional(ExitInfoSchema),
  reason: v.optional(v.string()),
  /** The Docker engine that stopped under the run (and took its containers with it). */
  engine: v.optional(v.string()),
  lastLines: v.optional(v.array(v.string())),
});
export type LastRun = v.InferOutput<typeof LastRunSchema>;

/**
 * Reads a JSON file written by envoywasm, parsed by its schema. A missing
 * file is undefined; a bad one too, with a one-line warning through `warn`
 * (which field is wrong), and it is removed (it sits in envoywasm's own
 * .envoywasm/ folder), so it is not warned about again.
 */
export async function readChecked<S extends v.GenericSchema>(file: string, schema: S, warn?: (message: string) => void): Promise<v.InferOutput<S> | undefined> {
  const read = await readRecord(file, schema);
  if (read === undefined || read.ok) return read?.value;
  warn?.(`ignored ${badRecord(file, read.problem)} (treated as absent, and removed)`);
  await rm(file, { force: true }).catch(() => {});
  return undefined;
}

export function readState(file: string, warn?: (message: string) => void): Promise<RunState | undefined> {
  return readChecked(file, RunStateSchema, warn);
}

export async function writeState(file: string, state: RunState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeState(file: string): Promise<void> {
  await rm(file, { force: true });
}

export function readLastRun(file: string, warn?: (message: string) => void): Promise<LastRun | undefined> {
  return readChecked(file, LastRunSchema, warn);
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
